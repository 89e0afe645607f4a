"""Behaviour of the router, run on both engines through the ``make`` fixture.

Every test compares full event lists (or full views), so a wrong field, a missing event or
an extra one fails. ``make`` runs the engine's own ``check()`` after every mutating call.
"""

from __future__ import annotations

import pytest

import pyroute as pr
from pyroute import reference

from conftest import cfg


# ------------------------------------------------------------------------------ helpers

def assigned(request, operator, at, waited=0.0, group="support", channel="web"):
    return pr.Assigned(request=request, operator=operator, group=group, channel=channel,
                       at=at, waited=waited)


def queued(request, at, group="support", channel="web", position=1, expected_wait=None):
    """Queued, by default the first in its queue with nothing to predict from yet."""
    return pr.Queued(request=request, group=group, channel=channel, at=at, position=position,
                     expected_wait=expected_wait)


def online(router, op, groups=("support",), limit=1, now=0.0):
    """Register an online operator; it must not receive anything while doing so."""
    assert router.add_operator(op, list(groups), limit, status="online", now=now) == []


def served_by(events):
    return [(e.request, e.operator) for e in events if isinstance(e, pr.Assigned)]


# ------------------------------------------------------------------------------ submit

def test_submit_assigns_to_an_online_operator_with_room(make):
    r = make(cfg())
    online(r, "alice", limit=2)
    assert r.submit("c1", channel="web", group="support", now=1.0) == [
        pr.Assigned(request="c1", operator="alice", group="support", channel="web",
                    at=1.0, waited=0.0)]
    assert r.operator("alice").active == ("c1",)


def test_submit_queues_when_nobody_has_room(make):
    r = make(cfg())
    # registered but offline (the default status): receives nothing
    assert r.add_operator("alice", ["support"], 3, now=0.0) == []
    assert r.submit("c1", channel="web", group="support", now=1.0) == [
        pr.Queued(request="c1", group="support", channel="web", at=1.0, position=1)]
    assert r.request("c1").state == "queued"
    assert r.queue("support") == ["c1"]


