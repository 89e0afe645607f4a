"""Property tests of the contract's invariants (DESIGN §4), run against both engines.

Each test draws a config and a command sequence (``routing_model.scenarios``), drives a
router of the engine under test (``make``: ``check()`` after every mutating call) and
asserts its property after every call, through the public views and the events only.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyroute as pr
from routing_model import (
    PROPERTY_SETTINGS, STATES, Model, before_time, configs, counts, drive, eligible_with_room,
    operator_views, scenarios,
)


def no_anomalies(model: Model) -> None:
    assert not model.anomalies, model.anomalies


# ---------------------------------------------------------------------------- capacity

@PROPERTY_SETTINGS
@given(scenario=scenarios(kinds=("submit", "submit", "finish", "cancel", "status", "limit",
                                 "limit", "groups", "add", "remove", "advance")))
def test_capacity_never_exceeded(make, scenario):
    """No operator holds more than its limit. The one exception: ``set_limit`` lowered the
    limit below the load; such an operator gets no Assigned until its load is below the
    limit again (every assignment, timers' included, lands on a free slot)."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def before(router, model, cmd):
        return operator_views(router, model)

    def check(router, model, cmd, events, error, before_views):
        no_anomalies(model)
        after = operator_views(router, model)
        before_views = before_views or {}
        for op, load in model.assignments:
            if op in before_views and op in after:
                limit = before_views[op].limit
                if isinstance(cmd, pr.SetLimit) and cmd.operator == op:
                    # timers due by ``now`` fire first, under the old limit
                    limit = max(limit, after[op].limit)
            elif op in after:
                limit = after[op].limit            # added by this call
            else:
                limit = before_views[op].limit     # removed by this call
            assert load <= limit, (
                f"{cmd!r}: {op!r} got a conversation making its load {load} > limit {limit}")
        for op, view in after.items():
            assert view.load == len(model.held[op]) == len(view.active)
            if view.load > view.limit:
                lowered_now = isinstance(cmd, pr.SetLimit) and cmd.operator == op
                was_over = op in before_views and (
                    before_views[op].load > before_views[op].limit)
                assert lowered_now or was_over, (
                    f"{cmd!r}: {op!r} holds {view.load} with limit {view.limit}")
                if was_over and not lowered_now:
                    assert view.load <= before_views[op].load

    drive(router, model, commands, check, before=before)


# ---------------------------------------------------------------------------- conservation

@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_no_conversation_with_two_operators(make, scenario):
    """Each conversation is in at most one operator's ``active``, and the conversation's
    own view names that operator."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def check(router, model, cmd, events, error, _):
        views = operator_views(router, model)
        seen = counts(rid for v in views.values() for rid in v.active)
        twice = {rid: n for rid, n in seen.items() if n > 1}
        assert not twice, f"{cmd!r}: held more than once: {twice}"
        for op, v in views.items():
            for rid in v.active:
                rv = router.request(rid)
                assert (rv.state, rv.operator) == ("active", op), (cmd, rv)

    drive(router, model, commands, check)


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_work_conservation(make, scenario):
    """When a call returns, no queued conversation has an operator with room that could
    take it: online, in one of its eligible groups, load below limit."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def check(router, model, cmd, events, error, _):
        ops = operator_views(router, model)
        forgotten = model.forgotten()
        for rid in model.submit_index:
            if rid in forgotten:
                continue
            rv = router.request(rid)
            if rv.state != "queued":
                continue
            idle = [op for op, v in ops.items() if eligible_with_room(v, rv)]
            assert not idle, (
                f"after {cmd!r}: {rid!r} waits (eligible for {rv.eligible_groups}) while "
                f"{[ops[o] for o in idle]} have room")

    drive(router, model, commands, check)


@PROPERTY_SETTINGS
@given(scenario=scenarios(configs(policies=("even",))))
def test_even_takes_most_free_slots(make, scenario):
    """``even``: a submitted conversation goes to the eligible operator of the group with
    the most free slots; ties to the one assigned longest ago, then registration order."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def before(router, model, cmd):
        return operator_views(router, model), dict(model.last_assign), dict(model.reg)

    def check(router, model, cmd, events, error, snapshot):
        if not isinstance(cmd, pr.Submit) or error is not None:
            return
        mine = [e for e in events if isinstance(e, pr.Assigned) and e.request == cmd.request]
        if not mine:
            return
        a = mine[0]
        views, last_assign, reg = snapshot
        candidates = {op: v.limit - v.load for op, v in views.items()
                      if v.status == "online" and a.group in v.groups and v.load < v.limit}
        assert a.operator in candidates, (a, views)
        most = max(candidates.values())
        assert candidates[a.operator] == most, (
            f"{a!r}: {a.operator!r} has {candidates[a.operator]} free slots, "
            f"others have up to {most}: {candidates}")
        tied = [op for op, free in candidates.items() if free == most]
        expected = min(tied, key=lambda op: (last_assign[op], reg[op]))
        assert a.operator == expected, (a, tied, last_assign, reg)

    drive(router, model, commands, check, before=before, flush=True)


# ---------------------------------------------------------------------------- queue order

def head_key(router, model, config, rid, group):
    """The cross-queue order of §4 with aging 0: higher channel + request + group
    priority, then earlier arrival, then submission order (smaller is served first)."""
    rv = router.request(rid)
    ch = {c.name: c.priority for c in config.channels}[rv.channel]
    gp = {g.name: g.priority for g in config.groups}[group]
    return (-(ch + rv.priority + gp), rv.arrived_at, model.submit_index[rid])


@PROPERTY_SETTINGS
@given(scenario=scenarios(configs(aging=(0.0,), orders=("priority",)),
                          kinds=("submit",) * 4 + ("finish",) * 3 + ("cancel", "status", "limit",
                                                                "groups", "add", "advance")))
def test_queue_order(make, scenario):
    """``queue(g, c)`` lists exactly the waiting conversations of that channel eligible
    for g, by higher request priority, then arrival, then submission; ``queue(g)`` merges
    them in the cross-queue order; and a finish (or the cancel of an answered
    conversation) pulls into the freed slot the head of the best queue its operator
    serves."""
    config, commands = scenario
    router = make(config)
    model = Model(config)
    groups = [g.name for g in config.groups]
    channels = [c.name for c in config.channels]

    def before(router, model, cmd):
        if not isinstance(cmd, (pr.Finish, pr.Cancel)) or cmd.request not in model.holder:
            return None
        op = model.holder[cmd.request]
        view = router.operator(op)
        heads = [(head_key(router, model, config, q[0], g), q[0])
                 for g in view.groups for c in channels
                 for q in [router.queue(g, c)] if q]
        return op, view, min(heads) if heads else None

    def check(router, model, cmd, events, error, pulled):
        forgotten = model.forgotten()
        waiting = {rid: router.request(rid) for rid in model.submit_index
                   if rid not in forgotten}
        waiting = {rid: v for rid, v in waiting.items() if v.state == "queued"}
        for g in groups:
            merged = []
            for c in channels:
                q = router.queue(g, c)
                assert set(q) == {rid for rid, v in waiting.items()
                                  if v.channel == c and g in v.eligible_groups}, (g, c, q)
                keys = [(-waiting[rid].priority, waiting[rid].arrived_at,
                         model.submit_index[rid]) for rid in q]
                assert keys == sorted(keys), f"after {cmd!r}: queue({g!r}, {c!r}) = {q}"
                merged += q
            full = router.queue(g)
            assert sorted(map(repr, full)) == sorted(map(repr, merged))
            keys = [head_key(router, model, config, rid, g) for rid in full]
            assert keys == sorted(keys), f"after {cmd!r}: queue({g!r}) = {full}"
        if pulled is None or error is not None:
            return
        op, view, best = pulled
        assigned = [e for e in events if isinstance(e, pr.Assigned)]
        room = view.status == "online" and view.load - 1 < view.limit
        if room and best is not None:
            assert len(assigned) == 1, (cmd, events)
            assert (assigned[0].request, assigned[0].operator) == (best[1], op), (
                f"{cmd!r} freed a slot of {op!r}: expected the best head {best}, "
                f"got {assigned[0]!r}")
            assert head_key(router, model, config, best[1], assigned[0].group) == best[0]
        else:
            assert not assigned, (cmd, events)

    drive(router, model, commands, check, before=before, flush=True)


# ---------------------------------------------------------------------------- overflow

DUE = st.one_of(st.integers(0, 600).map(float),
                st.floats(0.0, 10_000.0, allow_nan=False, allow_infinity=False))
ARRIVAL = st.one_of(st.integers(0, 10**6).map(float),
                    st.floats(0.0, 1e7, allow_nan=False, allow_infinity=False))


@PROPERTY_SETTINGS
@given(arrival=ARRIVAL, afters=st.lists(DUE, min_size=1, max_size=3),
       staffed=st.none() | st.integers(0, 2), busy_home=st.booleans(), jump=st.booleans())
def test_overflow_starts_exactly_at_threshold(make, arrival, afters, staffed, busy_home,
                                              jump):
    """With ``Overflow(to=[t], after=s)``, a conversation waiting since ``arrival`` is not
    eligible for t at ``arrival + s`` minus the smallest epsilon and is at exactly
    ``arrival + s``; the Overflowed (and an Assigned it causes) carries the due time as
    ``at`` even when the clock jumps past it."""
    targets = [f"t{i}" for i in range(len(afters))]
    config = pr.RouterConfig(
        channels=[pr.Channel("web")],
        groups=[pr.Group("home", overflow=tuple(pr.Overflow(to=(t,), after=s)
                                                for t, s in zip(targets, afters)))]
        + [pr.Group(t) for t in targets])
    router = make(config)
    if busy_home:   # home has an operator, but he is busy
        router.add_operator("h", ["home"], 1, "online", now=arrival)
        assert isinstance(router.submit("busy", "web", "home", now=arrival)[-1], pr.Assigned)
    opener = None   # the target group with an operator waiting for the overflow
    if staffed is not None and staffed < len(targets):
        opener = targets[staffed]
        router.add_operator("s", [opener], 1, "online", now=arrival)
    dues = {t: arrival + s for t, s in zip(targets, afters)}
    # already due at submit: they fire as the home group's rules are evaluated, in rule
    # order; the others are timers, firing in order of due time (ties: rule order)
    at_submit = [t for t in targets if dues[t] <= arrival]
    later = sorted((t for t in targets if dues[t] > arrival),
                   key=lambda t: (dues[t], targets.index(t)))
    if opener in later:   # once it is assigned, the later rules never fire
        later = later[:later.index(opener) + 1]

    def expected(now):
        return ("home", *at_submit, *(t for t in later if dues[t] <= now))

    events = router.submit("x", "web", "home", now=arrival)
    view = router.request("x")
    assert view.eligible_groups == expected(arrival)
    if opener in at_submit:
        assert (view.state, view.operator) == ("active", "s")
        return
    assert view.state == "queued"
    assert events[-1] == pr.Queued("x", "home", "web", arrival, position=1)
    pending = later
    while pending:
        d = dues[pending[0]]
        b = before_time(d)
        events = router.advance(b)
        assert events == [], events
        view = router.request("x")
        assert (view.state, view.eligible_groups) == ("queued", expected(b))
        if jump:   # the clock jumps past every due time at once
            events = router.advance(max(dues.values()) + 1000.0)
            fired = pending
        else:
            events = router.advance(d)
            fired = [t for t in pending if dues[t] == d]
        overflows = [e for e in events if isinstance(e, pr.Overflowed)]
        assert overflows == [pr.Overflowed("x", "home", (t,), "after", dues[t]) for t in fired]
        view = router.request("x")
        if opener in fired:
            opened = dues[opener]
            assert [e for e in events if isinstance(e, pr.Assigned)] == [
                pr.Assigned("x", "s", opener, "web", opened, opened - arrival)]
            assert (view.state, view.operator) == ("active", "s")
            assert view.eligible_groups == expected(opened)
            return
        assert (view.state, view.eligible_groups) == ("queued", expected(dues[fired[-1]]))
        pending = pending[len(fired):]


# ---------------------------------------------------------------------------- states

@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_every_conversation_in_exactly_one_state(make, scenario):
    """Every submitted conversation is in exactly one state, the one its events say:
    queued (in the queues of exactly its eligible groups, held by nobody), active (held by
    exactly the operator of its last Assigned, in no queue), or ended (finished,
    cancelled, rejected: in no queue, held by nobody, still visible while ``history``
    keeps it). Operators' loads and ``active`` lists match the events too."""
    config, commands = scenario
    router = make(config)
    model = Model(config)
    groups = [g.name for g in config.groups]
    channels = [c.name for c in config.channels]

    def check(router, model, cmd, events, error, _):
        no_anomalies(model)
        in_queues: dict = {}
        for g in groups:
            for c in channels:
                for rid in router.queue(g, c):
                    in_queues.setdefault(rid, []).append((g, c))
        ops = operator_views(router, model)
        holders: dict = {}
        for op, v in ops.items():
            assert list(v.active) == model.held[op], (cmd, op, v, model.held[op])
            assert v.load == len(v.active)
            for rid in v.active:
                holders.setdefault(rid, []).append(op)
        forgotten = model.forgotten()
        for rid in model.submit_index:
            state = model.state.get(rid)
            assert state in STATES, (rid, state)
            if rid in forgotten:
                with pytest.raises(pr.UnknownId):
                    router.request(rid)
                continue
            rv = router.request(rid)
            assert rv.state == state, f"after {cmd!r}: {rid!r} is {rv.state}, events say {state}"
            if state == "queued":
                assert rv.operator is None and rid not in holders
                assert sorted(in_queues.get(rid, [])) == sorted(
                    (g, rv.channel) for g in rv.eligible_groups), (rid, rv, in_queues.get(rid))
            elif state == "active":
                assert rid not in in_queues
                assert holders.get(rid) == [model.holder[rid]] == [rv.operator], (
                    rid, rv, holders.get(rid))
            else:
                assert rid not in in_queues and rid not in holders
                assert rv.operator == model.final_operator[rid], (rid, rv)
        assert set(in_queues) <= set(model.submit_index)

    drive(router, model, commands, check)


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_stats_match_views(make, scenario):
    """``stats()`` (counters kept incrementally) says what the views and events say:
    waiting and in-progress conversations per channel, per group (through the group that
    assigned them) and in total; online operators and their free slots
    (``max(0, limit - load)``)."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def check(router, model, cmd, events, error, _):
        no_anomalies(model)
        stats = router.stats(now=cmd.now)     # scenario times never go backwards
        ops = operator_views(router, model)
        online = [v for v in ops.values() if v.status == "online"]
        free = sum(max(0, v.limit - v.load) for v in online)
        forgotten = model.forgotten()
        live = {rid: router.request(rid) for rid, state in model.state.items()
                if state in ("queued", "active") and rid not in forgotten}
        queued = [v for v in live.values() if v.state == "queued"]
        active = [v for v in live.values() if v.state == "active"]
        assert (stats.total.waiting, stats.total.in_progress, stats.total.online,
                stats.total.free_slots, stats.total.operators) == (
            len(queued), len(active), len(online), free, len(ops)), (cmd, stats.total)
        for c in config.channels:
            cs = stats.channels[c.name]
            assert (cs.waiting, cs.in_progress, cs.online, cs.free_slots) == (
                sum(v.channel == c.name for v in queued),
                sum(v.channel == c.name for v in active), len(online), free), (cmd, c.name, cs)
        for g in config.groups:
            gs = stats.groups[g.name]
            members = [v for v in online if g.name in v.groups]
            assert (gs.waiting, gs.in_progress, gs.online, gs.free_slots) == (
                len(router.queue(g.name)),
                sum(model.via[v.id] == g.name for v in active), len(members),
                sum(max(0, v.limit - v.load) for v in members)), (cmd, g.name, gs)

    drive(router, model, commands, check)


# ---------------------------------------------------------------------------- leaving

@PROPERTY_SETTINGS
@given(scenario=scenarios(kinds=("submit", "submit", "submit", "finish", "status", "status",
                                 "status", "remove", "remove", "add", "groups", "advance")))
def test_nothing_lost_when_operator_leaves(make, scenario):
    """Going away or offline without ``requeue`` keeps the operator's conversations with
    it. With ``requeue=True`` (status or ``remove_operator``) each of them is, by an event
    of that call, queued again or assigned to another operator; none is dropped."""
    config, commands = scenario
    router = make(config)
    model = Model(config)

    def before(router, model, cmd):
        if isinstance(cmd, (pr.SetStatus, pr.RemoveOperator)) and cmd.operator in model.ops:
            return router.operator(cmd.operator).active
        return None

    def check(router, model, cmd, events, error, held):
        if held is None:
            return
        op = cmd.operator
        if error is not None:
            assert isinstance(cmd, pr.RemoveOperator) and held and not cmd.requeue, error
            assert isinstance(error, pr.InvalidState)
            assert router.operator(op).active == held     # a failed call changed nothing
            return
        requeue = cmd.requeue and not (isinstance(cmd, pr.SetStatus) and cmd.status == "online")
        if not requeue and isinstance(cmd, pr.RemoveOperator):
            assert held == ()     # anything else raised InvalidState
            with pytest.raises(pr.UnknownId):
                router.operator(op)
            return
        if not requeue:
            kept = router.operator(op).active
            assert kept[:len(held)] == held, f"{cmd!r} lost {set(held) - set(kept)}"
            for rid in held:
                rv = router.request(rid)
                assert (rv.state, rv.operator) == ("active", op)
                assert not [e for e in events if getattr(e, "request", None) == rid]
            return
        if isinstance(cmd, pr.RemoveOperator):
            with pytest.raises(pr.UnknownId):
                router.operator(op)
        else:
            assert router.operator(op).active == ()
        for rid in held:
            mine = [e for e in events if isinstance(e, (pr.Queued, pr.Assigned))
                    and e.request == rid]
            assert len(mine) == 1, f"{cmd!r}: {rid!r} got {mine} (all events: {events})"
            rv = router.request(rid)
            if isinstance(mine[0], pr.Queued):
                assert rv.state == "queued" and rv.operator is None
                assert all(rid in router.queue(g) for g in rv.eligible_groups)
            else:
                assert mine[0].operator != op
                assert (rv.state, rv.operator) == ("active", mine[0].operator)
                assert rid in router.operator(mine[0].operator).active

    drive(router, model, commands, check, before=before, flush=True)
