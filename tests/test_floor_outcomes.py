"""The outcome counters as a support lead reads them: one glossary for live ``stats()`` and
the simulator (docs/semantics.md, "Glossary of outcomes"), counters by where work was
handled, and channel switches that are not abandonment. On both engines."""

from __future__ import annotations

import msgspec
import pytest

import pyroute as pr
from conftest import cfg
from pyroute.protocol import record
from pyroute.sim import scenario_from
from pyroute.sim.engine import _simulate


def lines_floor(**first):
    return cfg(pr.Group("bots", line=0, escalate_to="first"),
               pr.Group("first", line=1, escalate_to="billing", **first),
               pr.Group("billing", line=2, hidden=True))


# ------------------------------------------------------------------ where work was handled
def test_a_customer_escalated_from_the_bot_to_line_1_counts_as_answered_by_line_1(make):
    """A customer escalated from the bot to line 1 counts as answered by line 1, with the
    wait in line 1's queue, and the bot's row shows it as handled by the bot."""
    r = make(lines_floor())
    r.add_operator("bot", ["bots"], 1000, status="online", kind="bot", now=0.0)
    r.add_operator("alice", ["first"], 1, status="online", now=0.0)
    r.submit("walk-in", "web", "first", now=0.0)                  # alice is busy with it
    assert r.submit("c1", "web", "bots", now=0.0)[0].operator == "bot"
    ev = r.escalate("c1", now=100.0)                               # 100 s with the bot
    assert isinstance(ev[-1], pr.Queued)
    ev = r.finish("walk-in", now=140.0)
    assigned = ev[-1]
    assert (assigned.operator, assigned.group) == ("alice", "first")
    assert assigned.waited == 40.0          # waiting in line 1's queue, not 140 s
    st = r.stats(now=150.0)
    # the customer is answered once on the channel, at the bot, at once
    web = st.channels["web"].outcomes
    assert (web.answered, web.mean_wait, web.service_level) == (2, 0.0, 1.0)
    # the bot handled it; line 1 answered it after 40 s in its queue (target 30 s)
    bots, first = st.groups["bots"].outcomes, st.groups["first"].outcomes
    assert (bots.answered, bots.mean_wait, bots.service_level) == (1, 0.0, 1.0)
    assert (first.answered, first.mean_wait, first.service_level) == (2, 20.0, 0.5)
    assert st.lines[0].answered == 1 and st.lines[1].answered == 2
    assert st.lines[2].answered == 0 and st.total.outcomes.answered == 2
    # a cancel while with alice: waited is the wait before alice's answer
    assert r.cancel("c1", now=160.0)[0].waited == 40.0


def test_a_customer_left_waiting_after_escalation_is_abandoned_in_line_1_not_on_the_channel(make):
    r = make(lines_floor())
    r.add_operator("bot", ["bots"], 1000, status="online", kind="bot", now=0.0)
    r.submit("c1", "web", "bots", now=0.0)
    r.escalate("c1", now=30.0)                                      # nobody in line 1
    ev = r.cancel("c1", now=100.0)
    assert ev == [pr.Cancelled(request="c1", at=100.0, waited=70.0, early=False)]
    st = r.stats(now=100.0)
    assert st.channels["web"].outcomes.answered == 1                # the bot answered it
    assert st.channels["web"].outcomes.abandoned == 0
    assert st.groups["bots"].outcomes.answered == 1
    first = st.groups["first"].outcomes
    assert (first.answered, first.abandoned, first.service_level) == (0, 1, 0.0)


def test_a_customer_requeued_when_the_operator_left_waits_from_the_requeue(make):
    r = make(cfg())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.add_operator("bob", ["support"], 1, now=0.0)
    r.submit("c1", "web", "support", now=0.0)
    r.set_status("alice", "away", requeue=True, now=50.0)          # back to the queue
    ev = r.set_status("bob", "online", now=80.0)
    assert ev[-1].operator == "bob" and ev[-1].waited == 30.0
    out = r.stats(now=80.0).groups["support"].outcomes
    assert (out.answered, out.mean_wait) == (1, 0.0)               # one stay, counted once


