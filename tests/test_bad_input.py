"""Garbage into every public entry point of both engines (cytoolz's ``test_none_safe``).

Each case runs on a router that already holds online, away and offline operators, active
and queued conversations, pending overflow timers and a history of finished, cancelled and
rejected conversations, so "a call that raises has changed nothing" means something: the
full canonical state (``router._state()``) must be equal before and after. The exception
class must be the documented one and its message must name the offending value or say
what to do.
"""

from __future__ import annotations

import enum
import math

import pytest

import pyroute as pr
from pyroute import reference

from conftest import Checked

NOW = 6.0   # the busy router's clock


def busy(factory):
    config = pr.RouterConfig(
        channels=[pr.Channel("web", priority=10, target_wait=30.0),
                  pr.Channel("email", target_wait=3600.0)],
        groups=[pr.Group("support", overflow=[pr.Overflow(to=["backup"], after=60.0)]),
                pr.Group("backup", policy="round_robin"),
                pr.Group("vip", hidden=True)])
    r = factory(config)
    r.add_operator("alice", ["support"], 2, status="online", now=0.0)
    r.add_operator("bob", ["support", "backup"], 1, status="online", now=0.0)
    r.add_operator("carol", ["backup"], 3, status="away", now=0.0)
    r.add_operator(7, ["support"], 1, now=0.0)                       # offline, int id
    r.submit("f1", "web", "support", now=0.5)                        # alice ...
    r.finish("f1", now=0.8)                                          # ... history: finished
    r.submit("x1", "web", "vip", now=0.9)                            # history: rejected
    r.submit("k1", "web", "support", now=0.95)                       # alice ...
    r.cancel("k1", now=0.99)                                         # ... history: cancelled
    r.submit("c1", "web", "support", now=1.0)                        # alice
    r.submit("c2", "email", "support", now=2.0)                      # bob
    r.submit("c3", "web", "support", now=3.0)                        # alice (full now)
    r.submit("q1", "web", "support", now=4.0)                        # queued, timer at 64
    r.submit(42, "email", "support", priority=2, now=5.0)            # queued, timer at 65
    r.submit("b1", "web", "backup", now=NOW)                         # queued, no timer
    return r


@pytest.fixture
def router(make):
    r = busy(make)
    state = r._state()
    # the fixture really is busy
    assert state["now"] == NOW
    assert len(state["timers"]) == 2
    assert [req[1] for req in state["requests"]] == ["active"] * 3 + ["queued"] * 3
    assert len(state["history"]) == 3
    return r


def raises_and_changes_nothing(r, call, exc, *fragments):
    before = r._state()
    with pytest.raises(exc) as ei:
        call(r)
    err = ei.value
    assert isinstance(err, pr.RoutingError)
    msg = str(err)
    assert msg.strip(), "empty message"
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    assert r._state() == before
    return err


# ------------------------------------------------------------------------------ ids

BAD_IDS = [None, 1.5, math.nan, True, False, ["c1"], ("c1",), b"c1", {"id": 1}, object]

ID_CALLS = {
    "submit": lambda r, x: r.submit(x, "web", "support", now=NOW),
    "finish": lambda r, x: r.finish(x, now=NOW),
    "cancel": lambda r, x: r.cancel(x, now=NOW),
    "request": lambda r, x: r.request(x),
    "add_operator": lambda r, x: r.add_operator(x, ["support"], 1, now=NOW),
    "remove_operator": lambda r, x: r.remove_operator(x, now=NOW),
    "set_status": lambda r, x: r.set_status(x, "online", now=NOW),
    "set_groups": lambda r, x: r.set_groups(x, ["support"], now=NOW),
    "set_limit": lambda r, x: r.set_limit(x, 1, now=NOW),
    "operator": lambda r, x: r.operator(x),
    "apply(Submit)": lambda r, x: r.apply(pr.Submit(request=x, channel="web", group="support",
                                                    now=NOW)),
    "apply(SetStatus)": lambda r, x: r.apply(pr.SetStatus(operator=x, status="away", now=NOW)),
}


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
@pytest.mark.parametrize("call", sorted(ID_CALLS))
def test_bad_id(router, call, value):
    err = raises_and_changes_nothing(router, lambda r: ID_CALLS[call](r, value),
                                     pr.InvalidArgument, "must be a str or an int",
                                     repr(value))
    assert isinstance(err, ValueError)


