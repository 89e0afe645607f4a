"""Retention steps (Channel.retention -> RetentionDue), on both engines."""

from __future__ import annotations

import random

import pytest

import pyroute as pr
from conftest import cfg
from workload import CommandStream, random_config

STEPS = (pr.Retention(after=30.0, action="hold_message"),
         pr.Retention(after=90.0, action="offer_callback"))


def floor(**kw):
    return cfg(pr.Group("support", **kw), pr.Group("vip"),
               channels=[pr.Channel("web", retention=STEPS), pr.Channel("email")])


def test_steps_fire_once_each_while_waiting(make):
    r = make(floor())
    r.submit("c1", "web", "support", now=0.0)
    assert r.advance(now=29.9) == []
    assert r.advance(now=30.0) == [pr.RetentionDue(request="c1", action="hold_message",
                                                   at=30.0)]
    assert r.advance(now=89.0) == []
    # a later call fires the step with its own due time
    assert r.submit("c2", "email", "support", now=100.0) == [
        pr.RetentionDue(request="c1", action="offer_callback", at=90.0),
        pr.Queued(request="c2", group="support", channel="email", at=100.0, position=1)]
    assert r.advance(now=1000.0) == []          # email has no steps; c1's are done


def test_none_after_the_answer_until_it_waits_again(make):
    r = make(floor())
    r.submit("c1", "web", "support", now=0.0)
    r.advance(now=30.0)
    r.add_operator("alice", ["support"], 1, status="online", now=40.0)
    assert r.operator("alice").active == ("c1",)
    assert r.advance(now=200.0) == []
    # requeued after its answer: it waits again, and the steps start again from 210
    r.set_status("alice", "offline", requeue=True, now=210.0)
    assert r.request("c1").state == "queued"
    assert r.advance(now=1000.0) == [
        pr.RetentionDue(request="c1", action="hold_message", at=240.0),
        pr.RetentionDue(request="c1", action="offer_callback", at=300.0)]


def test_cancelled_or_rejected_get_none(make):
    r = make(floor(max_queue=1))
    r.submit("c1", "web", "support", now=0.0)
    assert r.submit("c2", "web", "support", now=1.0)[0].reason == "overloaded"
    r.cancel("c1", now=10.0)
    assert r.advance(now=500.0) == []


def test_overflow_keeps_the_steps(make):
    r = make(floor(overflow=[pr.Overflow(to=["vip"], after=10.0)]))
    r.submit("c1", "web", "support", now=0.0)
    assert r.advance(now=35.0) == [
        pr.Overflowed(request="c1", group="support", to=("vip",), reason="after", at=10.0),
        pr.RetentionDue(request="c1", action="hold_message", at=30.0)]


def test_equal_due_times_fire_in_the_order_they_were_set(make):
    r = make(cfg(pr.Group("support", overflow=[pr.Overflow(to=["vip"], after=30.0)]),
                 pr.Group("vip"), channels=[pr.Channel("web", retention=STEPS)]))
    r.submit("c1", "web", "support", now=0.0)
    assert r.advance(now=30.0) == [
        pr.Overflowed(request="c1", group="support", to=("vip",), reason="after", at=30.0),
        pr.RetentionDue(request="c1", action="hold_message", at=30.0)]


@pytest.mark.parametrize("bad, fragment", [
    ({"after": 30.0, "action": "send_flowers"}, "expected one of"),
    ({"after": 0.0, "action": "hold_message"}, "after"),
    ({"after": -5.0, "action": "hold_message"}, "after"),
    ({"action": "hold_message"}, "after"),
    ({"after": 30.0, "action": "hold_message", "text": "hi"}, "text"),
])
def test_bad_retention_is_a_config_error(engine, bad, fragment):
    raw = {"channels": [{"name": "web", "retention": [bad]}], "groups": [{"name": "g"}]}
    with pytest.raises(pr.ConfigError, match=fragment):
        engine(raw)


def test_random_streams_emit_retention():
    # the differential suites run these streams; make sure they exercise retention
    seen = 0
    for seed in range(30):
        rng = random.Random(seed)
        config = random_config(rng)
        router = pr.Router(config)
        stream = CommandStream(config, rng)
        for _ in range(200):
            try:
                seen += sum(isinstance(e, pr.RetentionDue) for e in router.apply(stream.next()))
            except pr.RoutingError:
                pass
    assert seen > 0