def test_submit_queues_when_every_slot_is_taken(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    assert r.submit("c1", "web", "support", now=1.0) == [assigned("c1", "alice", 1.0)]
    assert r.submit("c2", "web", "support", now=2.0) == [queued("c2", 2.0)]
    assert r.operator("alice").load == 1


def test_int_ids_are_kept_as_given(make):
    r = make(cfg())
    online(r, 7)
    assert r.submit(42, "web", "support", now=1.0) == [assigned(42, 7, 1.0)]
    assert r.submit("42", "web", "support", now=2.0) == [queued("42", 2.0)]
    assert r.operator(7).active == (42,)


def test_operator_added_online_takes_waiting_work(make):
    r = make(cfg())
    assert r.submit("c1", "email", "support", now=1.0) == [queued("c1", 1.0, channel="email")]
    assert r.add_operator("alice", ["support"], 2, status="online", now=4.0) == [
        assigned("c1", "alice", 4.0, 3.0, channel="email")]


# ------------------------------------------------------------------------------ finish

def test_finish_frees_the_slot_and_pulls_the_best_waiting_one(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    r.submit("c1", "web", "support", now=1.0)
    assert r.submit("c2", "email", "support", now=2.0) == [queued("c2", 2.0, channel="email")]
    assert r.submit("c3", "web", "support", now=3.0) == [queued("c3", 3.0)]
    # web (priority 10) beats the earlier email conversation
    assert r.finish("c1", now=10.0) == [
        pr.Finished(request="c1", operator="alice", at=10.0),
        assigned("c3", "alice", 10.0, 7.0)]
    assert r.finish("c3", now=11.0) == [
        pr.Finished(request="c3", operator="alice", at=11.0),
        assigned("c2", "alice", 11.0, 9.0, channel="email")]
    assert r.finish("c2", now=12.0) == [pr.Finished(request="c2", operator="alice", at=12.0)]
    assert r.operator("alice").load == 0


def test_finish_with_nothing_waiting_only_frees_the_slot(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    r.submit("c1", "web", "support", now=1.0)
    assert r.finish("c1", now=5.0) == [pr.Finished(request="c1", operator="alice", at=5.0)]
    assert r.operator("alice") == pr.OperatorView(
        id="alice", status="online", limit=1, load=0, groups=("support",), active=())
    assert r.submit("c2", "web", "support", now=6.0) == [assigned("c2", "alice", 6.0)]


def test_finish_pulls_only_from_the_operators_groups(make):
    r = make(cfg(pr.Group("support"), pr.Group("sales")))
    online(r, "alice", groups=["support"])
    r.submit("c1", "web", "support", now=1.0)
    assert r.submit("s1", "web", "sales", now=2.0) == [queued("s1", 2.0, group="sales")]
    assert r.finish("c1", now=3.0) == [pr.Finished(request="c1", operator="alice", at=3.0)]
    assert r.queue("sales") == ["s1"]


# ------------------------------------------------------------------------------ cancel

def test_cancel_queued_early_and_late(make):
    r = make(cfg())
    r.submit("c1", "web", "support", now=0.0)
    r.submit("c2", "web", "support", now=0.0)
    r.submit("c3", "web", "support", now=0.0)
    assert r.cancel("c1", now=5.0) == [
        pr.Cancelled(request="c1", at=5.0, waited=5.0, early=True)]
    # the default Channel.early_cancel is 20 s, and "early" is strictly sooner than that
    assert r.cancel("c2", now=20.0) == [
        pr.Cancelled(request="c2", at=20.0, waited=20.0, early=False)]
    assert r.cancel("c3", now=30.0) == [
        pr.Cancelled(request="c3", at=30.0, waited=30.0, early=False)]
    assert r.queue("support") == []
    assert r.request("c1").state == "cancelled"


def test_cancel_just_before_the_early_cancel_threshold_is_early(make):
    r = make(cfg())
    r.submit("c1", "web", "support", now=100.0)
    assert r.cancel("c1", now=119.5) == [
        pr.Cancelled(request="c1", at=119.5, waited=19.5, early=True)]


def test_cancel_uses_the_channels_early_cancel(make):
    channels = [pr.Channel("web", early_cancel=5.0), pr.Channel("email", early_cancel=0.0)]
    r = make(cfg(channels=channels))
    r.submit("w1", "web", "support", now=0.0)
    r.submit("w2", "web", "support", now=0.0)
    r.submit("e1", "email", "support", now=0.0)
    assert r.cancel("w1", now=4.0) == [pr.Cancelled(request="w1", at=4.0, waited=4.0, early=True)]
    assert r.cancel("w2", now=6.0) == [
        pr.Cancelled(request="w2", at=6.0, waited=6.0, early=False)]
    # early_cancel=0: never early
    assert r.cancel("e1", now=6.0) == [
        pr.Cancelled(request="e1", at=6.0, waited=6.0, early=False)]


def test_cancel_active_reports_the_queue_wait_and_frees_the_slot(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    r.submit("c0", "web", "support", now=0.0)
    r.submit("c1", "web", "support", now=2.0)          # waits for alice
    r.submit("c2", "web", "support", now=3.0)
    assert r.finish("c0", now=6.0) == [
        pr.Finished(request="c0", operator="alice", at=6.0), assigned("c1", "alice", 6.0, 4.0)]
    # waited = time in the queue (4 s); early is measured from arrival (13 s < 20 s)
    assert r.cancel("c1", now=15.0) == [
        pr.Cancelled(request="c1", at=15.0, waited=4.0, early=True),
        assigned("c2", "alice", 15.0, 12.0)]
    assert r.cancel("c2", now=40.0) == [
        pr.Cancelled(request="c2", at=40.0, waited=12.0, early=False)]
    assert r.request("c1").operator == "alice"
    assert r.request("c1").state == "cancelled"
    assert r.operator("alice").load == 0


# ------------------------------------------------------------------------------ policies

def test_even_most_free_slots_then_longest_since_assignment_then_registration(make):
    r = make(cfg())
    online(r, "a", limit=2)
    online(r, "b", limit=3)
    online(r, "c", limit=3)
    events = []
    for i in range(8):
        events += r.submit(f"c{i}", "web", "support", now=1.0)
    assert served_by(events) == [
        ("c0", "b"),   # b and c have 3 free: registration order
        ("c1", "c"),   # c has 3 free
        ("c2", "a"),   # all have 2 free: a was never assigned
        ("c3", "b"),   # b's last assignment is older than c's
        ("c4", "c"),
        ("c5", "a"),   # all have 1 free: a's last assignment is the oldest
        ("c6", "b"),
        ("c7", "c")]
    assert r.submit("c8", "web", "support", now=1.0) == [queued("c8", 1.0)]


def test_even_counts_free_slots_not_load(make):
    r = make(cfg())
    online(r, "small", limit=1)
    online(r, "big", limit=5)
    events = []
    for i in range(5):
        events += r.submit(f"c{i}", "web", "support", now=1.0)
    # big has more free slots until it is down to 1 free (ties then go to the older
    # last assignment)
    assert served_by(events) == [("c0", "big"), ("c1", "big"), ("c2", "big"),
                                 ("c3", "big"), ("c4", "small")]


def test_longest_idle_counts_finishes_as_activity(make):
    r = make(cfg(pr.Group("support", policy="longest_idle")))
    for op in ("a", "b", "c"):
        online(r, op, limit=5)
    ev = r.submit("c1", "web", "support", now=1.0)
    ev += r.submit("c2", "web", "support", now=1.0)
    ev += r.submit("c3", "web", "support", now=1.0)
    assert served_by(ev) == [("c1", "a"), ("c2", "b"), ("c3", "c")]
    # a finishes: that is activity, a is now the least idle
    r.finish("c1", now=2.0)
    ev = r.submit("c4", "web", "support", now=3.0)
    ev += r.submit("c5", "web", "support", now=3.0)
    ev += r.submit("c6", "web", "support", now=3.0)
    assert served_by(ev) == [("c4", "b"), ("c5", "c"), ("c6", "a")]


def test_longest_idle_coming_online_counts_as_activity(make):
    r = make(cfg(pr.Group("support", policy="longest_idle")))
    online(r, "a", limit=5)
    online(r, "b", limit=5)
    r.set_status("a", "away", now=1.0)
    r.set_status("a", "online", now=2.0)
    assert r.submit("c1", "web", "support", now=3.0) == [assigned("c1", "b", 3.0)]
    assert r.submit("c2", "web", "support", now=3.0) == [assigned("c2", "a", 3.0)]


def test_round_robin_rotates_and_skips_operators_without_room(make):
    r = make(cfg(pr.Group("support", policy="round_robin")))
    online(r, "a", limit=5)
    online(r, "b", limit=1)
    online(r, "c", limit=5)
    ev = []
    for i in range(7):
        ev += r.submit(f"c{i}", "web", "support", now=1.0)
    assert served_by(ev) == [("c0", "a"), ("c1", "b"), ("c2", "c"),
                             ("c3", "a"), ("c4", "c"), ("c5", "a"), ("c6", "c")]
    # b finishes: it has waited longest for its turn
    r.finish("c1", now=2.0)
    assert r.submit("c7", "web", "support", now=3.0) == [assigned("c7", "b", 3.0, 0.0)]
    assert r.submit("c8", "web", "support", now=3.0) == [assigned("c8", "a", 3.0, 0.0)]


def test_round_robin_is_not_even(make):
    # even would give both to "big" (more free slots); round robin alternates
    r = make(cfg(pr.Group("support", policy="round_robin")))
    online(r, "small", limit=2)
    online(r, "big", limit=10)
    ev = r.submit("c1", "web", "support", now=1.0) + r.submit("c2", "web", "support", now=1.0)
    assert served_by(ev) == [("c1", "small"), ("c2", "big")]


def test_least_ratio_lowest_load_over_limit(make):
    r = make(cfg(pr.Group("support", policy="least_ratio")))
    online(r, "a", limit=2)
    online(r, "b", limit=4)
    ev = []
    for i in range(6):
        ev += r.submit(f"c{i}", "web", "support", now=1.0)
    assert served_by(ev) == [
        ("c0", "a"),   # 0/2 vs 0/4: tie, a registered first
        ("c1", "b"),   # 1/2 vs 0/4
        ("c2", "b"),   # 1/2 vs 1/4
        ("c3", "a"),   # 1/2 vs 2/4: tie, a's last assignment is older
        ("c4", "b"),   # 2/2 (full) vs 2/4
        ("c5", "b")]
    assert r.submit("c6", "web", "support", now=1.0) == [queued("c6", 1.0)]


def test_fewest_handled_counts_past_assignments_not_free_slots(make):
    r = make(cfg(pr.Group("support", policy="fewest_handled")))
    online(r, "a", limit=5)
    online(r, "b", limit=1)
    ev = r.submit("c1", "web", "support", now=1.0)
    ev += r.submit("c2", "web", "support", now=1.0)
    ev += r.submit("c3", "web", "support", now=1.0)   # b full
    assert served_by(ev) == [("c1", "a"), ("c2", "b"), ("c3", "a")]
    r.finish("c2", now=2.0)
    # a handled 2, b handled 1: b, although a has 3 free slots and b only 1
    assert r.submit("c4", "web", "support", now=3.0) == [assigned("c4", "b", 3.0)]


def test_ordered_follows_membership_join_order(make):
    r = make(cfg(pr.Group("support", policy="ordered"), pr.Group("other")))
    online(r, "a", groups=["other"], limit=2)      # registered first ...
    online(r, "b", groups=["support"], limit=2)
    r.set_groups("a", ["other", "support"], now=0.0)  # ... but joins "support" after b
    ev = []
    for i in range(5):
        ev += r.submit(f"c{i}", "web", "support", now=1.0)
    assert served_by(ev) == [("c0", "b"), ("c1", "b"), ("c2", "a"), ("c3", "a")]
    assert ev[-1] == queued("c4", 1.0)
    # b gets room back: b is first again
    r.finish("c0", now=2.0)   # pulls c4 to b
    assert r.request("c4").operator == "b"


def _random_choices(router_cls, seed, n_ops=6, n=30):
    r = router_cls(cfg(pr.Group("support", policy="random"), seed=seed))
    for i in range(n_ops):
        r.add_operator(f"op{i}", ["support"], n, status="online", now=0.0)
    ev = []
    for i in range(n):
        ev += r.submit(f"c{i}", "web", "support", now=1.0)
    return [op for (_, op) in served_by(ev)]


def test_random_is_reproducible_for_a_seed_and_differs_across_seeds(engine):
    first = _random_choices(engine, seed=11)
    assert len(first) == 30
    assert _random_choices(engine, seed=11) == first
    other = _random_choices(engine, seed=12)
    assert other != first
    # it is a spread, not one operator taking everything
    assert len(set(first)) >= 4 and len(set(other)) >= 4
    # and the same draw in both engines
    assert _random_choices(reference.Router, seed=11) == first


def test_random_respects_capacity(make):
    r = make(cfg(pr.Group("support", policy="random"), seed=3))
    online(r, "a", limit=1)
    online(r, "b", limit=2)
    ev = []
    for i in range(4):
        ev += r.submit(f"c{i}", "web", "support", now=1.0)
    assert sorted(op for (_, op) in served_by(ev)) == ["a", "b", "b"]
    assert ev[-1] == queued("c3", 1.0)


# ------------------------------------------------------------------------------ queue order

def test_queue_request_priority_then_arrival_then_submission(make):
    r = make(cfg())
    r.submit("a", "web", "support", priority=0, now=1.0)
    r.submit("b", "web", "support", priority=5, now=2.0)
    r.submit("c", "web", "support", priority=0, now=2.0)
    r.submit("d", "web", "support", priority=5, now=2.0)
    assert r.queue("support", "web") == ["b", "d", "a", "c"]
    ev = r.add_operator("alice", ["support"], 4, status="online", now=5.0)
    assert ev == [assigned("b", "alice", 5.0, 3.0), assigned("d", "alice", 5.0, 3.0),
                  assigned("a", "alice", 5.0, 4.0), assigned("c", "alice", 5.0, 3.0)]


def test_queue_order_is_the_order_of_service(make):
    r = make(cfg())
    r.submit("w-first", "web", "support", now=1.0)                  # 10
    r.submit("w-late", "web", "support", now=3.0)                   # 10
    r.submit("e-urgent", "email", "support", priority=11, now=4.0)  # 11
    r.submit("e-plain", "email", "support", now=5.0)                # 0
    r.submit("w-prio", "web", "support", priority=1, now=6.0)       # 11, later
    r.submit("w-same", "web", "support", now=6.0)                   # 10, same time
    order = ["e-urgent", "w-prio", "w-first", "w-late", "w-same", "e-plain"]
    assert r.queue("support") == order
    assert r.queue("support", "web") == ["w-prio", "w-first", "w-late", "w-same"]
    assert r.queue("support", "email") == ["e-urgent", "e-plain"]
    ev = r.add_operator("alice", ["support"], 10, status="online", now=10.0)
    assert [e.request for e in ev] == order
    assert ev[0] == assigned("e-urgent", "alice", 10.0, 6.0, channel="email")
    assert ev[-1] == assigned("e-plain", "alice", 10.0, 5.0, channel="email")


def test_queue_channel_priority_beats_arrival(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    r.submit("busy", "web", "support", now=0.0)
    r.submit("e1", "email", "support", now=1.0)
    r.submit("w1", "web", "support", now=2.0)
    assert r.finish("busy", now=3.0) == [
        pr.Finished(request="busy", operator="alice", at=3.0), assigned("w1", "alice", 3.0, 1.0)]


def test_queue_group_priority_adds_to_the_total(make):
    r = make(cfg(pr.Group("low"), pr.Group("high", priority=3)))
    r.submit("low-web", "web", "low", now=1.0)           # 10
    r.submit("high-web", "web", "high", now=2.0)         # 13
    r.submit("high-email", "email", "high", now=3.0)     # 3
    r.submit("low-email", "email", "low", priority=4, now=4.0)   # 4
    ev = r.add_operator("alice", ["low", "high"], 4, status="online", now=5.0)
    assert ev == [
        assigned("high-web", "alice", 5.0, 3.0, group="high"),
        assigned("low-web", "alice", 5.0, 4.0, group="low"),
        assigned("low-email", "alice", 5.0, 1.0, group="low", channel="email"),
        assigned("high-email", "alice", 5.0, 2.0, group="high", channel="email")]


def test_queue_equal_priority_across_channels_by_arrival_then_submission(make):
    channels = [pr.Channel("a", priority=1), pr.Channel("b", priority=1)]
    r = make(cfg(channels=channels))
    r.submit("b-1", "b", "support", now=1.0)
    r.submit("a-2", "a", "support", now=2.0)
    r.submit("b-2", "b", "support", now=2.0)
    r.submit("a-2bis", "a", "support", now=2.0)
    assert r.queue("support") == ["b-1", "a-2", "b-2", "a-2bis"]
    ev = r.add_operator("alice", ["support"], 4, status="online", now=3.0)
    assert [e.request for e in ev] == ["b-1", "a-2", "b-2", "a-2bis"]


def test_aging_lets_old_low_priority_work_overtake(make):
    # aging=1: one priority point per waited second. email (0) arrived 15 s before web (10)
    r = make(cfg(aging=1.0))
    r.submit("old-email", "email", "support", now=0.0)
    r.submit("new-web", "web", "support", now=15.0)
    r.submit("newer-web", "web", "support", now=5.0 + 15.0)
    assert r.queue("support") == ["old-email", "new-web", "newer-web"]
    assert r.add_operator("alice", ["support"], 1, status="online", now=30.0) == [
        assigned("old-email", "alice", 30.0, 30.0, channel="email")]


def test_aging_does_not_overturn_a_bigger_priority_gap(make):
    r = make(cfg(aging=1.0))
    r.submit("old-email", "email", "support", now=0.0)
    r.submit("new-web", "web", "support", now=5.0)     # 10 points > 5 s of aging
    assert r.queue("support") == ["new-web", "old-email"]


def test_without_aging_channel_priority_wins(make):
    r = make(cfg())
    r.submit("old-email", "email", "support", now=0.0)
    r.submit("new-web", "web", "support", now=15.0)
    assert r.queue("support") == ["new-web", "old-email"]


def test_deadline_order_uses_arrival_plus_target_wait(make):
    channels = [pr.Channel("chat", priority=100, target_wait=60.0),
                pr.Channel("phone", priority=0, target_wait=10.0)]
    r = make(cfg(channels=channels, order="deadline"))
    r.submit("chat-0", "chat", "support", now=0.0)                  # due 60
    r.submit("chat-5", "chat", "support", priority=50, now=5.0)     # due 65
    r.submit("phone-40", "phone", "support", now=40.0)              # due 50
    r.submit("phone-55", "phone", "support", now=55.0)              # due 65, later
    # channel and request priorities do not count in deadline order
    order = ["phone-40", "chat-0", "chat-5", "phone-55"]
    assert r.queue("support") == order
    ev = r.add_operator("alice", ["support"], 4, status="online", now=70.0)
    assert [e.request for e in ev] == order
    assert ev[0] == assigned("phone-40", "alice", 70.0, 30.0, channel="phone")


# ------------------------------------------------------------------------------ overflow

def _two_groups(*rules, b_policy="even", **kw):
    return cfg(pr.Group("A", overflow=list(rules)), pr.Group("B", policy=b_policy), **kw)


def test_overflow_after_is_eligible_exactly_at_arrival_plus_after(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=30.0)))
    online(r, "bob", groups=["B"])
    assert r.submit("c1", "web", "A", now=10.0) == [queued("c1", 10.0, group="A")]
    assert r.advance(39.0) == []
    assert r.advance(39.999) == []
    assert r.request("c1").eligible_groups == ("A",)
    assert r.queue("B") == []
    assert r.advance(40.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=40.0),
        assigned("c1", "bob", 40.0, 30.0, group="B")]
    assert r.request("c1").eligible_groups == ("A", "B")
    assert r.advance(100.0) == []


def test_overflow_after_fired_late_carries_its_due_time(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=30.0)))
    online(r, "bob", groups=["B"])
    r.submit("c1", "web", "A", now=10.0)
    assert r.advance(500.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=40.0),
        assigned("c1", "bob", 40.0, 30.0, group="B")]


