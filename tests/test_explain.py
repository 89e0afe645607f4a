"""``router.explain(id)``: the last routing decision of a conversation, on both engines.

Scenarios check each rule the explanation can name; a seeded random stream checks that
explanations agree with the state after every command (what is queued was explained as
queued with no eligible candidate; what an operator holds was explained as going to that
operator, and a push decision chose the best key of its group) and that asking for
explanations changes no event.
"""

from __future__ import annotations

import random

import pytest

import pyroute as pr
from pyroute import reference
from workload import CommandStream, random_config


def cfg(**group):
    return pr.RouterConfig(
        channels=[pr.Channel("web", target_wait=30.0), pr.Channel("email", priority=-1)],
        groups=[pr.Group("first", overflow=[pr.Overflow(to=["second"], after=60.0)], **group),
                pr.Group("second"), pr.Group("hidden", hidden=True)])


@pytest.fixture
def xmake(engine):
    def factory(config, **kw):
        router = engine(config, explain=True, **kw)
        router.check()
        return router
    return factory


def online(router, op, groups=("first",), limit=2, now=0.0, **kw):
    router.add_operator(op, groups=list(groups), limit=limit, status="online", now=now, **kw)


def verdicts(e):
    return {(c.operator, c.group): c.verdict for c in e.candidates}


def test_off_by_default(engine):
    router = engine(cfg())
    online(router, "a")
    router.submit("c1", "web", "first", now=1.0)
    with pytest.raises(pr.InvalidState, match="explain=True"):
        router.explain("c1")


@pytest.mark.parametrize("bad", [None, 1.5, True, [], {}, b"x"])
def test_bad_ids(xmake, bad):
    router = xmake(cfg())
    with pytest.raises(pr.InvalidArgument):
        router.explain(bad)


def test_unknown_id(xmake):
    router = xmake(cfg())
    with pytest.raises(pr.UnknownId):
        router.explain("nobody")


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_explain_flag_must_be_bool(engine, bad):
    with pytest.raises(pr.InvalidArgument, match="explain"):
        engine(cfg(), explain=bad)


def test_policy_and_tie_breaks(xmake):
    router = xmake(cfg())
    online(router, "a")
    online(router, "b")
    router.submit("c1", "web", "first", now=1.0)
    e = router.explain("c1")
    assert (e.decision, e.operator, e.group, e.step, e.policy) == ("assigned", "a", "first", 0, "even")
    assert e.rule == "tie_break_registration"          # both 2 free, neither ever assigned
    assert verdicts(e) == {("a", "first"): "chosen", ("b", "first"): "eligible"}
    router.submit("c2", "web", "first", now=2.0)
    assert router.explain("c2").rule == "policy"       # b has 2 free, a 1
    assert router.explain("c2").operator == "b"
    router.submit("c3", "web", "first", now=3.0)
    e = router.explain("c3")                           # 1 free each; a assigned longer ago
    assert (e.operator, e.rule) == ("a", "tie_break_last_assignment")
    assert "policy even" in e.reason and "'a'" in e.reason


def test_only_candidate_and_reasons_for_the_others(xmake):
    router = xmake(cfg())
    online(router, "full", limit=1)
    router.submit("c0", "web", "first", now=0.5)
    online(router, "capped", channel_limits={"web": 0}, now=0.5)
    router.add_operator("off", groups=["first"], limit=2, now=0.5)
    router.add_operator("away", groups=["first"], limit=2, status="away", now=0.5)
    online(router, "x", now=0.5)
    router.submit("c1", "web", "first", now=1.0)
    e = router.explain("c1")
    assert e.rule == "only_candidate" and e.operator == "x"
    assert verdicts(e) == {("full", "first"): "full", ("capped", "first"): "channel_limit",
                           ("off", "first"): "offline", ("away", "first"): "away",
                           ("x", "first"): "chosen"}
    full = next(c for c in e.candidates if c.operator == "full")
    assert full.free_slots == 0 and "1/1" in full.detail


def test_queued_then_overflow_step(xmake):
    router = xmake(cfg())
    online(router, "a", limit=1)
    router.add_operator("s", groups=["second"], limit=1, status="online", now=0.0)
    router.submit("c1", "web", "first", now=1.0)
    router.submit("c2", "web", "first", now=2.0)
    e = router.explain("c2")
    assert (e.decision, e.rule, e.operator) == ("queued", "no_eligible_operator", None)
    assert e.eligible_groups == ("first",)
    assert verdicts(e) == {("a", "first"): "full"}
    router.advance(now=62.0)
    e = router.explain("c2")
    assert (e.decision, e.operator, e.group, e.step, e.at) == ("assigned", "s", "second", 1, 62.0)
    assert e.eligible_groups == ("first", "second")
    assert "overflow step 1" in e.reason


def test_pulled_when_a_slot_frees(xmake):
    router = xmake(cfg())
    online(router, "a", limit=1)
    router.submit("c1", "web", "first", now=1.0)
    router.submit("c2", "web", "first", now=2.0)
    router.finish("c1", now=5.0)
    e = router.explain("c2")
    assert (e.decision, e.rule, e.operator, e.at) == ("assigned", "pulled", "a", 5.0)