UNKNOWN = [
    ("finish", lambda r: r.finish("ghost", now=NOW), "conversation 'ghost'"),
    ("cancel", lambda r: r.cancel("ghost", now=NOW), "conversation 'ghost'"),
    ("request", lambda r: r.request("ghost"), "conversation 'ghost'"),
    ("request-int", lambda r: r.request(99), "conversation 99"),
    ("request-str-of-int", lambda r: r.request("42"), "conversation '42'"),
    ("request-operator-id", lambda r: r.request("alice"), "conversation 'alice'"),
    ("remove_operator", lambda r: r.remove_operator("ghost", now=NOW), "operator 'ghost'"),
    ("set_status", lambda r: r.set_status("ghost", "online", now=NOW), "operator 'ghost'"),
    ("set_groups", lambda r: r.set_groups("ghost", ["support"], now=NOW), "operator 'ghost'"),
    ("set_limit", lambda r: r.set_limit("ghost", 1, now=NOW), "operator 'ghost'"),
    ("operator", lambda r: r.operator("ghost"), "operator 'ghost'"),
    ("operator-str-of-int", lambda r: r.operator("7"), "operator '7'"),
    ("operator-request-id", lambda r: r.operator("c1"), "operator 'c1'"),
    ("submit-channel", lambda r: r.submit("n1", "fax", "support", now=NOW), "channel 'fax'"),
    ("submit-channel-none", lambda r: r.submit("n1", None, "support", now=NOW), "channel None"),
    ("submit-channel-int", lambda r: r.submit("n1", 0, "support", now=NOW), "channel 0"),
    ("submit-group", lambda r: r.submit("n1", "web", "nope", now=NOW), "group 'nope'"),
    ("submit-group-none", lambda r: r.submit("n1", "web", None, now=NOW), "group None"),
    ("submit-group-case", lambda r: r.submit("n1", "web", "Support", now=NOW),
     "group 'Support'"),
    ("queue", lambda r: r.queue("nope"), "group 'nope'"),
    ("queue-none", lambda r: r.queue(None), "group None"),
    ("queue-channel", lambda r: r.queue("support", "fax"), "channel 'fax'"),
    ("queue-channel-int", lambda r: r.queue("support", 1), "channel 1"),
    ("add_operator-group", lambda r: r.add_operator("new", ["support", "nope"], 1, now=NOW),
     "group 'nope'"),
    ("set_groups-group", lambda r: r.set_groups("alice", ["nope"], now=NOW), "group 'nope'"),
    ("apply(Finish)", lambda r: r.apply(pr.Finish(request="ghost", now=NOW)),
     "conversation 'ghost'"),
]


@pytest.mark.parametrize("call, fragment", [(c, f) for (_, c, f) in UNKNOWN],
                         ids=[i for (i, _, _) in UNKNOWN])
def test_unknown_id(router, call, fragment):
    err = raises_and_changes_nothing(router, call, pr.UnknownId, "unknown", fragment)
    assert isinstance(err, KeyError)


DUPLICATE = [
    ("active", lambda r: r.submit("c1", "web", "support", now=NOW), "'c1'"),
    ("queued", lambda r: r.submit("q1", "email", "backup", now=NOW), "'q1'"),
    ("queued-int", lambda r: r.submit(42, "web", "support", now=NOW), "42"),
    ("finished", lambda r: r.submit("f1", "web", "support", now=NOW), "'f1'"),
    ("cancelled", lambda r: r.submit("k1", "web", "support", now=NOW), "'k1'"),
    ("rejected", lambda r: r.submit("x1", "web", "support", now=NOW), "'x1'"),
    ("to-hidden", lambda r: r.submit("c1", "web", "vip", now=NOW), "'c1'"),
    ("operator-online", lambda r: r.add_operator("alice", ["backup"], 1, now=NOW), "'alice'"),
    ("operator-offline", lambda r: r.add_operator(7, [], 1, now=NOW), "7"),
    ("apply", lambda r: r.apply(pr.AddOperator(operator="bob", groups=(), limit=1, now=NOW)),
     "'bob'"),
]


@pytest.mark.parametrize("call, fragment", [(c, f) for (_, c, f) in DUPLICATE],
                         ids=[i for (i, _, _) in DUPLICATE])