def test_overflow_after_waits_in_both_queues_when_nobody_has_room(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=5.0)))
    r.submit("c1", "web", "A", now=0.0)
    assert r.advance(5.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=5.0)]
    assert r.queue("A") == ["c1"] and r.queue("B") == ["c1"]
    # keeps its arrival: competes in B with its original time
    r.submit("b1", "web", "B", now=6.0)
    assert r.queue("B") == ["c1", "b1"]
    assert r.add_operator("bob", ["B"], 1, status="online", now=7.0) == [
        assigned("c1", "bob", 7.0, 7.0, group="B")]
    assert r.queue("A") == []


def test_overflow_after_zero_fires_at_submit(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=0.0)))
    online(r, "bob", groups=["B"])
    assert r.submit("c1", "web", "A", now=3.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=3.0),
        assigned("c1", "bob", 3.0, 0.0, group="B")]


def test_overflow_timer_of_an_assigned_conversation_does_nothing(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=30.0)))
    online(r, "alice", groups=["A"])
    online(r, "bob", groups=["B"])
    r.submit("c0", "web", "A", now=0.0)
    r.submit("c1", "web", "A", now=1.0)
    r.finish("c0", now=2.0)        # c1 goes to alice before its timer
    assert r.advance(100.0) == []
    assert r.request("c1").eligible_groups == ("A",)


def test_overflow_timer_of_a_cancelled_conversation_does_nothing(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=30.0)))
    online(r, "bob", groups=["B"])
    r.submit("c1", "web", "A", now=0.0)
    r.cancel("c1", now=1.0)
    assert r.advance(100.0) == []
    assert r.operator("bob").load == 0


