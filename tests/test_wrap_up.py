"""Wrap-up after a finish (Channel.wrap_up, Group.wrap_up), on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor(channel_wrap=10.0, **group):
    return cfg(pr.Group("support", **group), pr.Group("other"),
               channels=[pr.Channel("web", wrap_up=channel_wrap), pr.Channel("email")])


def test_slot_stays_taken_until_the_wrap_up_ends(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    assert r.finish("c1", now=5.0) == [pr.Finished(request="c1", operator="alice", at=5.0)]
    assert r.operator("alice") == pr.OperatorView("alice", "online", 1, 1, ("support",), (), 1)
    assert r.advance(now=14.9) == []
    assert r.advance(now=15.0) == [
        pr.Assigned(request="c2", operator="alice", group="support", channel="web", at=15.0,
                    waited=13.0)]
    assert r.operator("alice").wrap_up == 0


def test_an_operator_in_wrap_up_keeps_its_other_slots(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 3, status="online", now=0.0)
    r.add_operator("bob", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)                 # alice (most free slots)
    r.finish("c1", now=2.0)                                   # alice wraps up one slot until 12
    assert r.stats(now=2.0).groups["support"].free_slots == 3  # alice's two and bob's
    assert r.submit("c2", "email", "support", now=3.0)[0].operator == "alice"
    assert r.submit("c3", "email", "support", now=4.0)[0].operator == "bob"
    assert r.submit("c4", "email", "support", now=5.0)[0].operator == "alice"
    assert r.submit("c5", "email", "support", now=6.0) == [
        pr.Queued(request="c5", group="support", channel="email", at=6.0, position=1)]
    # at 12 alice's wrap-up slot is free again
    assert r.advance(now=12.0)[0] == pr.Assigned(
        request="c5", operator="alice", group="support", channel="email", at=12.0, waited=6.0)


def test_group_overrides_the_channel(make):
    r = make(floor(channel_wrap=10.0, wrap_up=0.0))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    assert r.finish("c1", now=3.0)[1].request == "c2"         # no wrap-up through support
    r2 = make(floor(channel_wrap=0.0, wrap_up=30.0))
    r2.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r2.submit("c1", "email", "support", now=1.0)
    r2.submit("c2", "email", "support", now=2.0)
    assert len(r2.finish("c1", now=3.0)) == 1
    assert r2.advance(now=33.0)[0].request == "c2"


def test_a_cancel_has_no_wrap_up(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    events = r.cancel("c1", now=30.0)
    assert events[1] == pr.Assigned(request="c2", operator="alice", group="support",
                                    channel="web", at=30.0, waited=28.0)


def test_removal_and_status_during_wrap_up(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.finish("c1", now=2.0)
    # wrap-up is not a conversation: removing needs no requeue, and the timer is harmless
    assert r.remove_operator("alice", now=3.0) == []
    assert r.advance(now=20.0) == []
    r.add_operator("bob", ["support"], 1, status="online", now=21.0)
    r.submit("c2", "web", "support", now=22.0)
    r.finish("c2", now=23.0)
    r.set_status("bob", "away", now=24.0)
    r.submit("c3", "web", "support", now=25.0)
    assert r.advance(now=40.0) == []                          # wrap-up over, bob away
    assert r.operator("bob").load == 0
    assert r.set_status("bob", "online", now=41.0)[1].request == "c3"


def test_bad_wrap_up_is_a_config_error(engine):
    with pytest.raises(pr.ConfigError, match="wrap_up"):
        engine({"channels": [{"name": "web", "wrap_up": -1}], "groups": [{"name": "g"}]})
    with pytest.raises(pr.ConfigError, match="wrap_up"):
        engine({"channels": [{"name": "web"}], "groups": [{"name": "g", "wrap_up": "long"}]})
