"""Transfers as a support lead sees them (issue 12, point 3): a transfer to a busy colleague
leaves the customer with the sender until the colleague can take them (or is refused, by
the caller's choice); the sender is told when it does not happen. And retention steps for
a customer who waits in a queue again (points 3 and 6). On both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor(**billing):
    return cfg(pr.Group("bots", line=0, escalate_to="first"),
               pr.Group("first", line=1, escalate_to="billing"),
               pr.Group("billing", line=2, **billing),
               channels=[pr.Channel("chat", retention=[
                   pr.Retention(after=30.0, action="hold_message"),
                   pr.Retention(after=90.0, action="offer_callback")])])


def staff(r):
    r.add_operator("anna", ["first"], 3, status="online", now=0.0)
    r.add_operator("boris", ["billing"], 3, status="online", now=0.0)
    for i in range(3):                                # boris is on three chats
        r.submit(f"b{i}", "chat", "billing", now=0.0)
    assert r.operator("boris").load == 3


def test_anna_passes_a_billing_question_to_boris_who_is_on_three_chats(make):
    """The customer stays with Anna until Boris frees a slot, then moves."""
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    assert r.transfer("q", operator="boris", now=5.0) == []
    v = r.request("q")
    assert (v.state, v.operator, v.transfer_to) == ("active", "anna", "boris")
    assert r.operator("anna").load == 1               # Anna's slot is still hers
    r.submit("w", "chat", "first", now=6.0)           # Anna keeps working meanwhile
    r.submit("x", "chat", "first", now=7.0)
    r.submit("late", "chat", "first", now=8.0)        # Anna is full now: it waits
    assert r.request("late").state == "queued"
    # Boris finishes a chat: the customer moves to him, and Anna's freed slot takes the
    # waiting one
    assert r.finish("b0", now=20.0) == [
        pr.Finished(request="b0", operator="boris", at=20.0),
        pr.Transferred(request="q", at=20.0, from_operator="anna", group="billing",
                       operator="boris", escalated=False),
        pr.Assigned(request="q", operator="boris", group="billing", channel="chat", at=20.0,
                    waited=0.0),   # the customer was with Anna all along: no wait
        pr.Assigned(request="late", operator="anna", group="first", channel="chat", at=20.0,
                    waited=12.0)]
    v = r.request("q")
    assert (v.state, v.operator, v.group, v.transfer_to) == ("active", "boris", "billing", None)
    # the customer was never waiting with nobody: no retention step fires for them
    assert [e for e in r.advance(now=200.0) if e.request == "q"] == []


def test_boris_never_frees_a_slot_after_a_minute_anna_is_told_and_still_has_the_customer(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=10.0)
    assert r.advance(now=69.0) == []
    assert r.advance(now=70.0) == [
        pr.TransferFailed(request="q", at=70.0, operator="boris", from_operator="anna",
                          reason="timeout")]
    v = r.request("q")
    assert (v.state, v.operator, v.transfer_to) == ("active", "anna", None)
    # Boris frees a slot later: the transfer is over, the customer stays with Anna
    assert r.finish("b0", now=80.0) == [pr.Finished(request="b0", operator="boris", at=80.0)]
    assert r.request("q").operator == "anna"


def test_anna_asks_to_refuse_when_boris_is_busy_and_nothing_changes(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    before = r._state()
    with pytest.raises(pr.InvalidState, match="full"):
        r.transfer("q", operator="boris", now=2.0, if_busy="refuse")
    assert r._state() == before
    # with a free slot, refuse changes nothing: it moves at once
    r.finish("b0", now=3.0)
    assert r.transfer("q", operator="boris", now=4.0, if_busy="refuse") == [
        pr.Transferred(request="q", at=4.0, from_operator="anna", group="billing",
                       operator="boris", escalated=False),
        pr.Assigned(request="q", operator="boris", group="billing", channel="chat", at=4.0,
                    waited=0.0)]   # handed from Anna to Boris: never waited with nobody
    assert r.apply(pr.Transfer(request="q", operator="anna", now=5.0,
                               if_busy="refuse"))[0].operator == "anna"


def test_boris_goes_offline_and_anna_is_told_at_once(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=2.0)
    assert r.set_status("boris", "offline", now=3.0) == [
        pr.StatusChanged(operator="boris", status="offline", at=3.0),
        pr.TransferFailed(request="q", at=3.0, operator="boris", from_operator="anna",
                          reason="unavailable")]
    assert r.request("q").operator == "anna"
    assert r.advance(now=100.0) == []                 # no timeout later


def test_boris_removed_fails_the_transfer(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=2.0)
    events = r.remove_operator("boris", now=3.0, requeue=True)
    assert events[0] == pr.TransferFailed(request="q", at=3.0, operator="boris",
                                          from_operator="anna", reason="unavailable")
    assert r.request("q").operator == "anna"


def test_anna_finishes_the_chat_herself_and_the_transfer_is_over(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=2.0)
    r.finish("q", now=3.0)
    r.submit("n", "chat", "billing", now=4.0)         # waits for boris
    assert r.finish("b0", now=5.0) == [
        pr.Finished(request="b0", operator="boris", at=5.0),
        pr.Assigned(request="n", operator="boris", group="billing", channel="chat", at=5.0,
                    waited=1.0)]
    assert r.advance(now=100.0) == []                 # and nobody is told of a timeout


def test_anna_changes_her_mind_and_passes_it_to_carol_who_is_free(make):
    r = make(floor())
    staff(r)
    r.add_operator("carol", ["billing"], 1, status="online", now=0.0)
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=2.0)
    assert r.transfer("q", operator="carol", now=3.0)[1].operator == "carol"
    assert r.request("q").transfer_to is None
    assert r.finish("b0", now=4.0) == [pr.Finished(request="b0", operator="boris", at=4.0)]


def test_a_transferred_customer_goes_before_the_queue_when_boris_frees_a_slot(make):
    r = make(floor())
    staff(r)
    r.submit("old", "chat", "billing", now=0.5)       # waits in billing's queue
    r.submit("q", "chat", "first", now=1.0)
    r.transfer("q", operator="boris", now=2.0)
    events = r.finish("b0", now=3.0)
    assert [type(e).__name__ for e in events] == ["Finished", "Transferred", "Assigned"]
    assert events[2].request == "q"
    assert r.request("old").state == "queued"


def test_a_waiting_customer_transferred_to_a_busy_operator_waits_for_them_alone(make):
    r = make(floor())
    staff(r)
    r.add_operator("carol", ["billing"], 1, status="online", now=0.0)
    r.set_limit("anna", 0, now=0.0)
    r.submit("q", "chat", "first", now=1.0)           # nobody in first can take it
    assert r.transfer("q", operator="boris", now=2.0) == [
        pr.Transferred(request="q", at=2.0, from_operator=None, group="billing",
                       operator="boris", escalated=False),
        pr.Queued(request="q", group="billing", channel="chat", at=2.0, position=1)]
    assert r.finish("b0", now=3.0)[1] == pr.Assigned(
        request="q", operator="boris", group="billing", channel="chat", at=3.0, waited=2.0)


def test_a_customer_requeued_after_being_answered_gets_the_retention_steps_again(make):
    r = make(floor())
    r.add_operator("anna", ["first"], 1, status="online", now=0.0)
    r.submit("q", "chat", "first", now=0.0)           # answered at once: no steps
    assert r.advance(now=100.0) == []
    # anna leaves and sends her chats back: q waits again from 100
    r.set_status("anna", "offline", now=100.0, requeue=True)
    assert r.advance(now=129.0) == []
    assert r.advance(now=130.0) == [
        pr.RetentionDue(request="q", action="hold_message", at=130.0)]
    assert r.advance(now=190.0) == [
        pr.RetentionDue(request="q", action="offer_callback", at=190.0)]


def test_a_bot_escalating_to_a_busy_first_line_gives_the_customer_retention_steps(make):
    r = make(floor())
    r.add_operator("bot", ["bots"], 100, status="online", kind="bot", now=0.0)
    r.add_operator("anna", ["first"], 1, status="online", now=0.0)
    r.submit("busy", "chat", "first", now=0.0)        # anna is busy
    r.submit("q", "chat", "bots", now=0.0)            # the bot answers at once
    assert r.escalate("q", now=50.0)[-1] == pr.Queued(
        request="q", group="first", channel="chat", at=50.0, position=1)
    assert r.advance(now=80.0) == [
        pr.RetentionDue(request="q", action="hold_message", at=80.0)]
    # anna takes it: the next step does not fire
    r.finish("busy", now=100.0)
    assert r.request("q").operator == "anna"
    assert r.advance(now=300.0) == []


def test_a_transfer_to_a_busy_group_that_queues_gives_the_retention_steps_again(make):
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=0.0)           # anna answers
    assert r.transfer("q", group="billing", now=10.0)[-1].__class__ is pr.Queued
    assert r.advance(now=40.0) == [
        pr.RetentionDue(request="q", action="hold_message", at=40.0)]


def test_transfer_failed_is_on_the_wire():
    import msgspec
    ev = pr.TransferFailed(request="q", at=1.0, operator="boris", from_operator="anna",
                           reason="timeout")
    data = msgspec.json.encode(ev)
    assert b'"type":"TransferFailed"' in data
    assert msgspec.json.decode(data, type=pr.Event) == ev
    cmd = msgspec.json.decode(b'{"type":"Transfer","request":"q","operator":"boris"}',
                              type=pr.Command)
    assert cmd.if_busy == "wait"


@pytest.mark.parametrize("seed", range(40))
def test_a_busy_floor_passing_chats_between_colleagues_agrees_on_both_engines(seed):
    """Four operators with two or three slots pass chats to each other (waiting, refused,
    timing out, completing in chains as slots free up), finish, go away and come back, and
    change limits; both engines agree on every event and the whole state."""
    import random

    from pyroute import reference

    rng = random.Random(seed)
    config = cfg(pr.Group("first", transfer_timeout=rng.choice([5.0, 30.0])),
                 pr.Group("billing", accept_timeout=rng.choice([None, None, 20.0])),
                 channels=[pr.Channel("chat", wrap_up=rng.choice([0.0, 4.0]), retention=[
                     pr.Retention(after=10.0, action="hold_message")]),
                           pr.Channel("phone", cost="all", priority=5)])
    routers = [pr.Router(config), reference.Router(config)]
    ops = ["anna", "boris", "carol", "dan"]
    now = 0.0
    limits = [rng.choice([2, 3]) for _ in ops]
    for r in routers:
        for i, op in enumerate(ops):
            r.add_operator(op, ["first"] if i % 2 == 0 else ["billing", "first"],
                           limits[i], status="online", now=0.0)
    n = 0
    for step in range(250):
        now += rng.choice([0.0, 0.5, 1.0, 3.0])
        live = [rid for rid in routers[1]._reqs]
        active = [rid for rid in live if routers[1]._reqs[rid].state != 0]
        x = rng.random()
        if x < 0.3 or not live:
            n += 1
            cmd = pr.Submit(request=f"c{n}", channel=rng.choice(["chat"] * 5 + ["phone"]),
                            group=rng.choice(["first", "billing"]), now=now)
        elif x < 0.6:
            cmd = pr.Transfer(request=rng.choice(active or live), operator=rng.choice(ops),
                              if_busy=rng.choice(["wait", "wait", "refuse"]), now=now)
        elif x < 0.65:
            cmd = pr.Transfer(request=rng.choice(live), group=rng.choice(["first", "billing"]),
                              now=now)
        elif x < 0.82:
            cmd = pr.Finish(request=rng.choice(active or live), now=now)
        elif x < 0.85:
            cmd = pr.Accept(request=rng.choice(live), now=now)
        elif x < 0.88:
            cmd = pr.Cancel(request=rng.choice(live), now=now)
        elif x < 0.93:
            cmd = pr.SetStatus(operator=rng.choice(ops),
                               status=rng.choice(["online", "online", "away"]),
                               requeue=rng.random() < 0.3, now=now)
        elif x < 0.97:
            cmd = pr.SetLimit(operator=rng.choice(ops), limit=rng.choice([1, 2, 3]), now=now)
        else:
            cmd = pr.Advance(now=now + 20.0)
            now += 20.0
        outs = []
        for r in routers:
            try:
                outs.append((r.apply(cmd), None))
            except pr.RoutingError as e:
                outs.append((None, type(e)))
            r.check()
        where = f"seed={seed} step={step} {cmd!r}"
        assert outs[0] == outs[1], where
        assert routers[0]._state() == routers[1]._state(), where
        for rid in live:
            if rid in routers[1]._reqs:
                assert routers[0].request(rid) == routers[1].request(rid), where


@pytest.mark.parametrize("snapshot_every", [1000, 3])
def test_a_pending_transfer_survives_a_restart_from_the_journal(engine, tmp_path,
                                                                snapshot_every):
    """The journal records if_busy; a router reopened on it (replaying the journal, or
    from a snapshot) has the same pending transfer and tells Anna at the same moment."""
    config = floor()
    r = engine.open(tmp_path, config, fsync="never", snapshot_every=snapshot_every)
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    with pytest.raises(pr.InvalidState):
        r.transfer("q", operator="boris", now=2.0, if_busy="refuse")
    r.transfer("q", operator="boris", now=3.0, if_busy="wait")
    state = r._state()
    r.close()
    again = engine.open(tmp_path, config, fsync="never")
    assert again._state() == state
    assert again.request("q").transfer_to == "boris"
    assert again.advance(now=63.0) == [
        pr.TransferFailed(request="q", at=63.0, operator="boris", from_operator="anna",
                          reason="timeout")]
    again.close()


def test_anna_takes_back_the_question_she_passed_to_a_busy_boris(make):
    """Anna changes her mind before Boris is free: a transfer back to her withdraws the
    pending one, and Boris's next free slot does not take the customer from her."""
    r = make(floor())
    staff(r)
    r.submit("q", "chat", "first", now=1.0)
    assert r.transfer("q", operator="boris", now=5.0) == []
    assert r.request("q").transfer_to == "boris"
    assert r.transfer("q", operator="anna", now=8.0) == [
        pr.TransferFailed(request="q", at=8.0, operator="boris", from_operator="anna",
                          reason="withdrawn")]
    v = r.request("q")
    assert (v.state, v.operator, v.transfer_to) == ("active", "anna", None)
    r.finish("b0", now=20.0)                          # Boris is free: nothing moves
    assert r.request("q").operator == "anna" and r.operator("boris").load == 2
    # with nothing pending, a transfer to the one who has it is still a mistake
    with pytest.raises(pr.InvalidState, match="already with operator"):
        r.transfer("q", operator="anna", now=21.0)
    # and the transfer timer of the withdrawn transfer fires nothing later
    assert r.advance(500.0) == []