def test_overflow_prefers_the_home_group(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r, "alice", groups=["A"])
    online(r, "bob", groups=["B"], limit=5)
    # A has someone online: the rule does not fire
    assert r.submit("c1", "web", "A", now=1.0) == [assigned("c1", "alice", 1.0, group="A")]
    assert r.submit("c2", "web", "A", now=2.0) == [queued("c2", 2.0, group="A")]


def test_when_no_operators_at_submit(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    r.add_operator("alice", ["A"], 3, status="away", now=0.0)   # not online
    online(r, "bob", groups=["B"])
    assert r.submit("c1", "web", "A", now=1.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=1.0),
        assigned("c1", "bob", 1.0, group="B")]
    assert r.submit("c2", "web", "A", now=2.0) == [
        pr.Overflowed(request="c2", group="A", to=("B",), reason="no_operators", at=2.0),
        queued("c2", 2.0, group="A")]
    assert r.queue("A") == ["c2"] and r.queue("B") == ["c2"]


def test_when_no_operators_when_the_last_online_operator_leaves(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r, "alice", groups=["A"])
    online(r, "bob", groups=["B"], limit=5)
    r.submit("c1", "web", "A", now=1.0)        # alice
    assert r.submit("c2", "web", "A", now=2.0) == [queued("c2", 2.0, group="A")]
    assert r.submit("c3", "email", "A", now=3.0) == [queued("c3", 3.0, "A", "email")]
    assert r.set_status("alice", "offline", now=10.0) == [
        pr.StatusChanged(operator="alice", status="offline", at=10.0, reason=""),
        pr.Overflowed(request="c2", group="A", to=("B",), reason="no_operators", at=10.0),
        assigned("c2", "bob", 10.0, 8.0, group="B"),
        pr.Overflowed(request="c3", group="A", to=("B",), reason="no_operators", at=10.0),
        assigned("c3", "bob", 10.0, 7.0, group="B", channel="email")]
    # alice keeps her conversation
    assert r.operator("alice").active == ("c1",)


def test_when_no_operators_not_while_someone_is_still_online(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r, "alice", groups=["A"])
    online(r, "carol", groups=["A"])
    online(r, "bob", groups=["B"], limit=5)
    r.submit("c1", "web", "A", now=1.0)
    r.submit("c2", "web", "A", now=1.0)
    r.submit("c3", "web", "A", now=2.0)
    assert r.set_status("alice", "away", now=3.0) == [
        pr.StatusChanged(operator="alice", status="away", at=3.0, reason="")]
    assert r.queue("A") == ["c3"]


def test_when_no_operators_when_the_last_operator_is_removed_or_moved(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r, "alice", groups=["A"], limit=0)
    r.submit("c1", "web", "A", now=1.0)
    assert r.set_groups("alice", ["B"], now=2.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=2.0)]
    assert r.queue("B") == ["c1"]
    r2 = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r2, "alice", groups=["A"], limit=0)
    online(r2, "bob", groups=["B"])
    r2.submit("c1", "web", "A", now=1.0)
    assert r2.remove_operator("alice", now=2.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=2.0),
        assigned("c1", "bob", 2.0, 1.0, group="B")]


def test_when_queue_over(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_queue_over=2)))
    assert r.submit("c1", "web", "A", now=1.0) == [queued("c1", 1.0, group="A")]
    assert r.submit("c2", "web", "A", now=2.0) == [queued("c2", 2.0, group="A", position=2)]
    # A already has 2 waiting when c3 joins it
    assert r.submit("c3", "web", "A", now=3.0) == [
        pr.Overflowed(request="c3", group="A", to=("B",), reason="queue_over", at=3.0),
        queued("c3", 3.0, group="A", position=3)]
    assert r.queue("B") == ["c3"]
    assert r.request("c3").eligible_groups == ("A", "B")
    assert r.request("c1").eligible_groups == ("A",)
    # an operator in B takes the overflowed one, not A's earlier ones
    assert r.add_operator("bob", ["B"], 5, status="online", now=4.0) == [
        assigned("c3", "bob", 4.0, 1.0, group="B")]
    assert r.queue("A") == ["c1", "c2"]


def test_overflow_chain_a_b_c_with_timers(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], after=10.0)]),
                 pr.Group("B", overflow=[pr.Overflow(to=["C"], after=20.0)]),
                 pr.Group("C"))
    r = make(config)
    online(r, "carol", groups=["C"])
    assert r.submit("c1", "web", "A", now=0.0) == [queued("c1", 0.0, group="A")]
    assert r.advance(10.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0)]
    assert r.advance(19.0) == []
    # B's rule counts from the arrival, not from when B became eligible
    assert r.advance(20.0) == [
        pr.Overflowed(request="c1", group="B", to=("C",), reason="after", at=20.0),
        assigned("c1", "carol", 20.0, 20.0, group="C")]
    assert r.request("c1").eligible_groups == ("A", "B", "C")


def test_overflow_chain_a_b_c_at_submit(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], when_no_operators=True)]),
                 pr.Group("B", overflow=[pr.Overflow(to=["C"], when_no_operators=True)]),
                 pr.Group("C"))
    r = make(config)
    online(r, "carol", groups=["C"])
    assert r.submit("c1", "web", "A", now=1.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=1.0),
        pr.Overflowed(request="c1", group="B", to=("C",), reason="no_operators", at=1.0),
        assigned("c1", "carol", 1.0, group="C")]


def test_cyclic_chain_visits_each_group_once(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], when_no_operators=True)]),
                 pr.Group("B", overflow=[pr.Overflow(to=["C"], when_no_operators=True)]),
                 pr.Group("C", overflow=[pr.Overflow(to=["A", "B"], when_no_operators=True)]))
    r = make(config)
    assert r.submit("c1", "web", "A", now=1.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=1.0),
        pr.Overflowed(request="c1", group="B", to=("C",), reason="no_operators", at=1.0),
        queued("c1", 1.0, group="A")]
    assert r.request("c1").eligible_groups == ("A", "B", "C")
    for g in "ABC":
        assert r.queue(g) == ["c1"]
    assert r.stats(now=1.0).total.waiting == 1
    assert r.add_operator("x", ["B"], 1, status="online", now=2.0) == [
        assigned("c1", "x", 2.0, 1.0, group="B")]
    for g in "ABC":
        assert r.queue(g) == []


def test_overflowed_lists_only_the_groups_it_added(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], when_no_operators=True),
                                         pr.Overflow(to=["B", "C"], after=5.0),
                                         pr.Overflow(to=["C"], after=6.0)]),
                 pr.Group("B"), pr.Group("C"))
    r = make(config)
    assert r.submit("c1", "email", "A", now=0.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="no_operators", at=0.0),
        queued("c1", 0.0, group="A", channel="email")]
    assert r.advance(10.0) == [
        pr.Overflowed(request="c1", group="A", to=("C",), reason="after", at=5.0)]
    assert r.request("c1").eligible_groups == ("A", "B", "C")


def test_overflow_rule_with_several_targets_tries_them_in_order(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["C", "B"], when_no_operators=True)]),
                 pr.Group("B"), pr.Group("C"))
    r = make(config)
    online(r, "bob", groups=["B"])
    online(r, "carol", groups=["C"])
    assert r.submit("c1", "web", "A", now=1.0) == [
        pr.Overflowed(request="c1", group="A", to=("C", "B"), reason="no_operators", at=1.0),
        assigned("c1", "carol", 1.0, group="C")]
    assert r.submit("c2", "web", "A", now=1.0) == [
        pr.Overflowed(request="c2", group="A", to=("C", "B"), reason="no_operators", at=1.0),
        assigned("c2", "bob", 1.0, group="B")]


def test_overflow_into_a_hidden_group(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["vip"], after=1.0)]),
                 pr.Group("vip", hidden=True))
    r = make(config)
    online(r, "vera", groups=["vip"])
    r.submit("c1", "web", "A", now=0.0)
    assert r.advance(1.0) == [
        pr.Overflowed(request="c1", group="A", to=("vip",), reason="after", at=1.0),
        assigned("c1", "vera", 1.0, 1.0, group="vip")]