def test_offers_declines_and_wrap_up(xmake):
    router = xmake(pr.RouterConfig(
        channels=[pr.Channel("web", wrap_up=10.0)],
        groups=[pr.Group("first", accept_timeout=30.0)]))
    online(router, "a", limit=1)
    online(router, "b", limit=1)
    router.submit("c1", "web", "first", now=1.0)
    assert router.explain("c1").decision == "offered"
    router.decline("c1", now=2.0)
    e = router.explain("c1")
    assert (e.decision, e.operator) == ("offered", "b")
    assert verdicts(e)[("a", "first")] == "declined"
    router.accept("c1", now=3.0)
    router.finish("c1", now=4.0)
    router.submit("c2", "web", "first", now=5.0)
    e = router.explain("c2")
    assert (e.decision, e.operator, e.rule) == ("offered", "a", "only_candidate")
    assert verdicts(e) == {("a", "first"): "chosen", ("b", "first"): "wrap_up"}


def test_preferred_reserved_and_transfer(xmake):
    router = xmake(cfg())
    online(router, "a", limit=1)
    online(router, "b", limit=1)
    router.submit("c0", "web", "first", now=0.5, prefer="a")
    assert router.explain("c0").rule == "preferred"
    router.submit("c1", "web", "first", now=1.0, prefer="a", prefer_for=20.0)
    e = router.explain("c1")
    assert (e.decision, e.rule) == ("queued", "reserved")
    assert verdicts(e)[("b", "first")] == "reserved"
    router.advance(now=21.0)
    assert router.explain("c1").operator == "b"
    router.finish("c0", now=22.0)
    router.transfer("c1", operator="a", now=23.0)
    e = router.explain("c1")
    assert (e.operator, e.rule) == ("a", "preferred")


def test_skills_relax_and_tiers(xmake):
    router = xmake(pr.RouterConfig(
        channels=[pr.Channel("web")],
        groups=[pr.Group("first", level_step=10.0,
                         relax=[pr.Relax(after=30.0, drop=["billing"])])]))
    online(router, "junior", skills={"en": 3}, levels={"first": 2})
    online(router, "expert", skills={"en": 1, "billing": 1}, limit=1)
    router.submit("c0", "web", "first", now=0.0, skills={"en": 1})
    router.submit("c1", "web", "first", now=0.0, skills={"en": 2, "billing": 1})
    e = router.explain("c1")
    assert e.decision == "queued"
    assert verdicts(e) == {("junior", "first"): "tier", ("expert", "first"): "full"}
    router.advance(now=10.0)
    e = router.explain("c1")
    assert e.decision == "queued"   # the tier came due but junior still lacks billing
    router.advance(now=30.0)
    e = router.explain("c1")
    assert (e.operator, e.relaxed) == ("junior", ("billing",))


def test_rejected(xmake):
    router = xmake(pr.RouterConfig(channels=[pr.Channel("web")],
                                   groups=[pr.Group("first", max_queue=0),
                                           pr.Group("hidden", hidden=True)]))
    router.ban("troll", now=0.0)
    router.submit("c1", "web", "first", visitor="troll", now=1.0)
    router.submit("c2", "web", "hidden", now=1.0)
    router.submit("c3", "web", "first", now=1.0)
    assert [router.explain(c).rule for c in ("c1", "c2", "c3")] == [
        "banned", "hidden", "overloaded"]
    assert router.explain("c1").decision == "rejected"


def test_history_bounds_explanations(engine):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")], history=1)
    router = engine(config, explain=True)
    router.add_operator("a", groups=["g"], limit=1, status="online", now=0.0)
    for i in range(3):
        router.submit(i, "web", "g", now=float(i))
        router.finish(i, now=float(i) + 0.5)
    assert router.explain(2).operator == "a"
    for gone in (0, 1):
        with pytest.raises(pr.UnknownId):
            router.explain(gone)
    assert len(router._explained if engine is reference.Router else router._mirror._explained) == 1


def test_batch_error_mirrors_the_applied_prefix():
    router = pr.Router(cfg(), explain=True)
    online(router, "a")
    cmds = [pr.Submit(request="c1", channel="web", group="first", now=1.0),
            pr.Finish(request="nope", now=2.0),
            pr.Submit(request="c2", channel="web", group="first", now=3.0)]
    with pytest.raises(pr.BatchError):
        router.apply_many(cmds)
    assert router._state() == router._mirror._state()
    assert router.explain("c1").operator == "a"
    with pytest.raises(pr.UnknownId):
        router.explain("c2")


def test_clock_values_reach_the_mirror():
    ticks = iter(float(i) for i in range(100))
    router = pr.Router(cfg(), clock=lambda: next(ticks), explain=True)
    online(router, "a", limit=1)
    router.submit("c1", "web", "first")
    router.submit("c2", "web", "first")
    router.finish("c1")
    assert router._state() == router._mirror._state()
    assert router.explain("c2").at == router.request("c2").arrived_at + 1.0


