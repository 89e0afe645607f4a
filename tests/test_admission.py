"""Admission control and bans (Group.max_queue, accepting, ban/unban/bans), on both engines."""

from __future__ import annotations

import math
import random

import pytest

import pyroute as pr
from pyroute import reference
from workload import CommandStream, random_config, run_both

from conftest import cfg


def floor(**kw):
    return cfg(pr.Group("support", **kw), pr.Group("vip"), pr.Group("billing", hidden=True))


def test_max_queue_rejects_when_the_queue_is_full(make):
    r = make(floor(max_queue=2))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.add_operator("vera", ["vip"], 1, status="online", now=0.0)
    r.submit("x", "web", "support", now=0.5)                     # alice is busy
    assert r.accepting("support", "web", now=0.5)
    assert r.submit("c1", "web", "support", now=1.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=1.0, position=1)]
    assert r.accepting("support", "web", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    assert not r.accepting("support", "web", now=2.0)
    assert r.accepting("support", "email", now=2.0)   # each channel's queue has the limit
    assert r.accepting("vip", "web", now=2.0)
    assert r.submit("c3", "web", "support", now=3.0) == [
        pr.Rejected(request="c3", at=3.0, reason="overloaded")]
    assert r.request("c3").state == "rejected"
    with pytest.raises(pr.DuplicateId):
        r.submit("c3", "web", "support", now=4.0)
    # another operator takes one: room again
    r.add_operator("bob", ["support"], 1, status="online", now=5.0)
    assert r.accepting("support", "web", now=5.0)
    # c4 waits behind c2; the queue's one service start (c1, after 4 s of queue with
    # one, then two members: 1x1 + 2x3 = 7 member-seconds, 2 more since) gives
    # r = 1 x 2 members / 9 = 2/9 per second: two turns, 9 s
    assert r.submit("c4", "web", "support", now=6.0) == [
        pr.Queued(request="c4", group="support", channel="web", at=6.0, position=2,
                  expected_wait=9.0)]


def test_max_queue_zero_admits_only_what_is_answered_at_once(make):
    r = make(floor(max_queue=0))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    assert r.accepting("support", "web", now=0.0)
    assert r.submit("c1", "web", "support", now=1.0)[0].operator == "alice"
    # alice is full: the next one would have to wait, and max_queue=0 lets nobody wait
    assert not r.accepting("support", "web", now=1.0)
    assert r.submit("c2", "web", "support", now=2.0) == [
        pr.Rejected(request="c2", at=2.0, reason="overloaded")]
    r.finish("c1", now=3.0)
    assert r.accepting("support", "web", now=3.0)
    assert r.submit("c3", "web", "support", now=4.0)[0].operator == "alice"


def test_timers_fire_before_admission(make):
    # c1 overflows to vip at 61 and vip's operator takes it: the queue is empty again
    r = make(cfg(pr.Group("support", max_queue=1,
                          overflow=[pr.Overflow(to=["vip"], after=60.0)]), pr.Group("vip")))
    r.add_operator("bob", ["vip"], 1, status="online", now=0.0)
    r.submit("x", "web", "vip", now=0.5)                         # bob is full
    r.submit("c1", "web", "support", now=1.0)
    r.finish("x", now=2.0)                                       # bob is free again
    assert not r.accepting("support", "web", now=30.0)
    events = r.submit("c2", "web", "support", now=61.0)
    assert events == [
        pr.Overflowed(request="c1", group="support", to=("vip",), reason="after", at=61.0),
        pr.Assigned(request="c1", operator="bob", group="vip", channel="web", at=61.0,
                    waited=60.0),
        pr.Queued(request="c2", group="support", channel="web", at=61.0, position=1)]


def test_hidden_group_never_accepts(make):
    r = make(floor())
    assert not r.accepting("billing", "web", now=0.0)
    assert r.submit("c1", "web", "billing", now=1.0) == [
        pr.Rejected(request="c1", at=1.0, reason="hidden")]


def test_banned_visitor_is_rejected_until_the_ban_ends(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 5, status="online", now=0.0)
    assert r.ban("troll", until=100.0, reason="spam", now=1.0) == []
    assert r.bans(now=1.0) == [pr.BanView(visitor="troll", since=1.0, until=100.0,
                                          reason="spam")]
    assert not r.accepting("support", "web", now=2.0, visitor="troll")
    assert r.accepting("support", "web", now=2.0, visitor="friend")
    assert r.submit("c1", "web", "support", visitor="troll", now=2.0) == [
        pr.Rejected(request="c1", at=2.0, reason="banned")]
    assert r.submit("c2", "web", "support", visitor="friend", now=3.0)[0].operator == "alice"
    assert r.operator("alice").load == 1
    # just before the end still banned, at the end no longer
    assert r.submit("c3", "web", "support", visitor="troll", now=math.nextafter(100.0, 0))[
        0].reason == "banned"
    assert r.accepting("support", "web", now=100.0, visitor="troll")
    assert r.bans(now=100.0) == []
    assert r.submit("c4", "web", "support", visitor="troll", now=100.0)[0].operator == "alice"


def test_ban_without_end_until_lifted_and_banning_again_replaces(make):
    r = make(floor())
    r.ban(42, now=0.0)
    r.ban("b", reason="rude", now=1.0)
    r.ban(42, until=50.0, reason="again", now=2.0)
    assert r.bans(now=3.0) == [pr.BanView("b", 1.0, None, "rude"),
                               pr.BanView(42, 2.0, 50.0, "again")]
    assert r.unban("b", now=4.0) == []
    assert r.bans(now=4.0) == [pr.BanView(42, 2.0, 50.0, "again")]
    assert r.submit("c1", "web", "support", visitor="b", now=5.0)[0] == pr.Queued(
        request="c1", group="support", channel="web", at=5.0, position=1)
    with pytest.raises(pr.UnknownId, match="not banned"):
        r.unban("b", now=6.0)
    with pytest.raises(pr.UnknownId, match="not banned"):
        r.unban(42, now=50.0)        # expired
    assert r.apply(pr.Ban(visitor="z", now=7.0)) == []
    assert r.apply_many([pr.Unban(visitor="z", now=8.0)]) == []


def test_ban_fires_due_timers(make):
    r = make(cfg(pr.Group("support", overflow=[pr.Overflow(to=["vip"], after=10.0)]),
                 pr.Group("vip")))
    r.submit("c1", "web", "support", now=0.0)
    assert r.ban("v", now=20.0) == [
        pr.Overflowed(request="c1", group="support", to=("vip",), reason="after", at=10.0)]


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.ban(None, now=10.0), pr.InvalidArgument, "needs a visitor"),
    (lambda r: r.ban(1.5, now=10.0), pr.InvalidArgument, "visitor"),
    (lambda r: r.ban("v", until=10.0, now=10.0), pr.InvalidArgument, "later than now"),
    (lambda r: r.ban("v", until=5.0, now=10.0), pr.InvalidArgument, "later than now"),
    (lambda r: r.ban("v", until=math.nan, now=10.0), pr.InvalidArgument, "finite"),
    (lambda r: r.ban("v", until=math.inf, now=10.0), pr.InvalidArgument, "leave it out"),
    (lambda r: r.ban("v", until="soon", now=10.0), pr.InvalidArgument, "until"),
    (lambda r: r.ban("v", reason=None, now=10.0), pr.InvalidArgument, "reason"),
    (lambda r: r.ban("v", now=10.0, cancel_waiting=1), pr.InvalidArgument, "cancel_waiting"),
    (lambda r: r.ban("v", now=1.0), pr.TimeError, "earlier"),
    (lambda r: r.unban("nobody", now=10.0), pr.UnknownId, "not banned"),
    (lambda r: r.unban(None, now=10.0), pr.InvalidArgument, "visitor"),
    (lambda r: r.accepting("nope", "web", now=10.0), pr.UnknownId, "nope"),
    (lambda r: r.accepting("support", "fax", now=10.0), pr.UnknownId, "fax"),
    (lambda r: r.accepting("support", "web", now=10.0, visitor=[1]), pr.InvalidArgument,
     "visitor"),
    (lambda r: r.accepting("support", "web", now=1.0), pr.TimeError, "earlier"),
    (lambda r: r.bans(now=math.nan), pr.TimeError, "finite"),
])
def test_bad_input_changes_nothing(make, call, exc, fragment):
    r = make(floor(max_queue=3, overflow=[pr.Overflow(to=["vip"], after=100.0)]))
    r.add_operator("alice", ["vip"], 1, status="online", now=0.0)
    r.ban("troll", until=500.0, now=1.0)
    r.submit("c1", "web", "support", now=2.0)
    r.advance(now=10.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before


def test_max_queue_in_config_is_checked():
    with pytest.raises(pr.ConfigError, match=r"max_queue"):
        pr.RouterConfig.from_json(
            b'{"channels":[{"name":"web"}],"groups":[{"name":"g","max_queue":-1}]}')


@pytest.mark.parametrize("seed", range(20))
def test_both_engines_agree_on_admission(seed):
    rng = random.Random(10_000 + seed)
    config = random_config(rng)
    native, ref = pr.Router(config), reference.Router(config)
    stream = CommandStream(config, rng)
    names = [g.name for g in config.groups]
    for step in range(250):
        cmd = stream.next()
        (e1, x1), (e2, x2) = run_both(native, ref, cmd)
        assert (e1, x1) == (e2, x2), f"seed {seed} step {step}: {cmd}"
        now = stream.now
        for g in names:
            for c in config.channels:
                for v in (None, "v1", 3):
                    assert native.accepting(g, c.name, now=now, visitor=v) == \
                        ref.accepting(g, c.name, now=now, visitor=v), (seed, step, g, c.name)
                assert native.pick(g, c.name) == ref.pick(g, c.name), (seed, step, g, c.name)
        assert native.bans(now=now) == ref.bans(now=now)
    assert native._state() == ref._state()