def test_duplicate_id(router, call, fragment):
    raises_and_changes_nothing(router, call, pr.DuplicateId, fragment, "already exists")


def test_str_and_int_ids_are_different_ids(router):
    # not a duplicate: 42 (int) is taken, "42" is not; 7 (int) is an operator, "7" is not
    assert router.submit("42", "web", "backup", now=NOW) == [
        pr.Queued(request="42", group="backup", channel="web", at=NOW, position=2)]   # behind 42
    assert router.add_operator("7", [], 1, now=NOW) == []


# ------------------------------------------------------------------------------ time

BAD_TIMES = [
    ("backwards", 5.0, "earlier than"),
    ("backwards-int", 5, "earlier than"),
    ("backwards-tiny", NOW - 1e-9, "earlier than"),
    ("nan", math.nan, "finite"),
    ("inf", math.inf, "finite"),
    ("-inf", -math.inf, "finite"),
    ("str", "7.0", "'7.0'"),
    ("bool", True, "True"),
    ("list", [7.0], "[7.0]"),
    ("complex", 7j, "7j"),
]

TIME_CALLS = {
    "advance": lambda r, t: r.advance(t),
    "submit": lambda r, t: r.submit("n1", "web", "support", now=t),
    "submit-hidden": lambda r, t: r.submit("n1", "web", "vip", now=t),
    "finish": lambda r, t: r.finish("c1", now=t),
    "cancel-queued": lambda r, t: r.cancel("q1", now=t),
    "cancel-active": lambda r, t: r.cancel("c2", now=t),
    "add_operator": lambda r, t: r.add_operator("new", ["support"], 1, status="online", now=t),
    "remove_operator": lambda r, t: r.remove_operator(7, now=t),
    "remove_operator-requeue": lambda r, t: r.remove_operator("alice", now=t, requeue=True),
    "set_status": lambda r, t: r.set_status("carol", "online", now=t),
    "set_status-same": lambda r, t: r.set_status("alice", "online", now=t),
    "set_groups": lambda r, t: r.set_groups("carol", ["backup", "support"], now=t),
    "set_limit": lambda r, t: r.set_limit("alice", 3, now=t),
    "stats": lambda r, t: r.stats(now=t),
    "apply": lambda r, t: r.apply(pr.Advance(now=t)),
}


@pytest.mark.parametrize("t, fragment", [(t, f) for (_, t, f) in BAD_TIMES],
                         ids=[i for (i, _, _) in BAD_TIMES])
@pytest.mark.parametrize("call", sorted(TIME_CALLS))
def test_bad_time(router, call, t, fragment):
    err = raises_and_changes_nothing(router, lambda r: TIME_CALLS[call](r, t), pr.TimeError,
                                     fragment)
    assert isinstance(err, ValueError)


def test_time_is_checked_first(router):
    # ``now`` is read (and the clock called) before any id is looked up, so a clock that
    # calls back into the router cannot leave the call working on a stale handle
    raises_and_changes_nothing(router, lambda r: r.finish("q1", now=1.0), pr.TimeError,
                               "earlier than")
    raises_and_changes_nothing(router, lambda r: r.submit(None, "nope", "nope", now=1.0),
                               pr.TimeError, "earlier than")


def test_a_clock_that_calls_back_into_the_router(engine):
    router = engine(pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")],
                                    history=0), clock=lambda: clock())
    router.add_operator("a", ["g"], 1, status="online", now=0.0)
    router.submit("x", "web", "g", now=1.0)
    calls = []

    def clock():
        if not calls:
            calls.append(router.finish("x", now=2.0))
        return 3.0

    # the clock finished "x" first: the outer finish then sees it ended, and says so
    with pytest.raises(pr.UnknownId):
        router.finish("x")
    assert calls == [[pr.Finished(request="x", operator="a", at=2.0)]]
    router.check()
    assert router.operator("a").load == 0
    assert router.submit("y", "web", "g", now=4.0) == [
        pr.Assigned(request="y", operator="a", group="g", channel="web", at=4.0, waited=0.0)]
    router.check()


def test_a_refused_time_does_not_move_the_clock(router):
    with pytest.raises(pr.TimeError):
        router.advance(1e9 * math.inf)
    with pytest.raises(pr.TimeError):
        router.submit("n1", "web", "support", now=math.nan)
    # the last accepted time still counts: NOW is fine, earlier is not
    assert router.advance(NOW) == []
    with pytest.raises(pr.TimeError, match="earlier than"):
        router.advance(NOW - 0.5)


