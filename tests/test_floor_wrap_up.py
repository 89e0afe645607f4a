"""Wrap-up as a support lead sees it (issue 12, point 2): the finished conversation's slot
is held, not the whole operator; after a call (a conversation that takes every slot) the
operator takes nothing until the wrap-up ends. On both engines."""

from __future__ import annotations

import pyroute as pr
from conftest import cfg


def floor(**group):
    return cfg(pr.Group("support", **group),
               channels=[pr.Channel("chat", wrap_up=30.0),
                         pr.Channel("phone", cost="all", priority=10, wrap_up=30.0)])


def test_an_operator_finishing_a_chat_keeps_taking_new_ones_during_the_30s_wrap_up(make):
    r = make(floor())
    r.add_operator("anna", ["support"], 4, status="online", now=0.0)
    r.submit("c1", "chat", "support", now=0.0)
    assert r.finish("c1", now=10.0) == [pr.Finished(request="c1", operator="anna", at=10.0)]
    # one slot in wrap-up, three free: monitoring shows exactly that
    v = r.operator("anna")
    assert (v.load, v.wrap_up, v.active) == (1, 1, ())
    s = r.stats(now=10.0)
    assert s.groups["support"].free_slots == 3
    assert s.total.free_slots == 3
    assert r.accepting("support", "chat", now=10.0)
    # and she keeps taking chats while she wraps up
    for i, t in enumerate((11.0, 12.0, 13.0)):
        assert r.submit(f"n{i}", "chat", "support", now=t) == [
            pr.Assigned(request=f"n{i}", operator="anna", group="support", channel="chat",
                        at=t, waited=0.0)]
    # the fourth waits: the wrap-up slot is still taken
    assert r.submit("n3", "chat", "support", now=14.0) == [
        pr.Queued(request="n3", group="support", channel="chat", at=14.0, position=1)]
    assert r.stats(now=14.0).groups["support"].free_slots == 0
    # at 40 the wrap-up ends and its slot takes the waiting chat
    assert r.advance(now=40.0) == [
        pr.Assigned(request="n3", operator="anna", group="support", channel="chat", at=40.0,
                    waited=26.0)]
    assert r.operator("anna").wrap_up == 0


def test_after_a_call_the_operator_takes_nothing_during_wrap_up(make):
    r = make(floor())
    r.add_operator("anna", ["support"], 4, status="online", now=0.0)
    assert r.submit("p1", "phone", "support", now=0.0)[0].operator == "anna"
    r.finish("p1", now=60.0)
    v = r.operator("anna")
    assert (v.load, v.wrap_up) == (4, 4)           # the call held every slot: all in wrap-up
    assert r.stats(now=60.0).groups["support"].free_slots == 0
    assert r.submit("c1", "chat", "support", now=61.0) == [
        pr.Queued(request="c1", group="support", channel="chat", at=61.0, position=1)]
    assert r.advance(now=89.9) == []
    assert r.advance(now=90.0) == [
        pr.Assigned(request="c1", operator="anna", group="support", channel="chat", at=90.0,
                    waited=29.0)]


def test_a_call_waits_for_an_operator_whose_chat_is_in_wrap_up(make):
    """A call needs every slot: a chat's wrap-up slot keeps the operator from taking it."""
    r = make(floor())
    r.add_operator("anna", ["support"], 2, status="online", now=0.0)
    r.submit("c1", "chat", "support", now=0.0)
    r.finish("c1", now=5.0)
    assert r.submit("p1", "phone", "support", now=6.0) == [
        pr.Queued(request="p1", group="support", channel="phone", at=6.0, position=1)]
    assert r.advance(now=35.0)[0] == pr.Assigned(
        request="p1", operator="anna", group="support", channel="phone", at=35.0, waited=29.0)


def test_explain_names_wrap_up_only_when_it_is_what_makes_the_operator_full(engine):
    r = engine(floor(), explain=True)
    r.add_operator("anna", ["support"], 2, status="online", now=0.0)
    r.add_operator("boris", ["support"], 2, status="online", now=0.0)
    r.submit("c1", "chat", "support", now=0.0)          # anna
    r.submit("c2", "chat", "support", now=0.0)          # boris
    r.submit("c3", "chat", "support", now=0.0)          # anna
    r.finish("c1", now=1.0)                             # anna: one active, one in wrap-up
    r.submit("c4", "chat", "support", now=2.0)          # boris (anna has no free slot)
    r.submit("c5", "chat", "support", now=3.0)          # waits
    e = r.explain("c5")
    verdicts = {c.operator: c.verdict for c in e.candidates}
    assert verdicts == {"anna": "wrap_up", "boris": "full"}
