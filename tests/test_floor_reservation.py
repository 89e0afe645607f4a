"""Blending: a waiting call is never starved by chats (reservations), on both engines.

A call takes all of an operator's slots (``Channel(cost="all")``). While operators hold
chats it fits nobody; the router then reserves the operator who will drain soonest, feeds
it no work ranked below the call, and gives it the call as soon as it is empty.
"""

from __future__ import annotations

import pytest

import pyroute as pr


def floor(reserve=True, **group):
    return pr.RouterConfig(
        channels=[pr.Channel("chat", priority=0, target_wait=60.0),
                  pr.Channel("phone", priority=10, target_wait=20.0, cost="all",
                             reserve=reserve),
                  pr.Channel("email", priority=0, target_wait=3600.0, cost=2)],
        groups=[pr.Group("support", **group), pr.Group("sales")])


def staff(r, names="abcde", limit=3, groups=("support",)):
    for op in names:
        r.add_operator(op, list(groups), limit, status="online", now=0.0)


def busy_floor(r, chats=15):
    """Five agents with three chats each (even policy: round by round)."""
    staff(r)
    for i in range(chats):
        r.submit(f"chat{i}", "chat", "support", now=float(i) * 0.1)


def assigned(events, request):
    return [e for e in events if isinstance(e, pr.Assigned) and e.request == request]


def test_call_waiting_while_chats_keep_arriving_gets_the_first_operator_who_drains(make):
    r = make(floor())
    busy_floor(r)
    assert r.submit("call", "phone", "support", now=10.0) == [
        pr.Queued(request="call", group="support", channel="phone", at=10.0, position=1)]
    # all need three slots freed; "a" was assigned longest ago
    assert r.request("call").reserved == "a"
    assert r.operator("a").reserved_for == "call"
    assert r.operator("b").reserved_for is None
    # a chat stream: every 2 s someone finishes their oldest chat and a new chat arrives
    n = 15
    t = 10.0
    answered_at = None
    took_chats = {op: 0 for op in "abcde"}
    for step in range(30):
        t += 2.0
        op = "abcde"[step % 5]
        held = r.operator(op).active
        events = r.finish(held[0], now=t) if held else []
        if assigned(events, "call"):
            answered_at = (t, assigned(events, "call")[0].operator)
            break
        events += r.submit(f"chat{n}", "chat", "support", now=t)
        n += 1
        for e in events:
            if isinstance(e, pr.Assigned):
                took_chats[e.operator] += 1
    # "a" finished its third chat at its third turn (steps 0, 5, 10): the call goes there
    assert answered_at == (10.0 + 2.0 * 11, "a")
    assert took_chats["a"] == 0          # nothing below the call went to the reserved agent
    assert sum(took_chats.values()) == 8  # the others kept taking the chat stream
    assert r.operator("a").reserved_for is None
    assert r.request("call").state == "active"


def test_without_reserve_the_call_waits_as_long_as_chats_keep_arriving(make):
    r = make(floor(reserve=False))
    busy_floor(r)
    r.submit("call", "phone", "support", now=10.0)
    assert r.request("call").reserved is None
    t, n = 10.0, 15
    for step in range(30):
        t += 2.0
        op = "abcde"[step % 5]
        events = r.finish(r.operator(op).active[0], now=t)
        events += r.submit(f"chat{n}", "chat", "support", now=t)
        n += 1
        assert not assigned(events, "call")   # every freed slot takes the next chat
    assert r.request("call").state == "queued"