@pytest.mark.parametrize("engine_cls", [
    pytest.param(pr.Router, id="native"),
    pytest.param(reference.Router, id="reference"),
])
@pytest.mark.parametrize("call", ["advance", "submit", "stats"])
def test_time_as_an_int_too_big_for_a_float(engine_cls, call):
    r = busy(lambda config: Checked(engine_cls(config)))
    raises_and_changes_nothing(r, lambda r: TIME_CALLS[call](r, 10**400), pr.TimeError,
                               "now must be finite")


@pytest.mark.parametrize("clock_value, fragment", [
    ("soon", "'soon'"), (math.nan, "finite"), (None, "None"), (1.0, "earlier than")])
def test_clock_returning_garbage(make, clock_value, fragment):
    r = busy(lambda config: make(config, clock=lambda: clock_value))
    raises_and_changes_nothing(r, lambda r: r.advance(), pr.TimeError, fragment)
    raises_and_changes_nothing(r, lambda r: r.submit("n1", "web", "support"), pr.TimeError,
                               fragment)


# ------------------------------------------------------------------------------ states

INVALID_STATE = [
    ("finish-queued", lambda r: r.finish("q1", now=NOW), ("'q1'", "still queued")),
    ("finish-queued-int", lambda r: r.finish(42, now=NOW), ("42", "still queued")),
    ("finish-finished", lambda r: r.finish("f1", now=NOW), ("'f1'", "already finished")),
    ("cancel-finished", lambda r: r.cancel("f1", now=NOW), ("'f1'", "already finished")),
    ("finish-cancelled", lambda r: r.finish("k1", now=NOW), ("'k1'", "already cancelled")),
    ("cancel-cancelled", lambda r: r.cancel("k1", now=NOW), ("'k1'", "already cancelled")),
    ("finish-rejected", lambda r: r.finish("x1", now=NOW), ("'x1'", "already rejected")),
    ("cancel-rejected", lambda r: r.cancel("x1", now=NOW), ("'x1'", "already rejected")),
    ("remove-holding", lambda r: r.remove_operator("alice", now=NOW),
     ("'alice'", "2 conversation", "requeue=True")),
    ("remove-holding-explicit", lambda r: r.remove_operator("bob", now=NOW, requeue=False),
     ("'bob'", "requeue=True")),
    # the state at now is what counts (nothing is due at NOW)
    ("apply(Finish)", lambda r: r.apply(pr.Finish(request="q1", now=NOW)), ("still queued",)),
]


@pytest.mark.parametrize("call, fragments", [(c, f) for (_, c, f) in INVALID_STATE],
                         ids=[i for (i, _, _) in INVALID_STATE])
def test_invalid_state(router, call, fragments):
    raises_and_changes_nothing(router, call, pr.InvalidState, *fragments)


def test_finish_accepted_when_a_timer_due_before_now_assigned_it(router):
    # q1's overflow timer (due 64) hands it to carol in backup: a call at 100 is checked
    # against the state at 100, and tells the overflow first
    router.set_status("carol", "online", now=NOW)
    out = router.finish("q1", now=100.0)
    assert [(type(e).__name__, e.request, e.at) for e in out] == [
        ("Overflowed", "q1", 64.0), ("Assigned", "q1", 64.0),
        ("Overflowed", 42, 65.0), ("Assigned", 42, 65.0), ("Finished", "q1", 100.0)]
    assert router.request("q1").state == "finished"


def test_a_refused_call_still_fires_what_was_due_and_holds_the_events(router):
    # q1's and 42's overflows are due at 64 and 65: a refused call at 100 fires them (the
    # clock stops at 65),
    # and the next accepted call returns its events first
    router.set_status("carol", "online", now=NOW)
    with pytest.raises(pr.UnknownId):
        router.finish("ghost", now=100.0)
    assert router.now == 65.0
    assert router.request("q1").state == "active"
    out = router.advance(now=70.0)
    assert [type(e).__name__ for e in out] == ["Overflowed", "Assigned"] * 2
    assert router.advance(now=70.0) == []


# ------------------------------------------------------------------------------ arguments

