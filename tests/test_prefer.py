"""Preferred operator (submit(prefer=..., prefer_for=...)) and sticky groups
(Group(sticky_for=...)), on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def two(r, **group_kw):
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.add_operator("bob", ["support"], 1, status="online", now=0.0)


def test_prefer_takes_the_operator_when_free(make):
    r = make(cfg())
    two(r)
    # even would pick alice (registered first); the preference picks bob
    assert r.submit("c1", "web", "support", prefer="bob", now=1.0)[0].operator == "bob"


def test_prefer_waits_up_to_prefer_for_then_routes_normally(make):
    r = make(cfg())
    two(r)
    r.submit("x", "web", "support", prefer="bob", now=0.0)        # bob busy now
    assert r.submit("c1", "web", "support", prefer="bob", prefer_for=30.0, now=1.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=1.0, position=1)]
    # alice is free, but c1 waits for bob; other work goes to alice
    assert r.submit("c2", "web", "support", now=2.0)[0].operator == "alice"
    r.finish("c2", now=3.0)                                         # alice free again
    assert r.request("c1").state == "queued"
    assert r.advance(now=31.0) == [
        pr.Assigned(request="c1", operator="alice", group="support", channel="web", at=31.0,
                    waited=30.0)]


def test_prefer_served_when_the_operator_frees_up(make):
    r = make(cfg())
    two(r)
    r.submit("x", "web", "support", prefer="bob", now=0.0)
    r.submit("c1", "web", "support", prefer="bob", prefer_for=30.0, now=1.0)
    assert r.finish("x", now=5.0)[1] == pr.Assigned(
        request="c1", operator="bob", group="support", channel="web", at=5.0, waited=4.0)


def test_prefer_ignored_when_operator_offline_or_elsewhere(make):
    r = make(cfg(pr.Group("support"), pr.Group("other")))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.add_operator("bob", ["support"], 1, status="offline", now=0.0)
    r.add_operator("carol", ["other"], 1, status="online", now=0.0)
    assert r.submit("c1", "web", "support", prefer="bob", prefer_for=60.0,
                    now=1.0)[0].operator == "alice"
    r.finish("c1", now=2.0)
    assert r.submit("c2", "web", "support", prefer="carol", prefer_for=60.0,
                    now=3.0)[0].operator == "alice"


def test_sticky_visitor_returns_to_the_last_operator(make):
    r = make(cfg(pr.Group("support", sticky_for=600.0)))
    two(r)
    r.submit("c1", "web", "support", visitor="v", now=0.0)          # alice
    r.submit("y", "web", "support", now=0.0)                        # bob
    r.finish("y", now=1.0)
    r.finish("c1", now=10.0)
    assert r.submit("c2", "web", "support", visitor="v", now=20.0)[0].operator == "alice"
    r.finish("c2", now=30.0)
    # after sticky_for, even distribution again (bob: longest since his last assignment)
    assert r.submit("c3", "web", "support", visitor="v", now=631.0)[0].operator == "bob"


def test_sticky_does_not_wait(make):
    r = make(cfg(pr.Group("support", sticky_for=600.0)))
    two(r)
    r.submit("c1", "web", "support", visitor="v", now=0.0)          # alice
    r.finish("c1", now=1.0)
    r.submit("busy", "web", "support", prefer="alice", now=2.0)     # alice busy
    assert r.submit("c2", "web", "support", visitor="v", now=3.0)[0].operator == "bob"


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.submit("n", "web", "support", prefer="ghost", now=5.0), pr.UnknownId, "ghost"),
    (lambda r: r.submit("n", "web", "support", prefer=1.5, now=5.0), pr.InvalidArgument,
     "str or an int"),
    (lambda r: r.submit("n", "web", "support", prefer="alice", prefer_for=-1, now=5.0),
     pr.InvalidArgument, "prefer_for"),
    (lambda r: r.submit("n", "web", "support", prefer_for="long", now=5.0), pr.InvalidArgument,
     "prefer_for"),
])
def test_bad_prefer_changes_nothing(make, call, exc, fragment):
    r = make(cfg())
    two(r)
    r.submit("c1", "web", "support", prefer="bob", now=1.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before