def test_a_conversation_transferred_to_billing_counts_there_too(make):
    r = make(lines_floor())
    r.add_operator("alice", ["first"], 1, status="online", now=0.0)
    r.add_operator("bob", ["billing"], 1, status="online", now=0.0)
    r.submit("other", "web", "billing", now=0.0)     # hidden: refused, counted in billing
    r.submit("c1", "web", "first", now=0.0)
    ev = r.transfer("c1", group="billing", now=60.0)
    assert ev[-1].operator == "bob" and ev[-1].waited == 0.0
    st = r.stats(now=60.0)
    assert st.groups["first"].outcomes.answered == 1
    billing = st.groups["billing"].outcomes
    assert (billing.answered, billing.rejected, billing.submitted) == (1, {"hidden": 1}, 1)
    assert st.channels["web"].outcomes.answered == 1
    assert st.channels["web"].outcomes.submitted == 2


# ------------------------------------------------------------------ the glossary
def test_three_customers_who_cancel_within_10_s_are_early_cancels_not_abandoned(make):
    """Three customers cancel within 10 s: they are early cancels, not abandoned, and do
    not drag service level."""
    r = make(cfg())
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("served", "web", "support", now=0.0)                 # answered at once
    for i in range(3):
        r.submit(f"oops{i}", "web", "support", now=1.0)
    for i, at in enumerate((5.0, 8.0, 10.0)):
        assert r.cancel(f"oops{i}", now=at)[0].early
    out = r.stats(now=10.0).channels["web"].outcomes
    assert (out.cancelled_early, out.abandoned) == (3, 0)
    assert (out.service_level, out.p_abandon) == (1.0, 0.0)
    # a real abandonment does count
    r.submit("gone", "web", "support", now=20.0)
    r.cancel("gone", now=80.0)
    out = r.stats(now=80.0).channels["web"].outcomes
    assert (out.cancelled_early, out.abandoned, out.service_level, out.p_abandon) == (
        3, 1, 0.5, 0.5)
    # an answered customer who hangs up early stays answered
    r.finish("served", now=81.0)
    r.submit("quick", "web", "support", now=82.0)
    assert r.cancel("quick", now=85.0)[0].early
    out = r.stats(now=85.0).channels["web"].outcomes
    assert (out.answered, out.cancelled_early, out.submitted) == (2, 3, 6)


def test_two_refused_at_the_door_count_as_misses_in_service_level(make):
    """Two refused at the door count as misses in service level (live; the simulator
    below counts them the same)."""
    r = make(cfg(pr.Group("support", max_queue=0)))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    assert isinstance(r.submit("c1", "web", "support", now=0.0)[0], pr.Assigned)
    for rid in ("c2", "c3"):
        assert r.submit(rid, "web", "support", now=1.0)[-1].reason == "overloaded"
    for out in (r.stats(now=2.0).channels["web"].outcomes,
                r.stats(now=2.0).groups["support"].outcomes,
                r.stats(now=2.0).total.outcomes):
        assert out.rejected == {"overloaded": 2}
        assert out.service_level == pytest.approx(1 / 3)
        assert out.p_abandon == 0.0 and out.submitted == 3


def test_refused_customers_are_misses_in_the_simulator_too():
    sc = scenario_from(day(max_queue=0, rate=0.05))
    report, router = _simulate(sc)
    web = report.channels["web"]
    assert web.rejected > 0
    assert web.service_level == pytest.approx(
        router.stats(now=router.now).channels["web"].outcomes.service_level)
    assert web.service_level < web.service_level_answered


# ------------------------------------------------------------------ channel switches
def switch_floor():
    return cfg(channels=[
        pr.Channel("chat", target_wait=30.0,
                   retention=[pr.Retention(after=60.0, action="offer_callback")]),
        pr.Channel("callback", target_wait=3600.0)])


