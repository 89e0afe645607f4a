"""Offers: Group(accept_timeout, max_missed), accept, decline, OfferExpired, on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor(timeout=30.0, **kw):
    return cfg(pr.Group("support", accept_timeout=timeout, **kw), pr.Group("plain"))


def two(r, limit=1):
    r.add_operator("alice", ["support"], limit, status="online", now=0.0)
    r.add_operator("bob", ["support"], limit, status="online", now=0.0)


def test_offer_then_accept(make):
    r = make(floor())
    two(r)
    assert r.submit("c1", "web", "support", now=1.0) == [
        pr.Offered(request="c1", operator="alice", group="support", channel="web", at=1.0,
                   expires_at=31.0)]
    v = r.request("c1")
    assert v.state == "offered" and v.operator == "alice"
    assert r.operator("alice").load == 1 and r.operator("alice").active == ("c1",)
    with pytest.raises(pr.InvalidState, match="not accepted"):
        r.finish("c1", now=2.0)
    assert r.accept("c1", now=5.0) == [
        pr.Accepted(request="c1", operator="alice", at=5.0, waited=4.0)]
    assert r.request("c1").state == "active"
    assert r.advance(now=100.0) == []                      # the expiry timer is void
    assert r.finish("c1", now=101.0) == [pr.Finished(request="c1", operator="alice",
                                                     at=101.0)]


def test_decline_goes_to_the_next_operator_and_never_back(make):
    r = make(floor())
    two(r)
    r.submit("c1", "web", "support", now=1.0)
    assert r.decline("c1", now=2.0) == [
        pr.Offered(request="c1", operator="bob", group="support", channel="web", at=2.0,
                   expires_at=32.0)]
    assert r.request("c1").declined == ("alice",)
    assert r.decline("c1", operator="bob", now=3.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=3.0, position=1)]
    # alice and bob both have room, but neither may get c1 again; a new one goes to alice
    assert r.submit("c2", "web", "support", now=4.0)[0].operator == "alice"
    assert r.queue("support") == ["c1"]
    r.add_operator("carol", ["support"], 1, status="online", now=5.0)
    assert r.request("c1").operator == "carol"


def test_expiry_moves_on_and_counts_misses(make):
    r = make(floor(timeout=10.0, max_missed=2))
    two(r, limit=2)
    r.submit("c1", "web", "support", now=0.0)                # alice
    r.submit("c2", "web", "support", now=0.0)                # bob
    assert r.advance(now=10.0) == [
        pr.OfferExpired(request="c1", operator="alice", at=10.0),
        pr.Offered(request="c1", operator="bob", group="support", channel="web", at=10.0,
                   expires_at=20.0),
        pr.OfferExpired(request="c2", operator="bob", at=10.0),
        pr.Offered(request="c2", operator="alice", group="support", channel="web", at=10.0,
                   expires_at=20.0)]
    # second miss in a row for both: each goes away, and its open offer comes back
    events = r.advance(now=20.0)
    assert events[:2] == [pr.OfferExpired(request="c1", operator="bob", at=20.0),
                          pr.Queued(request="c1", group="support", channel="web", at=20.0, position=1)]
    assert pr.StatusChanged(operator="bob", status="away", at=20.0,
                            reason="missed_offers") in events
    assert pr.StatusChanged(operator="alice", status="away", at=20.0,
                            reason="missed_offers") in events
    assert r.operator("alice").status == r.operator("bob").status == "away"
    assert r.request("c1").state == r.request("c2").state == "queued"
    assert r.operator("alice").load == r.operator("bob").load == 0


def test_accept_resets_the_miss_count(make):
    r = make(floor(timeout=10.0, max_missed=2))
    r.add_operator("alice", ["support"], 3, status="online", now=0.0)
    r.submit("c1", "web", "support", now=0.0)
    r.advance(now=10.0)                                       # miss 1 (c1 now waits)
    r.submit("c2", "web", "support", now=11.0)
    r.accept("c2", now=12.0)                                  # resets
    r.submit("c3", "web", "support", now=13.0)
    r.advance(now=23.0)                                       # miss 1 again
    assert r.operator("alice").status == "online"


def test_accept_after_expiry_returns_what_happened(make):
    r = make(floor(timeout=10.0))
    two(r)
    r.submit("c1", "web", "support", now=0.0)
    # alice answers too late: the call reports the expiry instead of an Accepted
    assert r.accept("c1", now=15.0) == [
        pr.OfferExpired(request="c1", operator="alice", at=10.0),
        pr.Offered(request="c1", operator="bob", group="support", channel="web", at=10.0,
                   expires_at=20.0)]
    assert r.request("c1").operator == "bob"


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.accept("c1", operator="bob", now=5.0), pr.InvalidState, "offered to 'alice'"),
    (lambda r: r.accept("q", now=5.0), pr.InvalidState, "queued, not offered"),
    (lambda r: r.decline("nope", now=5.0), pr.UnknownId, "nope"),
    (lambda r: r.accept("c1", operator=1.5, now=5.0), pr.InvalidArgument, "str or an int"),
    (lambda r: r.accept("c1", now=1.0), pr.TimeError, "earlier"),
    (lambda r: r.finish("c1", now=5.0), pr.InvalidState, "not accepted"),
])
def test_bad_offer_calls_change_nothing(make, call, exc, fragment):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("q", "web", "support", now=2.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before


def test_going_away_returns_offers_but_keeps_active(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 2, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.accept("c1", now=2.0)
    r.submit("c2", "web", "support", now=3.0)
    events = r.set_status("alice", "away", now=4.0)
    assert events == [pr.StatusChanged(operator="alice", status="away", at=4.0),
                      pr.Queued(request="c2", group="support", channel="web", at=4.0, position=1)]
    assert r.operator("alice").active == ("c1",)
    assert r.request("c2").declined == ()              # not a decline: she may get it later
    assert r.set_status("alice", "online", now=5.0)[1].request == "c2"


def test_remove_needs_requeue_only_for_active(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 2, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)             # offered only
    assert r.remove_operator("alice", now=2.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=2.0, position=1)]


def test_cancel_while_offered(make):
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    assert r.cancel("c1", now=25.0) == [
        pr.Cancelled(request="c1", at=25.0, waited=24.0, early=False)]
    assert r.operator("alice").load == 0


def test_retention_continues_while_offered(make):
    r = make(cfg(pr.Group("support", accept_timeout=100.0),
                 channels=[pr.Channel("web", retention=[
                     pr.Retention(after=30.0, action="hold_message")])]))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=0.0)
    assert r.advance(now=30.0) == [pr.RetentionDue(request="c1", action="hold_message",
                                                   at=30.0)]
    r.accept("c1", now=31.0)


def test_offers_do_not_apply_to_groups_without_a_timeout(make):
    r = make(floor())
    r.add_operator("p", ["plain"], 1, status="online", now=0.0)
    assert r.submit("c1", "web", "plain", now=1.0)[0] == pr.Assigned(
        request="c1", operator="p", group="plain", channel="web", at=1.0, waited=0.0)


def test_a_decline_frees_the_slot_for_what_else_waits(make):
    """Work conservation after a decline: the declined conversation moves on, and the
    operator's freed slot takes the next conversation waiting for it."""
    r = make(floor())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)          # offered to alice
    r.submit("c2", "web", "support", now=2.0)          # waits: alice is full
    assert r.decline("c1", now=3.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=3.0, position=1),
        pr.Offered(request="c2", operator="alice", group="support", channel="web", at=3.0,
                   expires_at=33.0)]
    assert r.request("c1").state == "queued" and r.request("c1").declined == ("alice",)


def test_an_expiry_frees_the_slot_for_what_else_waits(make):
    r = make(floor(timeout=10.0))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    assert r.advance(now=11.0) == [
        pr.OfferExpired(request="c1", operator="alice", at=11.0),
        pr.Queued(request="c1", group="support", channel="web", at=11.0, position=1),
        pr.Offered(request="c2", operator="alice", group="support", channel="web", at=11.0,
                   expires_at=21.0)]