BAD_LIMITS = [(-1, "-1"), (True, "True"), (False, "False"), (1.5, "1.5"), (2.0, "2.0"),
              ("3", "'3'"), (None, "None"), (10**6 + 1, "1000001"), (10**30, str(10**30))]


@pytest.mark.parametrize("limit, fragment", BAD_LIMITS, ids=[repr(v) for v, _ in BAD_LIMITS])
@pytest.mark.parametrize("call", ["add_operator", "set_limit", "apply(SetLimit)"])
def test_bad_limit(router, call, limit, fragment):
    calls = {
        "add_operator": lambda r: r.add_operator("new", ["support"], limit, status="online",
                                                 now=NOW),
        "set_limit": lambda r: r.set_limit("alice", limit, now=NOW),
        "apply(SetLimit)": lambda r: r.apply(pr.SetLimit(operator="carol", limit=limit,
                                                         now=NOW)),
    }
    raises_and_changes_nothing(router, calls[call], pr.InvalidArgument, "limit", fragment)


BAD_STATUSES = ["busy", "ONLINE", "Online", "", None, 2, True, ["online"]]


@pytest.mark.parametrize("status", BAD_STATUSES, ids=repr)
@pytest.mark.parametrize("call", ["add_operator", "set_status", "apply(SetStatus)"])
def test_unknown_status(router, call, status):
    calls = {
        "add_operator": lambda r: r.add_operator("new", ["support"], 1, status=status, now=NOW),
        "set_status": lambda r: r.set_status("alice", status, now=NOW),
        "apply(SetStatus)": lambda r: r.apply(pr.SetStatus(operator="bob", status=status,
                                                           now=NOW)),
    }
    raises_and_changes_nothing(router, calls[call], pr.InvalidArgument, "status", repr(status),
                               "'online'")


BAD_GROUPS = [
    ("str", "support", "must be a list"),
    ("none", None, "must be a list"),
    ("set", {"support"}, "must be a list"),
    ("iterator", iter(["support"]), "must be a list"),
    ("int-name", ["support", 1], "group names are str"),
    ("none-name", [None], "group names are str"),
    ("duplicate", ["support", "backup", "support"], "'support' is listed twice"),
]


@pytest.mark.parametrize("groups, fragment", [(g, f) for (_, g, f) in BAD_GROUPS],
                         ids=[i for (i, _, _) in BAD_GROUPS])
@pytest.mark.parametrize("call", ["add_operator", "set_groups"])
def test_bad_groups(router, call, groups, fragment):
    calls = {
        "add_operator": lambda r: r.add_operator("new", groups, 1, status="online", now=NOW),
        "set_groups": lambda r: r.set_groups("carol", groups, now=NOW),
    }
    raises_and_changes_nothing(router, calls[call], pr.InvalidArgument, fragment)


@pytest.mark.parametrize("requeue", ["yes", 1, 0, None, [True]], ids=repr)
@pytest.mark.parametrize("call", ["set_status", "remove_operator", "remove_operator-idle",
                                  "apply(RemoveOperator)"])
def test_requeue_not_a_bool(router, call, requeue):
    calls = {
        "set_status": lambda r: r.set_status("alice", "away", now=NOW, requeue=requeue),
        "remove_operator": lambda r: r.remove_operator("alice", now=NOW, requeue=requeue),
        "remove_operator-idle": lambda r: r.remove_operator(7, now=NOW, requeue=requeue),
        "apply(RemoveOperator)": lambda r: r.apply(pr.RemoveOperator(
            operator="bob", requeue=requeue, now=NOW)),
    }
    raises_and_changes_nothing(router, calls[call], pr.InvalidArgument, "requeue",
                               "True or False", repr(requeue))


BAD_SUBMIT_ARGS = [
    ("priority-float", dict(priority=1.5), ("priority", "1.5")),
    ("priority-bool", dict(priority=True), ("priority", "True")),
    ("priority-str", dict(priority="high"), ("priority", "'high'")),
    ("priority-none", dict(priority=None), ("priority", "None")),
    ("priority-too-big", dict(priority=10**6 + 1), ("priority", "1000001")),
    ("priority-too-small", dict(priority=-10**6 - 1), ("priority", "-1000001")),
    ("visitor-float", dict(visitor=1.5), ("visitor", "1.5")),
    ("visitor-bool", dict(visitor=False), ("visitor", "False")),
    ("visitor-list", dict(visitor=["v"]), ("visitor", "['v']")),
]