def check_explanations(router, explained) -> None:
    """Every live conversation's explanation agrees with its state."""
    for rid in list(explained):
        try:
            view = router.request(rid)
        except pr.UnknownId:
            continue
        e = router.explain(rid)
        if view.state == "queued":
            assert e.decision == "queued", (rid, e)
            assert not any(c.verdict in ("chosen", "eligible") for c in e.candidates), e
        elif view.state in ("offered", "active"):
            assert e.decision in ("assigned", "offered") and e.operator == view.operator, e
            chosen = [c for c in e.candidates if c.verdict == "chosen"]
            assert len(chosen) == 1 and chosen[0].group == e.group, e
            assert e.eligible_groups[e.step] == e.group
        elif view.state == "rejected":
            assert e.decision == "rejected"


@pytest.mark.parametrize("seed", range(40))
def test_random_streams(seed):
    """Explanations on (native with its mirror) agree with the state after every command,
    and a router that explains emits exactly the events of one that does not."""
    rng = random.Random(seed)
    config = random_config(rng)
    stream = CommandStream(config, rng)
    plain = pr.Router(config)
    router = pr.Router(config, explain=True)
    seen: list = []
    for _ in range(300):
        cmd = stream.next()
        results = []
        for r in (plain, router):
            try:
                results.append(r.apply(cmd))
            except pr.RoutingError as e:
                results.append(type(e))
        assert results[0] == results[1], (seed, cmd)
        stream.observe(results[1] if isinstance(results[1], list) else None)
        if isinstance(cmd, pr.Submit) and isinstance(results[1], list):
            seen.append(cmd.request)
        check_explanations(router, seen)
    assert router._state() == router._mirror._state() == plain._state()


@pytest.mark.parametrize("seed", range(6))
def test_next_timer_agrees_and_bounds_advance(seed):
    """``next_timer()`` is the same on both engines after every command, and advancing to
    just before it fires nothing."""
    rng = random.Random(seed)
    config = random_config(rng)
    stream = CommandStream(config, rng)
    native, ref = pr.Router(config), reference.Router(config)
    for _ in range(300):
        cmd = stream.next()
        for r in (native, ref):
            try:
                r.apply(cmd)
            except pr.RoutingError:
                pass
        nt = native.next_timer()
        assert nt == ref.next_timer()
        if nt is not None and nt > stream.now + 1e-6 and rng.random() < 0.2:
            before = native.next_timer()
            t = (stream.now + nt) / 2
            out = native.advance(now=t)
            assert out == ref.advance(now=t)
            # only what a refused command fired and held: nothing due after stream.now
            assert all(e.at <= stream.now for e in out)
            assert native.next_timer() == before
            stream.now = t


def pick_stream(seed: int) -> list:
    """``pick`` is the same on both engines after every command, and a plain submit
    (no skills, no preference) to a group whose queues are empty goes to the picked
    operator."""
    rng = random.Random(seed)
    config = random_config(rng)
    stream = CommandStream(config, rng)
    native, ref = pr.Router(config), reference.Router(config)
    groups = [g.name for g in config.groups]
    channels = [c.name for c in config.channels]
    checked: list = []
    for i in range(250):
        cmd = stream.next()
        for r in (native, ref):
            try:
                r.apply(cmd)
            except pr.RoutingError:
                pass
        ops = list(ref._ops)
        for g in groups:
            for c in channels:
                ex = rng.choice(ops + [None, None]) if ops else None
                assert native.pick(g, c, ex) == ref.pick(g, c, ex), (seed, i, g, c, ex)
        g, c = rng.choice(groups), rng.choice(channels)
        picked = native.pick(g, c)
        if (picked is not None and not config.groups[groups.index(g)].hidden
                and native.queue(g) == [] and native.accepting(g, c, now=stream.now)
                and (native.next_timer() or float("inf")) > stream.now):
            events = native.submit(f"probe{i}", c, g, now=stream.now)
            assigned = [e for e in events if isinstance(e, (pr.Assigned, pr.Offered))
                        and e.request == f"probe{i}"]
            ref.submit(f"probe{i}", c, g, now=stream.now)
            checked.append(i)
            assert assigned and assigned[0].operator == picked, (seed, i, events)
    return checked


@pytest.mark.parametrize("seed", range(10))
def test_pick_agrees_between_engines_and_with_submit(seed):
    pick_stream(seed)


def test_pick_predicts_submits_on_some_seeds():
    """The submit-comparison branch above does run (on these seeds at least 10 times)."""
    assert sum(len(pick_stream(s)) for s in range(10)) >= 10


def test_pick_bad_input(engine):
    router = engine(cfg())
    for args in (("nope", "web"), ("first", "fax"), (None, "web"), ("first", None)):
        with pytest.raises(pr.UnknownId):
            router.pick(*args)
    with pytest.raises(pr.InvalidArgument):
        router.pick("first", "web", exclude=1.5)
    assert router.pick("first", "web", exclude="ghost") is None