def test_a_customer_who_asked_for_a_call_back_is_switched_not_abandoned(make):
    """A customer who asked for a call-back is switched, not abandoned, and the call-back
    links to the chat."""
    r = make(switch_floor())
    r.submit("chat-1", "chat", "support", now=0.0)
    assert r.advance(now=60.0) == [
        pr.RetentionDue(request="chat-1", action="offer_callback", at=60.0)]
    r.submit("cb-1", "callback", "support", now=65.0)             # the host makes the call-back
    ev = r.cancel("chat-1", now=65.0, switched_to="cb-1")
    assert ev == [pr.Cancelled(request="chat-1", at=65.0, waited=65.0, early=False,
                               reason="switched")]
    assert r.request("chat-1").switched_to == "cb-1"
    assert r.request("cb-1").switched_from == "chat-1"
    st = r.stats(now=65.0)
    chat = st.channels["chat"].outcomes
    assert (chat.switched, chat.abandoned, chat.cancelled_early) == (1, 0, 0)
    assert chat.service_level is None and chat.p_abandon is None   # nothing decided yet
    assert st.groups["support"].outcomes.switched == 1
    assert st.total.outcomes.switched == 1 and st.total.outcomes.abandoned == 0
    # the call-back is counted on its own channel when answered
    r.add_operator("alice", ["support"], 1, status="online", now=70.0)
    assert st.channels["callback"].outcomes.answered == 0
    assert r.stats(now=70.0).channels["callback"].outcomes.answered == 1


def test_a_switch_names_a_conversation_submitted_first(make):
    r = make(switch_floor())
    r.submit("chat-1", "chat", "support", now=0.0)
    before = r._state()
    with pytest.raises(pr.UnknownId, match="submit the new conversation"):
        r.cancel("chat-1", now=5.0, switched_to="cb-1")
    with pytest.raises(pr.InvalidArgument, match="itself"):
        r.cancel("chat-1", now=5.0, switched_to="chat-1")
    with pytest.raises(pr.InvalidArgument, match="switched_to"):
        r.cancel("chat-1", now=5.0, switched_to=1.5)
    assert r._state() == before                                   # nothing changed
    r.submit("cb-1", "callback", "support", now=5.0)
    r.submit("chat-2", "chat", "support", now=5.0)
    r.apply(pr.Cancel(request="chat-1", now=6.0, switched_to="cb-1"))
    with pytest.raises(pr.InvalidState, match="already the switch of 'chat-1'"):
        r.cancel("chat-2", now=7.0, switched_to="cb-1")
    assert r.request("chat-2").state == "queued"
    # the journal record carries the new parameter last
    assert record(pr.Cancel(request="chat-1", now=6.0, switched_to="cb-1")) == (
        2, "chat-1", 6.0, "cb-1")


def test_a_switch_link_is_dropped_with_the_history_that_holds_it(make):
    r = make(msgspec.structs.replace(switch_floor(), history=1))
    r.submit("cb-1", "callback", "support", now=0.0)
    r.submit("chat-1", "chat", "support", now=0.0)
    r.cancel("chat-1", now=1.0, switched_to="cb-1")
    assert r.request("cb-1").switched_from == "chat-1"
    r.cancel("cb-1", now=2.0)                                       # chat-1 leaves history
    with pytest.raises(pr.UnknownId):
        r.request("chat-1")
    assert r.request("cb-1").switched_from == "chat-1"              # still names it
    r.submit("chat-1", "chat", "support", now=3.0)                  # the id, reused
    assert r.request("chat-1").switched_to is None


# ------------------------------------------------------------------ live = simulator
def day(max_queue=None, rate=0.08, **traffic):
    t = {"channel": "web", "group": "g", "rate": rate,
         "handle": {"dist": "exp", "mean": 60.0},
         "patience": {"dist": "exp", "mean": 40.0}, "early_cancel_share": 0.15}
    t.update(traffic)
    group = {"name": "g"}
    if max_queue is not None:
        group["max_queue"] = max_queue
    return {"duration": 3 * 3600.0, "warmup": 0.0, "seed": 11,
            "router": {"channels": [{"name": "web", "target_wait": 20.0}],
                       "groups": [group]},
            "operators": [{"name": "op", "count": 3, "limit": 1, "groups": ["g"]}],
            "traffic": [t]}