# ------------------------------------------------------------------------------ hidden

def test_submit_to_a_hidden_group_is_rejected(make):
    r = make(cfg(pr.Group("front"), pr.Group("secret", hidden=True)))
    online(r, "vera", groups=["secret"])
    assert r.submit("c1", "web", "secret", priority=2, now=3.0) == [
        pr.Rejected(request="c1", at=3.0, reason="hidden")]
    assert r.request("c1") == pr.RequestView(
        id="c1", state="rejected", channel="web", group="secret", priority=2, operator=None,
        arrived_at=3.0, eligible_groups=("secret",))
    assert r.operator("vera").load == 0
    with pytest.raises(pr.DuplicateId):
        r.submit("c1", "web", "front", now=4.0)
    with pytest.raises(pr.InvalidState):
        r.cancel("c1", now=4.0)


# ------------------------------------------------------------------------------ status

def _busy_alice(make, **kw):
    r = make(cfg(**kw))
    online(r, "alice", limit=2)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "email", "support", now=2.0)
    r.submit("c3", "email", "support", now=3.0)     # waits
    return r


@pytest.mark.parametrize("status", ["away", "offline"])
def test_leaving_online_keeps_the_conversations(make, status):
    r = _busy_alice(make)
    assert r.set_status("alice", status, now=5.0) == [
        pr.StatusChanged(operator="alice", status=status, at=5.0, reason="")]
    assert r.operator("alice") == pr.OperatorView(
        id="alice", status=status, limit=2, load=2, groups=("support",), active=("c1", "c2"))
    # no new work while not online, but held conversations can still be finished
    assert r.submit("c4", "web", "support", now=6.0) == [queued("c4", 6.0)]
    assert r.finish("c1", now=7.0) == [pr.Finished(request="c1", operator="alice", at=7.0)]
    assert r.queue("support") == ["c4", "c3"]
    # back online: takes the best waiting one into its free slot
    assert r.set_status("alice", "online", now=8.0) == [
        pr.StatusChanged(operator="alice", status="online", at=8.0, reason=""),
        assigned("c4", "alice", 8.0, 2.0)]


def test_requeue_sends_conversations_back_at_their_original_place(make):
    r = _busy_alice(make)
    r.submit("c5", "email", "support", now=4.0)
    assert r.set_status("alice", "away", now=10.0, requeue=True) == [
        pr.StatusChanged(operator="alice", status="away", at=10.0, reason=""),
        queued("c1", 10.0),
        queued("c2", 10.0, channel="email")]
    assert r.operator("alice").load == 0
    assert r.queue("support") == ["c1", "c2", "c3", "c5"]
    assert r.queue("support", "email") == ["c2", "c3", "c5"]
    assert r.request("c2").arrived_at == 2.0
    assert r.request("c2").operator is None
    assert r.add_operator("bob", ["support"], 2, status="online", now=12.0) == [
        # waited: since the requeue at 10 (their time with alice was not waiting)
        assigned("c1", "bob", 12.0, 2.0), assigned("c2", "bob", 12.0, 2.0, channel="email")]


def test_requeue_goes_straight_to_another_operator_with_room(make):
    r = _busy_alice(make)
    assert r.add_operator("bob", ["support"], 1, status="online", now=4.0) == [
        assigned("c3", "bob", 4.0, 1.0, channel="email")]
    online(r, "carol", limit=1, now=4.0)
    assert r.set_status("alice", "offline", now=5.0, requeue=True) == [
        pr.StatusChanged(operator="alice", status="offline", at=5.0, reason=""),
        assigned("c1", "carol", 5.0, 0.0),   # waiting since the requeue
        # the email queue served c3 after 1 s with bob and alice online (2 member-seconds);
        # with bob and carol online now: a rate of 1 a second
        queued("c2", 5.0, channel="email", expected_wait=1.0)]


def test_requeue_is_ignored_when_going_online(make):
    r = _busy_alice(make)
    r.set_status("alice", "away", now=4.0)
    assert r.set_status("alice", "online", now=5.0, requeue=True) == [
        pr.StatusChanged(operator="alice", status="online", at=5.0, reason="")]
    assert r.operator("alice").active == ("c1", "c2")


def test_same_status_emits_nothing(make):
    r = _busy_alice(make)
    assert r.set_status("alice", "online", now=5.0) == []
    r.set_status("alice", "away", now=6.0)
    assert r.set_status("alice", "away", now=7.0) == []
    # requeue also works without a status change
    assert r.set_status("alice", "away", now=8.0, requeue=True) == [
        queued("c1", 8.0), queued("c2", 8.0, channel="email")]


def test_away_and_offline_operators_get_nothing(make):
    r = make(cfg())
    r.add_operator("a", ["support"], 5, status="away", now=0.0)
    r.add_operator("o", ["support"], 5, status="offline", now=0.0)
    assert r.submit("c1", "web", "support", now=1.0) == [queued("c1", 1.0)]
    assert r.set_status("o", "away", now=2.0) == [
        pr.StatusChanged(operator="o", status="away", at=2.0, reason="")]
    assert r.set_status("o", "online", now=3.0) == [
        pr.StatusChanged(operator="o", status="online", at=3.0, reason=""),
        assigned("c1", "o", 3.0, 2.0)]


# ------------------------------------------------------------------------------ remove

def test_remove_operator_refuses_while_it_holds_conversations(make):
    r = _busy_alice(make)
    before = r._state()
    with pytest.raises(pr.InvalidState, match="requeue=True"):
        r.remove_operator("alice", now=5.0)
    assert r._state() == before
    assert r.operator("alice").active == ("c1", "c2")


def test_remove_operator_with_requeue(make):
    r = _busy_alice(make)
    assert r.add_operator("bob", ["support"], 1, status="online", now=4.0) == [
        assigned("c3", "bob", 4.0, 1.0, channel="email")]
    # the email queue served c3 after 1 s with bob and alice online (2 member-seconds);
    # bob alone now serves at half that rate: 2 s
    assert r.remove_operator("alice", now=5.0, requeue=True) == [
        queued("c1", 5.0), queued("c2", 5.0, channel="email", expected_wait=2.0)]
    with pytest.raises(pr.UnknownId):
        r.operator("alice")
    assert r.queue("support") == ["c1", "c2"]
    assert counts(r.stats(now=5.0).total) == pr.TotalStats(
        waiting=2, in_progress=1, online=1, free_slots=0, operators=1)
    # the id is free again
    assert r.add_operator("alice", ["support"], 1, status="online", now=6.0) == [
        assigned("c1", "alice", 6.0, 1.0)]   # waiting since the requeue at 5


def test_remove_an_idle_operator(make):
    r = make(cfg())
    online(r, "alice")
    assert r.remove_operator("alice", now=1.0) == []
    assert r.submit("c1", "web", "support", now=2.0) == [queued("c1", 2.0)]
    assert r.stats(now=2.0).total.operators == 0


# ------------------------------------------------------------------------------ set_groups

def test_set_groups_moves_an_operator_to_waiting_work(make):
    r = make(cfg(pr.Group("support"), pr.Group("sales")))
    online(r, "alice", groups=["support"], limit=2)
    r.submit("s1", "web", "sales", now=1.0)
    r.submit("s2", "email", "sales", now=2.0)
    r.submit("s3", "web", "sales", now=3.0)
    assert r.set_groups("alice", ["sales"], now=5.0) == [
        assigned("s1", "alice", 5.0, 4.0, group="sales"),
        assigned("s3", "alice", 5.0, 2.0, group="sales")]
    assert r.operator("alice").groups == ("sales",)
    assert r.submit("c1", "web", "support", now=6.0) == [queued("c1", 6.0)]


def test_set_groups_keeps_kept_groups_first_and_appends_new_ones(make):
    r = make(cfg(pr.Group("a"), pr.Group("b"), pr.Group("c")))
    r.add_operator("alice", ["a", "b"], 1, now=0.0)
    assert r.set_groups("alice", ["c", "b"], now=1.0) == []
    assert r.operator("alice").groups == ("b", "c")


