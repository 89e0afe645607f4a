"""Capacity per channel: Channel(cost=k | "all") and add_operator(channel_limits=...),
on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor(**web):
    return cfg(pr.Group("support"),
               channels=[pr.Channel("chat"), pr.Channel("email"),
                         pr.Channel("call", cost="all"), pr.Channel("video", cost=2)])


def test_cost_takes_several_slots(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 3, status="online", now=0.0)
    r.submit("v1", "video", "support", now=1.0)
    assert r.operator("alice").load == 2
    r.submit("v2", "video", "support", now=2.0)          # needs 2, only 1 free: waits
    assert r.request("v2").state == "queued"
    assert r.request("v2").reserved == "alice"            # alice drains for it
    # a later chat would fit the free slot, but ranks below v2: alice is held for v2
    assert r.submit("c1", "chat", "support", now=3.0)[0].request == "c1"
    assert r.request("c1").state == "queued"
    events = r.finish("v1", now=4.0)                      # frees 2: v2 fits, then c1
    assert [e.request for e in events if isinstance(e, pr.Assigned)] == ["v2", "c1"]
    assert r.operator("alice").load == 3


def test_a_call_takes_all_slots_and_needs_them_all(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 5, status="online", now=0.0)
    r.submit("c1", "chat", "support", now=1.0)
    assert r.submit("k1", "call", "support", now=2.0) == [
        pr.Queued(request="k1", group="support", channel="call", at=2.0, position=1)]
    # the call waits for a completely free operator; alice, reserved for it, gets no
    # later chat meanwhile (blending)
    assert r.operator("alice").reserved_for == "k1"
    assert r.submit("c2", "chat", "support", now=3.0)[0] == pr.Queued(
        request="c2", group="support", channel="chat", at=3.0, position=1)
    events = r.finish("c1", now=4.0)
    assert events[-1] == pr.Assigned(request="k1", operator="alice", group="support",
                                     channel="call", at=4.0, waited=2.0)
    assert r.operator("alice").load == 5
    assert r.submit("c3", "chat", "support", now=6.0)[0] == pr.Queued(
        request="c3", group="support", channel="chat", at=6.0, position=2)   # behind c2
    assert r.finish("k1", now=7.0)[1].request == "c2"    # the chats flow again


def test_channel_limits(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 5, status="online", now=0.0,
                   channel_limits={"email": 1})
    r.add_operator("bob", ["support"], 1, status="online", now=0.0)
    assert r.operator("alice").channel_limits == {"email": 1}
    assert r.submit("e1", "email", "support", now=1.0)[0].operator == "alice"
    assert r.submit("e2", "email", "support", now=2.0)[0].operator == "bob"
    assert r.submit("e3", "email", "support", now=3.0)[0] == pr.Queued(
        request="e3", group="support", channel="email", at=3.0, position=1)
    # alice has 4 free slots but her email cap is reached: chat still goes to her
    assert r.submit("c1", "chat", "support", now=4.0)[0].operator == "alice"
    r.finish("e1", now=5.0)
    assert r.request("e3").operator == "alice"


def test_zero_cap_means_never_that_channel(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 5, status="online", now=0.0,
                   channel_limits={"call": 0})
    assert r.submit("k1", "call", "support", now=1.0)[0].channel == "call"
    assert r.request("k1").state == "queued"
    assert r.apply(pr.AddOperator(operator="bob", groups=("support",), limit=2,
                                  status="online", channel_limits={"chat": 3},
                                  now=2.0))[0].operator == "bob"


def test_wrap_up_holds_the_cost(make):
    r = make(cfg(pr.Group("support"),
                 channels=[pr.Channel("video", cost=2, wrap_up=10.0), pr.Channel("chat")]))
    r.add_operator("alice", ["support"], 3, status="online", now=0.0)
    r.submit("v1", "video", "support", now=0.0)
    r.finish("v1", now=1.0)
    assert (r.operator("alice").load, r.operator("alice").wrap_up) == (2, 2)
    r.advance(now=11.0)
    assert r.operator("alice").load == 0


@pytest.mark.parametrize("limits, exc, fragment", [
    ({"fax": 1}, pr.UnknownId, "fax"),
    ({"email": -1}, pr.InvalidArgument, "between 0"),
    ({"email": 1.5}, pr.InvalidArgument, "channel_limits"),
    ({"email": True}, pr.InvalidArgument, "channel_limits"),
    (["email"], pr.InvalidArgument, "dict"),
    ({1: 2}, pr.UnknownId, "1"),
])
def test_bad_channel_limits_change_nothing(make, limits, exc, fragment):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "chat", "support", now=1.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        r.add_operator("bob", ["support"], 2, now=2.0, channel_limits=limits)
    assert r._state() == before


@pytest.mark.parametrize("cost", [0, -1, 1001, "half", 1.5])
def test_bad_cost_is_a_config_error(engine, cost):
    with pytest.raises(pr.ConfigError, match="cost"):
        engine({"channels": [{"name": "web", "cost": cost}], "groups": [{"name": "g"}]})