@pytest.mark.parametrize("engine", ["native", "reference"])
@pytest.mark.parametrize("max_queue", [None, 2])
def test_the_simulator_and_live_stats_count_the_same_day_the_same_way(engine, max_queue):
    report, router = _simulate(scenario_from(day(max_queue)), engine=engine)
    live = router.stats(now=router.now).channels["web"].outcomes
    sim = report.channels["web"]
    assert report.overall.unresolved == 0
    assert sim.offered == live.submitted
    assert (sim.answered, sim.abandoned, sim.cancelled_early) == (
        live.answered, live.abandoned, live.cancelled_early)
    assert sim.rejected == sum(live.rejected.values())
    assert sim.abandoned > 0 and sim.cancelled_early > 0
    assert (max_queue is None) == (sim.rejected == 0)
    assert sim.service_level == pytest.approx(live.service_level)
    assert sim.p_abandon == pytest.approx(live.p_abandon)
    assert sim.asa == pytest.approx(live.mean_wait)
    assert report.overall.service_level == pytest.approx(
        router.stats(now=router.now).total.outcomes.service_level)


def test_the_glossary_rule_for_each_kind_of_cancel():
    """The one rule both engines follow (pyroute._common.cancel_slot, and cancel_slot in
    routing_core/requests.pyx): the customer's own leaving is early or abandoned, a
    switch is switched, and a visitor banned while waiting is refused, never abandoned."""
    from pyroute import _common as c
    assert c.cancel_slot(c.CANCEL_CUSTOMER, True) == c.OUT_EARLY
    assert c.cancel_slot(c.CANCEL_CUSTOMER, False) == c.OUT_ABANDONED
    assert c.cancel_slot(c.CANCEL_SWITCHED, False) == c.OUT_SWITCHED
    banned = c.cancel_slot(c.CANCEL_BANNED, False)
    assert banned == c.OUT_REJECTED + c.REJECT_REASONS.index("banned")
    row = [0.0] * c.N_OUT
    row[c.OUT_ANSWERED] = row[c.OUT_WITHIN] = 1
    row[banned] = 1
    out = c.outcomes(row)
    assert (out.abandoned, out.rejected, out.service_level) == (0, {"banned": 1}, 0.5)
    assert c.CANCEL_REASONS == ("customer", "switched", "banned")


def bot_day():
    t = {"channel": "web", "group": "bots", "rate": 0.06,
         "handle": {"dist": "exp", "mean": 120.0},
         "bot_handle": {"dist": "exp", "mean": 30.0}, "bot_resolve": 0.4,
         "patience": {"dist": "exp", "mean": 90.0}, "early_cancel_share": 0.1}
    return {"duration": 3 * 3600.0, "warmup": 0.0, "seed": 5,
            "router": {"channels": [{"name": "web", "target_wait": 20.0}],
                       "groups": [{"name": "bots", "line": 0, "escalate_to": "first"},
                                  {"name": "first", "line": 1}]},
            "operators": [{"name": "bot", "count": 1, "limit": 1000, "groups": ["bots"],
                           "kind": "bot"},
                          {"name": "op", "count": 5, "limit": 1, "groups": ["first"]}],
            "traffic": [t]}


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_the_simulator_counts_the_lines_of_a_day_with_a_bot_as_the_router_does(engine):
    """The bot answers everyone at once; line 1 answers the escalated ones after a wait
    in its own queue: both the router's group rows and the simulator's say so."""
    report, router = _simulate(scenario_from(bot_day()), engine=engine)
    st = router.stats(now=router.now)
    for name in ("bots", "first"):
        live, sim = st.groups[name].outcomes, report.groups[name]
        assert (sim.answered, sim.abandoned, sim.cancelled_early) == (
            live.answered, live.abandoned, live.cancelled_early), name
        assert sim.service_level == pytest.approx(live.service_level), name
        assert sim.asa == pytest.approx(live.mean_wait), name
    bots, first = report.groups["bots"], report.groups["first"]
    assert bots.asa == 0.0 and bots.service_level > 0.8
    assert first.answered > 0 and first.offered == bots.escalated
    assert first.asa > 0.0
    assert st.lines[1].answered == first.answered
    # on the channel, each customer is answered once, at the bot
    assert report.channels["web"].answered == st.channels["web"].outcomes.answered
    assert report.channels["web"].answered == bots.answered