def test_set_groups_does_not_take_held_conversations_away(make):
    r = make(cfg(pr.Group("support"), pr.Group("sales")))
    online(r, "alice", groups=["support"], limit=2)
    r.submit("c1", "web", "support", now=1.0)
    assert r.set_groups("alice", ["sales"], now=2.0) == []
    assert r.operator("alice").active == ("c1",)
    assert r.finish("c1", now=3.0) == [pr.Finished(request="c1", operator="alice", at=3.0)]


# ------------------------------------------------------------------------------ set_limit

def test_set_limit_raise_pulls_waiting_work(make):
    r = make(cfg())
    online(r, "alice", limit=1)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "email", "support", now=2.0)
    r.submit("c3", "web", "support", now=3.0)
    r.submit("c4", "email", "support", now=4.0)
    assert r.set_limit("alice", 3, now=5.0) == [
        assigned("c3", "alice", 5.0, 2.0), assigned("c2", "alice", 5.0, 3.0, channel="email")]
    assert r.operator("alice").load == 3
    assert r.queue("support") == ["c4"]


def test_set_limit_lowering_takes_nothing_away(make):
    r = make(cfg())
    online(r, "alice", limit=3)
    for i in range(4):
        r.submit(f"c{i}", "web", "support", now=1.0)
    assert r.set_limit("alice", 1, now=2.0) == []
    assert r.operator("alice") == pr.OperatorView(
        id="alice", status="online", limit=1, load=3, groups=("support",),
        active=("c0", "c1", "c2"))
    assert r.stats(now=2.0).total.free_slots == 0
    assert r.finish("c0", now=3.0) == [pr.Finished(request="c0", operator="alice", at=3.0)]
    assert r.finish("c1", now=4.0) == [pr.Finished(request="c1", operator="alice", at=4.0)]
    # load 1 = limit 1: still nothing
    assert r.queue("support") == ["c3"]
    assert r.finish("c2", now=5.0) == [pr.Finished(request="c2", operator="alice", at=5.0),
                                       assigned("c3", "alice", 5.0, 4.0)]


def test_limit_zero_receives_nothing(make):
    r = make(cfg())
    online(r, "alice", limit=0)
    assert r.submit("c1", "web", "support", now=1.0) == [queued("c1", 1.0)]
    assert r.set_limit("alice", 1, now=2.0) == [assigned("c1", "alice", 2.0, 1.0)]


# ------------------------------------------------------------------------------ timers

def _timer_router(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=10.0)))
    online(r, "bob", groups=["B"])
    assert r.submit("c1", "web", "A", now=0.0) == [queued("c1", 0.0, group="A")]
    return r


def test_timers_fire_at_the_start_of_submit_at_their_due_time(make):
    r = _timer_router(make)
    assert r.submit("c2", "web", "A", now=10.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0),
        assigned("c1", "bob", 10.0, 10.0, group="B"),
        queued("c2", 10.0, group="A")]


@pytest.mark.parametrize("call", [
    lambda r: r.set_limit("bob", 1, now=10.0),
    lambda r: r.set_status("bob", "online", now=10.0),
    lambda r: r.set_groups("bob", ["B"], now=10.0),
    lambda r: r.add_operator("zed", ["A"], 0, now=10.0),
    lambda r: r.cancel("other", now=10.0)[:-1],
    lambda r: r.apply(pr.Advance(now=10.0)),
    lambda r: r.apply_many([pr.Advance(now=10.0)]),
], ids=["set_limit", "set_status", "set_groups", "add_operator", "cancel", "apply",
        "apply_many"])
def test_timers_fire_at_the_start_of_any_call(make, call):
    r = _timer_router(make)
    r.submit("other", "email", "A", now=1.0)     # its own timer is due at 11
    assert call(r) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0),
        assigned("c1", "bob", 10.0, 10.0, group="B")]


def test_timers_fire_in_due_order_each_at_its_own_time(make):
    r = make(_two_groups(pr.Overflow(to=["B"], after=10.0)))
    r.add_operator("bob", ["B"], 1, now=0.0)
    r.submit("c1", "web", "A", now=2.0)
    r.submit("c2", "web", "A", now=1.0 + 1.0)
    r.submit("c3", "web", "A", now=3.0)
    assert r.set_status("bob", "online", now=15.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=12.0),
        pr.Overflowed(request="c2", group="A", to=("B",), reason="after", at=12.0),
        pr.Overflowed(request="c3", group="A", to=("B",), reason="after", at=13.0),
        pr.StatusChanged(operator="bob", status="online", at=15.0, reason=""),
        assigned("c1", "bob", 15.0, 13.0, group="B")]


def test_timer_not_yet_due_does_not_fire(make):
    r = _timer_router(make)
    assert r.set_limit("bob", 1, now=9.5) == []
    assert r.request("c1").eligible_groups == ("A",)


# ------------------------------------------------------------------------------ views

def test_views_operator_request_queue(make):
    r = make(cfg(pr.Group("support"), pr.Group("sales")))
    online(r, "alice", groups=["sales", "support"], limit=2)
    r.submit("c1", "web", "support", priority=3, visitor="v-17", now=1.0)
    r.submit("c2", "email", "sales", now=2.0)
    r.submit("c3", "email", "support", priority=-1, now=3.0)
    r.submit("c4", "web", "support", now=4.0)
    assert r.operator("alice") == pr.OperatorView(
        id="alice", status="online", limit=2, load=2, groups=("sales", "support"),
        active=("c1", "c2"))
    assert r.request("c1") == pr.RequestView(
        id="c1", state="active", channel="web", group="support", priority=3,
        operator="alice", arrived_at=1.0, eligible_groups=("support",), visitor="v-17")
    assert r.request("c3") == pr.RequestView(
        id="c3", state="queued", channel="email", group="support", priority=-1,
        operator=None, arrived_at=3.0, eligible_groups=("support",), position=1)
    assert r.queue("support") == ["c4", "c3"]
    assert r.queue("support", channel="email") == ["c3"]
    assert r.queue("support", channel="web") == ["c4"]
    assert r.queue("sales") == []
    r.finish("c2", now=5.0)
    assert r.request("c2") == pr.RequestView(
        id="c2", state="finished", channel="email", group="sales", priority=0,
        operator="alice", arrived_at=2.0, eligible_groups=("sales",))
    r.cancel("c3", now=6.0)
    assert r.request("c3") == pr.RequestView(
        id="c3", state="cancelled", channel="email", group="support", priority=-1,
        operator=None, arrived_at=3.0, eligible_groups=("support",))
    assert r.request("c4").state == "active"


def test_stats_counters(make):
    config = cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], when_queue_over=1)]),
                 pr.Group("B"))
    r = make(config)
    online(r, "alice", groups=["A"], limit=2)
    online(r, "bob", groups=["A", "B"], limit=1)
    r.add_operator("carol", ["B"], 4, status="away", now=0.0)
    r.submit("c1", "web", "A", now=1.0)         # alice
    r.submit("c2", "email", "A", now=1.0)       # bob: 1 free each, never assigned
    r.submit("c3", "web", "A", now=1.0)
    r.submit("c4", "email", "A", now=2.0)       # waits in A
    r.submit("c5", "web", "A", now=2.0)         # A has 1 waiting: overflows to B
    s = counts(r.stats(now=3.0))
    assert s == pr.Stats(
        at=3.0,
        total=pr.TotalStats(waiting=2, in_progress=3, online=2, free_slots=0, operators=3),
        channels={"web": pr.ChannelStats(waiting=1, in_progress=2, online=2, free_slots=0),
                  "email": pr.ChannelStats(waiting=1, in_progress=1, online=2, free_slots=0)},
        groups={"A": pr.GroupStats(waiting=2, in_progress=3, online=2, free_slots=0),
                "B": pr.GroupStats(waiting=1, in_progress=0, online=1, free_slots=0)})
    r.set_status("carol", "online", now=4.0)    # takes c5 through B
    r.finish("c1", now=5.0)                     # alice takes c4
    s = counts(r.stats(now=5.0))
    assert s.total == pr.TotalStats(waiting=0, in_progress=4, online=3, free_slots=3,
                                    operators=3)
    assert s.groups["B"] == pr.GroupStats(waiting=0, in_progress=1, online=2, free_slots=3)
    assert s.groups["A"] == pr.GroupStats(waiting=0, in_progress=3, online=2, free_slots=0)
    assert s.channels["web"] == pr.ChannelStats(waiting=0, in_progress=2, online=3,
                                                free_slots=3)



