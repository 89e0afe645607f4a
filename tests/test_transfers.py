"""Transfers, lines and escalation, bots (issue 3, item 4), on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor():
    return cfg(pr.Group("bots", line=0, escalate_to="first"),
               pr.Group("first", line=1, escalate_to="billing"),
               pr.Group("billing", line=2, hidden=True, transfer_timeout=30.0))


def staff(r):
    r.add_operator("bot", ["bots"], 1000, status="online", kind="bot", now=0.0)
    r.add_operator("alice", ["first"], 1, status="online", now=0.0)
    r.add_operator("bob", ["billing"], 1, status="online", now=0.0)
    r.add_operator("carol", ["billing"], 1, status="online", now=0.0)


def test_bot_answers_first_then_escalation_up_the_lines(make):
    r = make(floor())
    staff(r)
    assert r.operator("bot").kind == "bot"
    assert r.submit("c1", "web", "bots", now=0.0)[0].operator == "bot"
    assert r.escalate("c1", now=10.0) == [
        pr.Transferred(request="c1", at=10.0, from_operator="bot", group="first",
                       operator=None, escalated=True),
        pr.Assigned(request="c1", operator="alice", group="first", channel="web", at=10.0,
                    waited=0.0)]   # its 10 s with the bot were not waiting
    # the conversation keeps its arrival time and its new home group
    v = r.request("c1")
    assert (v.group, v.arrived_at, v.eligible_groups) == ("first", 0.0, ("first",))
    assert r.operator("bot").load == 0
    assert r.escalate("c1", now=20.0)[1].operator == "bob"       # into the hidden group
    with pytest.raises(pr.InvalidState, match="last line"):
        r.escalate("c1", now=21.0)


def test_transfer_to_a_group_or_a_queue(make):
    r = make(floor())
    staff(r)
    r.submit("x", "web", "first", now=0.0)                       # alice busy
    r.submit("c1", "web", "first", now=1.0)                      # waits in first
    assert r.transfer("c1", group="billing", now=2.0) == [
        pr.Transferred(request="c1", at=2.0, from_operator=None, group="billing",
                       operator=None, escalated=False),
        pr.Assigned(request="c1", operator="bob", group="billing", channel="web", at=2.0,
                    waited=1.0)]
    assert r.queue("first") == []


def test_transfer_to_a_busy_operator_stays_with_the_sender_then_fails(make):
    r = make(floor())
    staff(r)
    r.transfer(r.submit("y", "web", "first", now=0.0)[0].request, group="billing", now=0.0)
    assert r.operator("bob").active == ("y",)
    r.submit("c1", "web", "first", now=1.0)                      # alice
    assert r.transfer("c1", operator="bob", now=2.0) == []       # bob is full: c1 stays
    v = r.request("c1")
    assert (v.state, v.operator, v.transfer_to) == ("active", "alice", "bob")
    assert r.operator("alice").active == ("c1",)
    # carol is free, but the transfer named bob; after billing's transfer_timeout (30 s)
    # alice is told, and still has the customer
    assert r.advance(now=32.0) == [
        pr.TransferFailed(request="c1", at=32.0, operator="bob", from_operator="alice",
                          reason="timeout")]
    v = r.request("c1")
    assert (v.state, v.operator, v.transfer_to) == ("active", "alice", None)


def test_transfer_to_a_free_operator_goes_at_once(make):
    r = make(floor())
    staff(r)
    r.submit("c1", "web", "first", now=0.0)
    assert r.transfer("c1", operator="carol", now=1.0)[1] == pr.Assigned(
        request="c1", operator="carol", group="billing", channel="web", at=1.0, waited=0.0)


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.transfer("c1", now=5.0), pr.InvalidArgument, "exactly one"),
    (lambda r: r.transfer("c1", group="first", operator="bob", now=5.0), pr.InvalidArgument,
     "exactly one"),
    (lambda r: r.transfer("c1", group="nope", now=5.0), pr.UnknownId, "nope"),
    (lambda r: r.transfer("c1", operator="ghost", now=5.0), pr.UnknownId, "ghost"),
    (lambda r: r.transfer("c1", operator="dave", now=5.0), pr.InvalidState, "offline"),
    (lambda r: r.transfer("c1", operator="alice", now=5.0), pr.InvalidState, "already"),
    (lambda r: r.transfer("zz", group="first", now=5.0), pr.UnknownId, "zz"),
    (lambda r: r.escalate("b1", now=5.0), pr.InvalidState, "last line"),
    (lambda r: r.transfer("c1", group="first", now=1.0), pr.TimeError, "earlier"),
    (lambda r: r.transfer("c1", operator="bob", now=5.0, if_busy="never"), pr.InvalidArgument,
     "if_busy"),
    (lambda r: r.transfer("c1", operator="bob", now=5.0, if_busy="refuse"), pr.InvalidState,
     "full"),
])
def test_bad_transfers_change_nothing(make, call, exc, fragment):
    r = make(floor())
    staff(r)
    r.add_operator("dave", ["first"], 1, now=0.0)
    r.submit("c1", "web", "first", now=1.0)                       # alice
    r.transfer(r.submit("b1", "web", "first", now=2.0)[0].request, group="billing", now=2.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before


def test_bad_kind_and_escalate_config(engine):
    r = engine(floor())
    with pytest.raises(pr.InvalidArgument, match="kind"):
        r.add_operator("x", ["first"], 1, kind="robot", now=0.0)
    with pytest.raises(pr.ConfigError, match="escalate_to"):
        engine({"channels": [{"name": "web"}], "groups": [{"name": "g", "escalate_to": "h"}]})
    with pytest.raises(pr.ConfigError, match="itself"):
        engine({"channels": [{"name": "web"}], "groups": [{"name": "g", "escalate_to": "g"}]})
    with pytest.raises(pr.ConfigError, match="line"):
        engine({"channels": [{"name": "web"}], "groups": [{"name": "g", "line": 4}]})