@pytest.mark.parametrize("kw, fragments", [(k, f) for (_, k, f) in BAD_SUBMIT_ARGS],
                         ids=[i for (i, _, _) in BAD_SUBMIT_ARGS])
@pytest.mark.parametrize("group", ["support", "vip"])
def test_bad_submit_arguments(router, group, kw, fragments):
    raises_and_changes_nothing(
        router, lambda r: r.submit("n1", "web", group, now=NOW, **kw), pr.InvalidArgument,
        *fragments)
    cmd = pr.Submit(request="n1", channel="web", group=group, now=NOW, **kw)
    raises_and_changes_nothing(router, lambda r: r.apply(cmd), pr.InvalidArgument, *fragments)


BAD_HOT_COMMANDS = [
    (pr.Submit(request="n1", channel=None, group="support", now=NOW), pr.UnknownId, "channel"),
    (pr.Submit(request="n1", channel="web", group="support", priority=2.5, now=NOW),
     pr.InvalidArgument, "priority"),
    (pr.Submit(request="f1", channel="web", group="support", now=NOW), pr.DuplicateId, "f1"),
    (pr.Finish(request=3.5, now=NOW), pr.InvalidArgument, "conversation"),
    (pr.Finish(request="nobody", now=NOW), pr.UnknownId, "nobody"),
    (pr.Finish(request="f1", now=NOW - 1.0), pr.TimeError, "now"),
    (pr.Cancel(request="nobody", now=NOW), pr.UnknownId, "nobody"),
    (pr.Cancel(request="x1", now=NOW), pr.InvalidState, "rejected"),
]


@pytest.mark.parametrize("cmd, error, fragment", BAD_HOT_COMMANDS,
                         ids=lambda x: type(x).__name__)
def test_bad_submit_finish_cancel_in_a_batch(make, router, cmd, error, fragment):
    """apply_many reads Submit, Finish and Cancel fields its own way (bindings/fields.pyx):
    a bad field, given after a good command, fails the batch like the method call would,
    with the same error, and leaves the state as the good command made it."""
    good = pr.Advance(now=NOW)
    twin = busy(make)
    twin.apply(good)
    with pytest.raises(pr.BatchError) as ei:
        router.apply_many([good, cmd])
    err = ei.value
    assert err.index == 1 and isinstance(err.error, error), err
    assert fragment in str(err.error)
    assert router._state() == twin._state()


class _MySubmit(pr.Submit, frozen=True, kw_only=True):
    """A subclass of Submit: not one of the command structs."""


def test_apply_many_refuses_a_command_subclass(router):
    cmd = _MySubmit(request="n1", channel="web", group="support", now=NOW)
    err = raises_and_changes_nothing(router, lambda r: r.apply_many([cmd]), pr.BatchError,
                                     "command 0", "command struct", "_MySubmit")
    assert isinstance(err.error, pr.InvalidArgument)


# ------------------------------------------------------------------------------ commands

NOT_COMMANDS = [None, "Advance", {"type": "Advance", "now": 7.0}, pr.Advance, 3,
                pr.Queued(request="q9", group="support", channel="web", at=7.0, position=1),
                (pr.Advance(now=7.0),)]


@pytest.mark.parametrize("cmd", NOT_COMMANDS, ids=lambda c: type(c).__name__)
def test_apply_with_a_non_command(router, cmd):
    err = raises_and_changes_nothing(router, lambda r: r.apply(cmd), pr.InvalidArgument,
                                     "command struct", type(cmd).__name__)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("cmd", NOT_COMMANDS, ids=lambda c: type(c).__name__)
def test_apply_many_with_a_non_command_first(router, cmd):
    err = raises_and_changes_nothing(router, lambda r: r.apply_many([cmd, pr.Advance(now=99.0)]),
                                     pr.BatchError, "command 0", "command struct")
    assert err.index == 0 and err.events == []
    assert isinstance(err.error, pr.InvalidArgument)
    assert err.__cause__ is err.error