def counts(x):
    """Stats (or one part of them) with the plain counts only: without the outcome
    counters, longest waits and live figures, which tests/test_monitoring.py and
    tests/test_floor_monitoring.py check."""
    import msgspec
    if isinstance(x, pr.Stats):
        return msgspec.structs.replace(
            x, total=counts(x.total), channels={k: counts(v) for k, v in x.channels.items()},
            groups={k: counts(v) for k, v in x.groups.items()}, lines={})
    return type(x)(*(getattr(x, f.name) for f in msgspec.structs.fields(x) if f.required))

def test_stats_at_now_fires_what_is_due_and_the_next_call_tells_it(make):
    r = _timer_router(make)
    s = r.stats(now=50.0)
    assert s.total.waiting == 0 and s.groups["B"].in_progress == 1
    assert r.request("c1").eligible_groups == ("A", "B")
    assert r.now == 50.0
    assert r.advance(50.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0),
        assigned("c1", "bob", 10.0, 10.0, group="B")]
    assert r.advance(50.0) == []


# ------------------------------------------------------------------------------ commands

def _commands():
    return [
        pr.AddOperator(operator="alice", groups=("support",), limit=2, status="online",
                       now=0.0),
        pr.AddOperator(operator="bob", groups=("support", "sales"), limit=1, now=0.0),
        pr.Submit(request="c1", channel="web", group="support", now=1.0),
        pr.Submit(request="c2", channel="email", group="sales", priority=2, now=2.0),
        pr.SetStatus(operator="bob", status="online", now=3.0),
        pr.Submit(request="c3", channel="web", group="support", visitor="v1", now=4.0),
        pr.Submit(request="c4", channel="web", group="support", now=5.0),
        pr.Submit(request="c5", channel="web", group="A", now=5.0),
        pr.Finish(request="c1", now=6.0),
        pr.Cancel(request="c4", now=7.0),
        pr.SetLimit(operator="alice", limit=3, now=8.0),
        pr.SetGroups(operator="bob", groups=("sales",), now=9.0),
        pr.SetStatus(operator="alice", status="away", requeue=True, now=10.0),
        pr.Advance(now=70.0),
        pr.Submit(request="c6", channel="email", group="support", now=71.0),
        pr.RemoveOperator(operator="alice", now=72.0),
        pr.RemoveOperator(operator="bob", requeue=True, now=73.0),
    ]


def _by_methods(r):
    ev = []
    for c in _commands():
        if isinstance(c, pr.AddOperator):
            ev += r.add_operator(c.operator, list(c.groups), c.limit, status=c.status, now=c.now)
        elif isinstance(c, pr.Submit):
            ev += r.submit(c.request, c.channel, c.group, priority=c.priority,
                           visitor=c.visitor, now=c.now)
        elif isinstance(c, pr.SetStatus):
            ev += r.set_status(c.operator, c.status, now=c.now, requeue=c.requeue)
        elif isinstance(c, pr.Finish):
            ev += r.finish(c.request, now=c.now)
        elif isinstance(c, pr.Cancel):
            ev += r.cancel(c.request, now=c.now)
        elif isinstance(c, pr.SetLimit):
            ev += r.set_limit(c.operator, c.limit, now=c.now)
        elif isinstance(c, pr.SetGroups):
            ev += r.set_groups(c.operator, list(c.groups), now=c.now)
        elif isinstance(c, pr.RemoveOperator):
            ev += r.remove_operator(c.operator, now=c.now, requeue=c.requeue)
        else:
            ev += r.advance(now=c.now)
    return ev


def _cmd_config():
    return cfg(pr.Group("support"), pr.Group("sales"),
               pr.Group("A", overflow=[pr.Overflow(to=["support"], after=60.0)]))


def test_apply_and_apply_many_give_the_same_events_as_the_methods(make):
    by_methods = make(_cmd_config())
    expected = _by_methods(by_methods)
    assert len(expected) >= 12
    assert any(isinstance(e, pr.Overflowed) for e in expected)
    one_by_one = make(_cmd_config())
    ev = []
    for c in _commands():
        ev += one_by_one.apply(c)
    assert ev == expected
    batch = make(_cmd_config())
    assert batch.apply_many(_commands()) == expected
    assert batch.apply_many(iter([])) == []
    assert batch._state() == by_methods._state() == one_by_one._state()


def test_apply_many_failure_carries_index_and_the_events_of_the_prefix(make):
    r = make(_cmd_config())
    cmds = [pr.AddOperator(operator="alice", groups=("support",), limit=1, status="online",
                           now=0.0),
            pr.Submit(request="c1", channel="web", group="support", now=1.0),
            pr.Finish(request="nope", now=2.0),
            pr.Submit(request="c2", channel="web", group="support", now=3.0)]
    with pytest.raises(pr.BatchError) as ei:
        r.apply_many(cmds)
    err = ei.value
    assert err.index == 2
    assert isinstance(err.error, pr.UnknownId)
    assert err.__cause__ is err.error
    assert "nope" in str(err) and "2" in str(err)
    assert err.events == [assigned("c1", "alice", 1.0)]
    # the prefix stays applied, nothing after the failure is
    assert r.request("c1").state == "active"
    with pytest.raises(pr.UnknownId):
        r.request("c2")
    assert r.submit("c2", "web", "support", now=3.0) == [queued("c2", 3.0)]


def test_apply_many_first_command_failing_changes_nothing(make):
    r = make(_cmd_config())
    online(r, "alice")
    before = r._state()
    with pytest.raises(pr.BatchError) as ei:
        r.apply_many([pr.Advance(now=-1.0), pr.Submit(request="c1", channel="web",
                                                      group="support", now=1.0)])
    assert ei.value.index == 0 and ei.value.events == []
    assert isinstance(ei.value.error, pr.TimeError)
    assert r._state() == before


# ------------------------------------------------------------------------------ history

def test_finished_ids_stay_reserved_and_visible(make):
    r = make(cfg())
    online(r, "alice")
    r.submit("c1", "web", "support", now=1.0)
    r.finish("c1", now=2.0)
    with pytest.raises(pr.DuplicateId, match="c1"):
        r.submit("c1", "web", "support", now=3.0)
    assert r.request("c1").state == "finished"
    with pytest.raises(pr.InvalidState, match="finished"):
        r.finish("c1", now=3.0)


def test_history_is_bounded_fifo(make):
    r = make(cfg(history=2))
    online(r, "alice", limit=5)
    for i in range(1, 4):
        r.submit(f"c{i}", "web", "support", now=1.0)
    r.finish("c2", now=2.0)
    r.finish("c1", now=3.0)
    r.submit("q", "web", "support", now=3.0)
    r.cancel("q", now=4.0)              # cancelled ones count too: evicts c2
    with pytest.raises(pr.UnknownId):
        r.request("c2")
    assert r.request("c1").state == "finished"
    assert r.request("q").state == "cancelled"
    # an evicted id can be used again
    assert r.submit("c2", "web", "support", now=5.0) == [assigned("c2", "alice", 5.0)]
    with pytest.raises(pr.DuplicateId):
        r.submit("c1", "web", "support", now=5.0)
    r.finish("c3", now=6.0)              # evicts c1
    with pytest.raises(pr.UnknownId):
        r.request("c1")
    assert r.request("c3").state == "finished"


def test_history_zero_keeps_nothing(make):
    r = make(cfg(history=0))
    online(r, "alice")
    r.submit("c1", "web", "support", now=1.0)
    r.finish("c1", now=2.0)
    with pytest.raises(pr.UnknownId):
        r.request("c1")
    with pytest.raises(pr.UnknownId):
        r.finish("c1", now=2.0)
    assert r.submit("c1", "web", "support", now=3.0) == [assigned("c1", "alice", 3.0)]