def test_a_backlog_of_low_priority_chats_behind_a_call_waits_for_it(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    for i in range(4, 8):                               # a backlog builds behind the call
        assert r.submit(f"chat{i}", "chat", "support", now=6.0 + i)[0] == pr.Queued(
            request=f"chat{i}", group="support", channel="chat", at=6.0 + i, position=i - 3)
    assert r.request("call").reserved == "a"
    # a frees a slot: the backlog chat that arrived later does not take it
    events = r.finish("chat0", now=20.0)
    assert [type(e) for e in events] == [pr.Finished]
    # b frees a slot: b is not reserved and takes the oldest backlog chat
    assert assigned(r.finish("chat1", now=21.0), "chat4")[0].operator == "b"
    # a drains: the call first
    events = r.finish("chat2", now=22.0)
    assert assigned(events, "call")[0].operator == "a"
    assert r.queue("support") == ["chat5", "chat6", "chat7"]


def test_higher_ranked_chats_still_reach_the_reserved_operator(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    assert r.request("call").reserved == "a"
    r.submit("vip", "chat", "support", priority=50, now=6.0)   # ranks above the call
    assert assigned(r.finish("chat0", now=7.0), "vip")[0].operator == "a"
    assert r.operator("a").reserved_for == "call"


def test_the_reserved_agent_goes_offline_and_the_next_who_drains_soonest_is_reserved(make):
    r = make(floor())
    staff(r, "abc", limit=3)
    for i in range(7):              # a, b hold 2 and c holds 3 (even: most free slots)
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    loads = {op: r.operator(op).load for op in "abc"}
    assert sorted(loads.values()) == [2, 2, 3]
    r.submit("call", "phone", "support", now=10.0)
    first = r.request("call").reserved
    assert loads[first] == 2
    r.set_status(first, "away", now=11.0)
    second = r.request("call").reserved
    assert second not in (None, first) and loads[second] == 2
    assert r.operator(first).reserved_for is None
    assert r.operator(second).reserved_for == "call"
    # removed (with its chats requeued) -> the last one left is reserved
    r.remove_operator(second, now=12.0, requeue=True)
    assert r.request("call").reserved not in (None, first, second)


def test_the_call_is_cancelled_and_the_agent_is_fed_chats_again_at_once(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    r.finish("chat0", now=6.0)                       # a: one free slot, held for the call
    r.submit("chat4", "chat", "support", now=7.0)    # waits: a is held, b is full
    assert r.request("chat4").state == "queued"
    events = r.cancel("call", now=8.0)
    assert events[0] == pr.Cancelled(request="call", at=8.0, waited=3.0, early=True)
    assert assigned(events, "chat4")[0].operator == "a"
    assert r.operator("a").reserved_for is None


def test_a_cost_two_email_reserves_too_and_chat_only_floors_never_reserve(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(3):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    # a holds 2, b holds 1: the email (2 slots) fits nobody; b drains soonest
    r.submit("mail", "email", "support", now=4.0)
    assert r.request("mail").reserved == "b"
    r.submit("chat3", "chat", "support", now=5.0)     # b is held, a is full: it waits
    assert r.request("chat3").state == "queued"
    events = r.finish("chat1", now=6.0)               # b's chat
    assert assigned(events, "mail")[0].operator == "b"
    # chats alone: a chat that waits reserves nobody
    r2 = make(floor())
    staff(r2, "a", limit=1)
    r2.submit("x", "chat", "support", now=0.0)
    r2.submit("y", "chat", "support", now=1.0)
    assert r2.request("y").reserved is None and r2.operator("a").reserved_for is None
    assert r2.stats(now=2.0).total.reserved == 0


def test_a_supervisor_sees_the_reservation_in_stats(make):
    r = make(floor())
    staff(r, "ab", limit=1, groups=("support", "sales"))
    r.submit("chat0", "chat", "support", now=0.0)
    r.submit("chat1", "chat", "support", now=0.0)
    r.submit("call", "phone", "support", now=1.0)
    s = r.stats(now=2.0)
    assert s.channels["phone"].reserved == 1 and s.channels["chat"].reserved == 0
    assert s.groups["support"].reserved == 1 and s.groups["sales"].reserved == 1
    assert s.total.reserved == 1


def test_a_call_that_nobody_can_ever_take_reserves_nobody(make):
    r = make(floor())
    r.add_operator("bot", ["support"], 0, status="online", now=0.0)   # limit 0
    r.add_operator("z", ["sales"], 3, status="online", now=0.0)      # not in the group
    r.submit("call", "phone", "support", now=1.0)
    assert r.request("call").reserved is None
    # someone who could take it comes online: reserved at once (it is busy with nothing,
    # so it simply takes it)
    r.add_operator("a", ["support"], 3, status="online", now=2.0)
    assert r.request("call").state == "active"


def test_a_new_colleague_with_chats_is_reserved_when_they_join(make):
    r = make(floor())
    staff(r, "a", limit=1)
    r.submit("chat0", "chat", "support", now=0.0)
    r.submit("call0", "phone", "support", now=1.0)
    r.submit("call1", "phone", "support", now=2.0)   # a is taken by call0's reservation
    assert (r.request("call0").reserved, r.request("call1").reserved) == ("a", None)
    r.add_operator("b", ["sales"], 2, status="online", now=3.0)
    r.submit("chat1", "chat", "sales", now=4.0)
    r.set_groups("b", ["sales", "support"], now=5.0)  # joins support with a chat
    assert r.request("call1").reserved == "b"
    # call0 answered by a when its chat ends; b still drains for call1
    assert assigned(r.finish("chat0", now=6.0), "call0")[0].operator == "a"
    assert assigned(r.finish("chat1", now=7.0), "call1")[0].operator == "b"


def test_limit_lowered_below_the_cost_frees_the_reservation(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("mail", "email", "support", now=5.0)
    assert r.request("mail").reserved == "a"
    r.set_limit("a", 1, now=6.0)                      # can never take a 2-slot email
    assert r.request("mail").reserved == "b"
    assert r.operator("a").reserved_for is None


def test_the_pick_skips_an_agent_held_for_a_call(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    r.submit("chat0", "chat", "support", now=0.0)
    r.submit("chat1", "chat", "support", now=0.0)
    r.submit("chat2", "chat", "support", now=0.0)     # a: 2, b: 1
    r.submit("call", "phone", "support", now=1.0)
    assert r.request("call").reserved == "b"
    assert r.pick("support", "chat") is None          # b has a free slot, but is held
    assert r.pick("support", "phone") is None


@pytest.fixture
def xmake(engine):
    def factory(config, **kw):
        router = engine(config, explain=True, **kw)
        router.check()
        return router
    return factory


def test_explain_names_the_reserved_agent_and_the_held_one(xmake):
    r = xmake(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    e = r.explain("call")
    assert (e.decision, e.rule, e.reserved) == ("queued", "draining", "a")
    assert "'a' is reserved for it" in e.reason
    r.finish("chat0", now=6.0)
    r.submit("chat4", "chat", "support", now=7.0)
    e = r.explain("chat4")
    verdicts = {c.operator: c.verdict for c in e.candidates}
    assert verdicts == {"a": "held", "b": "full"}
    assert "reserved for 'call'" in [c.detail for c in e.candidates if c.operator == "a"][0]


def test_a_call_transferred_to_a_busy_colleague_reserves_them(make):
    r = make(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    assert r.request("call").reserved == "a"
    r.transfer("call", operator="b", now=6.0)     # waits for b alone: b drains for it
    assert (r.request("call").reserved, r.operator("a").reserved_for) == ("b", None)
    r.submit("chat4", "chat", "support", now=7.0)
    events = r.finish("chat1", now=8.0)            # b frees a slot: no chat for b
    assert not [e for e in events if isinstance(e, pr.Assigned)]
    assert assigned(r.finish("chat3", now=9.0), "call")[0].operator == "b"


def test_an_overflow_group_with_a_free_agent_takes_the_call_and_the_reserved_one_is_fed(make):
    r = make(floor(overflow=[pr.Overflow(to=["sales"], after=30.0)]))
    staff(r, "a", limit=1)
    r.add_operator("s", ["sales"], 1, status="online", now=0.0)
    r.submit("chat0", "chat", "support", now=0.0)
    r.submit("call", "phone", "support", now=1.0)
    assert r.request("call").reserved == "a"
    r.submit("chat1", "chat", "support", now=2.0)  # queued behind the call
    events = r.advance(now=31.0)                    # the call overflows to sales: s takes it
    assert assigned(events, "call")[0].operator == "s"
    assert r.operator("a").reserved_for is None


@pytest.mark.parametrize("engine_name", ["native", "reference"])
def test_a_reservation_survives_a_snapshot(engine_name):
    from conftest import ENGINES
    cls = ENGINES[engine_name]
    r = cls(floor())
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    r.submit("call", "phone", "support", now=5.0)
    again = cls._restore(floor(), r._snapshot())
    again.check()
    assert again._state() == r._state()
    assert again.stats(now=6.0) == r.stats(now=6.0)
    assert again.operator("a").reserved_for == "call"


def test_a_call_offered_to_the_drained_agent_and_declined_reserves_the_next(make):
    r = make(floor(accept_timeout=15.0))
    staff(r, "ab", limit=2)
    for i in range(4):
        r.submit(f"chat{i}", "chat", "support", now=float(i))
    for i in range(4):
        r.accept(f"chat{i}", now=4.0)
    r.submit("call", "phone", "support", now=5.0)
    assert r.request("call").reserved == "a"
    r.finish("chat0", now=6.0)
    events = r.finish("chat2", now=7.0)               # a is empty: the call is offered
    assert [type(e) for e in events] == [pr.Finished, pr.Offered]
    assert r.request("call").reserved is None
    r.submit("chat4", "chat", "support", now=8.0)    # a is full (the offer), b full
    events = r.decline("call", now=9.0)               # back to the queue: b drains for it
    assert r.request("call").reserved == "b"
    assert [e.request for e in events if isinstance(e, pr.Offered)] == ["chat4"]  # a's pull