def test_apply_many_failure_keeps_the_prefix_only(make, router):
    twin = busy(make)
    twin.advance(64.5)
    twin.stats(65.0)      # the refused submit at 65 is checked at 65: 42's timer has fired
    with pytest.raises(pr.BatchError) as ei:
        router.apply_many([pr.Advance(now=64.5),
                           pr.Submit(request="c1", channel="web", group="support", now=65.0),
                           pr.Advance(now=1000.0)])
    err = ei.value
    assert err.index == 1 and isinstance(err.error, pr.DuplicateId)
    # q1's timer (due 64) fired in the applied prefix; 42's (due 65) fired before the
    # refused submit was checked, and its events wait for the next call
    assert err.events == [pr.Overflowed(request="q1", group="support", to=("backup",),
                                        reason="after", at=64.0)]
    assert router._state() == twin._state()
    assert [type(e).__name__ for e in router.advance(65.0)] == ["Overflowed"]


@pytest.mark.parametrize("cmds", [None, 5, pr.Advance(now=7.0)], ids=["None", "int", "command"])
def test_apply_many_with_a_non_iterable(router, cmds):
    raises_and_changes_nothing(router, lambda r: r.apply_many(cmds), pr.InvalidArgument)


# ------------------------------------------------------------------------------ constructor

@pytest.mark.parametrize("engine_cls", [
    pytest.param(pr.Router, id="native"),
    pytest.param(reference.Router, id="reference"),
])
@pytest.mark.parametrize("clock", [3, None, "time.monotonic"], ids=repr)
def test_clock_must_be_callable(engine_cls, clock):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    with pytest.raises(pr.InvalidArgument, match="clock must be callable"):
        engine_cls(config, clock=clock)


# ------------------------------------------------------------------------------ str subclasses

class Channel(str, enum.Enum):
    WEB = "web"


class Group(str, enum.Enum):
    SUPPORT = "support"


@pytest.mark.parametrize("engine_cls", [pytest.param(pr.Router, id="native"),
                                        pytest.param(reference.Router, id="reference")])
@pytest.mark.parametrize("channel, group", [(Channel.WEB, "support"), ("web", Group.SUPPORT)],
                         ids=["channel-enum", "group-enum"])
def test_submit_accepts_str_subclass_names(engine_cls, channel, group):
    # a str Enum is a str: every entry point that takes a name accepts it (the native
    # submit once compared type(name) is str and called it unknown)
    r = Checked(engine_cls(pr.RouterConfig(channels=[pr.Channel("web")],
                                           groups=[pr.Group("support")])))
    r.add_operator("alice", [Group.SUPPORT], 1, status="online", now=0.0)
    assert r.queue(Group.SUPPORT, Channel.WEB) == []
    assert r.submit("c1", channel, group, now=1.0) == [
        pr.Assigned(request="c1", operator="alice", group="support", channel="web", at=1.0,
                    waited=0.0)]


# ------------------------------------------------------------------------------ edges that are fine

def test_the_edges_of_every_range_are_accepted(router):
    big = 2**100
    assert router.add_operator(big, [], 10**6, status="online", now=NOW) == []
    assert router.set_limit(big, 0, now=NOW) == []
    assert router.set_groups(big, ("backup",), now=NOW) == []     # a tuple is a list too
    ev = router.submit("", "email", "backup", priority=10**6, visitor=-1, now=7)
    ev += router.submit(-3, "email", "backup", priority=-10**6, visitor="v", now=7)
    assert ev == [pr.Queued(request="", group="backup", channel="email", at=7.0, position=1),
                  pr.Queued(request=-3, group="backup", channel="email", at=7.0, position=2)]
    assert all(type(e.at) is float for e in ev)        # an int now becomes a float time
    assert router.queue("backup", "email") == ["", -3]
    # priority 10**6 on email outranks web (10); -10**6 comes last
    assert router.set_limit(big, 10**6, now=7.0) == [
        pr.Assigned(request="", operator=big, group="backup", channel="email", at=7.0,
                    waited=0.0),
        pr.Assigned(request="b1", operator=big, group="backup", channel="web", at=7.0,
                    waited=1.0),
        pr.Assigned(request=-3, operator=big, group="backup", channel="email", at=7.0,
                    waited=0.0)]
    assert router.operator(big).load == 3


def test_a_fresh_router_accepts_any_finite_time(make):
    r = make(pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")]))
    assert r.advance(-1e300) == []
    assert r.submit("c1", "web", "g", now=-5) == [
        pr.Queued(request="c1", group="g", channel="web", at=-5.0, position=1)]
    assert r.cancel("c1", now=-5.0) == [
        pr.Cancelled(request="c1", at=-5.0, waited=0.0, early=True)]