def test_clock_fills_now(make):
    ticks = iter([5.0, 6.0, 7.0, 8.0])
    r = make(cfg(), clock=lambda: next(ticks))
    assert r.add_operator("alice", ["support"], 1, status="online") == []
    assert r.submit("c1", "web", "support") == [assigned("c1", "alice", 6.0)]
    assert r.finish("c1") == [pr.Finished(request="c1", operator="alice", at=7.0)]
    assert r.stats().at == 8.0


# ------------------------------------------------------------------------------ documented corners

def test_remove_operator_requeues_what_a_timer_gave_it_in_the_same_call(make):
    # docs/semantics.md: what an overflow timer assigns to the operator at the start of
    # the call has not been told yet: it does not count as held, and is requeued too
    r = _timer_router(make)
    assert r.remove_operator("bob", now=10.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0),
        assigned("c1", "bob", 10.0, 10.0, group="B"),
        queued("c1", 10.0, group="A")]
    assert r.request("c1").state == "queued"
    assert r.queue("B") == ["c1"]


def test_a_call_that_raises_fires_what_is_due_and_the_next_call_tells_it(make):
    r = _timer_router(make)
    # checked at now: the timer due by now has assigned c1, so cancelling an unknown id
    # is refused after it fired; its events come with the next accepted call
    with pytest.raises(pr.UnknownId):
        r.cancel("ghost", now=12.0)
    assert r.request("c1").state == "active"
    assert r.now == 10.0           # the clock went as far as the timer, not to 12
    assert r.advance(10.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="after", at=10.0),
        assigned("c1", "bob", 10.0, 10.0, group="B")]
    assert r.finish("c1", now=12.0) == [pr.Finished(request="c1", operator="bob", at=12.0)]


@pytest.mark.parametrize("membership, via", [(["B", "A"], "B"), (["A", "B"], "A")])
def test_same_conversation_at_the_head_of_two_queues_goes_through_the_first_group(
        make, membership, via):
    r = make(_two_groups(pr.Overflow(to=["B"], when_queue_over=0)))
    r.add_operator("x", membership, 1, now=0.0)
    assert r.submit("c1", "web", "A", now=1.0) == [
        pr.Overflowed(request="c1", group="A", to=("B",), reason="queue_over", at=1.0),
        queued("c1", 1.0, group="A")]
    assert r.set_status("x", "online", now=2.0) == [
        pr.StatusChanged(operator="x", status="online", at=2.0, reason=""),
        assigned("c1", "x", 2.0, 1.0, group=via)]
    assert r.stats(now=2.0).groups[via].in_progress == 1


def test_higher_group_priority_wins_for_the_same_conversation(make):
    r = make(cfg(pr.Group("A", overflow=[pr.Overflow(to=["B"], when_queue_over=0)]),
                 pr.Group("B", priority=1)))
    r.add_operator("x", ["A", "B"], 1, now=0.0)
    r.submit("c1", "web", "A", now=1.0)
    assert r.set_status("x", "online", now=2.0)[-1] == assigned("c1", "x", 2.0, 1.0, group="B")


def test_requeued_conversation_view(make):
    r = _busy_alice(make)
    r.set_status("alice", "offline", now=5.0, requeue=True)
    assert r.request("c1") == pr.RequestView(
        id="c1", state="queued", channel="web", group="support", priority=0, operator=None,
        arrived_at=1.0, eligible_groups=("support",), position=1)   # nothing served yet
    assert r.operator("alice") == pr.OperatorView(
        id="alice", status="offline", limit=2, load=0, groups=("support",), active=())


def test_history_ring_wraps_around(make):
    config = cfg(pr.Group("support"), pr.Group("vip", hidden=True), history=3)
    r = make(config)
    online(r, "alice", limit=20)
    ended = []
    for i in range(10):
        rid = f"c{i}"
        if i % 3 == 2:
            assert r.submit(rid, "web", "vip", now=float(i)) == [
                pr.Rejected(request=rid, at=float(i), reason="hidden")]
        else:
            r.submit(rid, "web", "support", now=float(i))
            if i % 3 == 0:
                r.finish(rid, now=float(i))
            else:
                r.cancel(rid, now=float(i))
        ended.append(rid)
    for rid in ended[:-3]:
        with pytest.raises(pr.UnknownId):
            r.request(rid)
    assert [r.request(rid).state for rid in ended[-3:]] == ["cancelled", "rejected", "finished"]
    # evicted ids are free, kept ones are not
    assert r.submit("c0", "web", "support", now=20.0) == [assigned("c0", "alice", 20.0)]
    with pytest.raises(pr.DuplicateId):
        r.submit("c8", "web", "support", now=20.0)
    assert [v.id for v in r._state()["history"]] == ["c7", "c8", "c9"]


def test_history_keeps_the_operator_and_the_eligible_groups(make):
    r = make(_two_groups(pr.Overflow(to=["B"], when_no_operators=True)))
    online(r, "bob", groups=["B"])
    r.submit("c1", "web", "A", priority=4, now=1.0)
    r.finish("c1", now=2.0)
    r.remove_operator("bob", now=3.0)
    expected = pr.RequestView(id="c1", state="finished", channel="web", group="A", priority=4,
                              operator="bob", arrived_at=1.0, eligible_groups=("A", "B"))
    assert r.request("c1") == expected
    # a new operator with the same id does not change what history says
    online(r, "bob", groups=["A"], now=4.0)
    r.remove_operator("bob", now=5.0)
    assert r.request("c1") == expected


def test_apply_each_answers_every_command_on_its_own(make):
    """A platform hands the router a shift's worth of commands at once and must answer
    each sender: Alice comes online, two chats arrive, a colleague's client finishes a
    chat that does not exist, a third chat arrives, Alice finishes the first. The refused
    finish is an answer of its own (UnknownId, not raised) and changes nothing: the chats
    after it are routed exactly as if it had never been sent, each command's events
    are what its method call returns."""
    cmds = [pr.AddOperator(operator="alice", groups=("support",), limit=2, status="online",
                           now=0.0),
            pr.Submit(request="c1", channel="web", group="support", now=1.0),
            pr.Submit(request="c2", channel="web", group="support", now=2.0),
            pr.Finish(request="nope", now=3.0),
            pr.Submit(request="c3", channel="web", group="support", now=4.0),
            pr.Finish(request="c1", now=5.0)]
    got = make(_cmd_config()).apply_each(cmds)
    assert len(got) == len(cmds)
    assert isinstance(got[3], pr.UnknownId) and "nope" in str(got[3])
    by_methods = make(_cmd_config())
    want = [by_methods.apply(c) for c in cmds[:3] + cmds[4:]]
    assert got[:3] + got[4:] == want
    assert [type(e).__name__ for e in got[4]] == ["Queued"]          # Alice is full
    assert [(type(e).__name__, e.request) for e in got[5]] == [("Finished", "c1"),
                                                              ("Assigned", "c3")]
    assert make(_cmd_config()).apply_each([]) == []


def test_apply_each_refuses_garbage_item_by_item(make):
    """Garbage inside the batch is answered where it stands; garbage instead of a batch is
    refused whole, and nothing changes."""
    r = make(_cmd_config())
    got = r.apply_each([pr.Advance(now=1.0), "submit c1", None,
                        pr.Submit(request="c1", channel="web", group="nowhere", now=2.0),
                        pr.Advance(now=0.5)])
    assert got[0] == []
    assert [type(x) for x in got[1:]] == [pr.InvalidArgument, pr.InvalidArgument,
                                          pr.UnknownId, pr.TimeError]
    assert r.now == 1.0
    for bad in (None, 5, pr.Advance(now=9.0)):
        with pytest.raises(pr.InvalidArgument, match="iterable of command structs"):
            r.apply_each(bad)
    twin = make(_cmd_config())
    twin.advance(now=1.0)
    assert r.now == 1.0 and r._state() == twin._state()
