"""Holds (issue 13, point 1): a pick that keeps its slot until the conversation comes.

A day on a support floor behind a platform that assigns chats itself (Rocket.Chat's
External Queue Service): the platform asks whom, assigns at once, and tells pyroute
later. Each answer holds the agent's slot, so the next question names someone else, and
nobody is ever given more than their limit. The semantics are docs/semantics.md,
"Holds".

Event types are compared by name, as a host reading the events would.
"""

from __future__ import annotations

import pytest

import pyroute as pr
from pyroute.protocol import command

def floor():
    return pr.RouterConfig(
        channels=[pr.Channel("chat", priority=10, target_wait=30.0),
                  pr.Channel("email", priority=0, target_wait=3600.0, cost=2)],
        groups=[pr.Group("support")])


def staff(r, limits=(("alice", 1), ("bob", 1))):
    for name, limit in limits:
        r.add_operator(name, ["support"], limit, status="online", now=0.0)


def named(events, kind):
    return [e for e in events if type(e).__name__ == kind]


def test_each_held_pick_names_the_next_agent_and_nobody_passes_the_limit(make):
    r = make(floor())
    staff(r)
    first = named(r.hold("support", "chat", "h1", 30.0, now=1.0), "Held")
    second = named(r.hold("support", "chat", "h2", 30.0, now=1.1), "Held")
    assert {first[0].operator, second[0].operator} == {"alice", "bob"}
    assert first[0].until == 31.0
    # both slots are held: the third placement is told nobody, and so is pick
    assert named(r.hold("support", "chat", "h3", 30.0, now=1.2), "HoldRefused")
    assert r.pick("support", "chat") is None
    assert r.stats(now=1.2).total.free_slots == 0
    for name in ("alice", "bob"):
        v = r.operator(name)
        assert v.load <= v.limit and len(v.holds) == 1


def test_a_held_slot_is_not_given_to_a_waiting_chat_until_the_hold_ends(make):
    r = make(floor())
    staff(r, (("alice", 1),))
    r.hold("support", "chat", "h1", 30.0, now=1.0)
    ev = r.submit("c1", "chat", "support", now=2.0)
    assert not named(ev, "Assigned")            # the slot is held: c1 waits
    ev = r.release_hold("h1", now=3.0)
    ended = named(ev, "HoldEnded")
    assert ended[0].reason == "released" and ended[0].operator == "alice"
    assert [e.request for e in named(ev, "Assigned")] == ["c1"]   # the freed slot fills


def test_the_arriving_chat_gets_its_held_slot_when_submitted_before_the_release(make):
    r = make(floor())
    staff(r, (("alice", 1),))
    r.hold("support", "chat", "h1", 30.0, now=1.0)
    r.submit("other", "chat", "support", now=1.5)            # waits: the slot is held
    out = r.apply_many([pr.Submit(request="mine", channel="chat", group="support",
                                  prefer="alice", prefer_for=60.0, now=2.0),
                        command("release_hold", "h1", now=2.0)])
    assert [e.request for e in named(out, "Assigned")] == ["mine"]
    assert r.request("other").state == "queued"


def test_a_hold_expires_by_its_timer_and_frees_the_slot(make):
    r = make(floor())
    staff(r, (("alice", 1),))
    r.hold("support", "chat", "h1", 30.0, now=1.0)
    assert r.next_timer() == 31.0
    ev = r.advance(now=31.0)
    assert named(ev, "HoldEnded")[0].reason == "expired"
    assert r.pick("support", "chat") == "alice"
    assert r.operator("alice").holds == ()


def test_going_offline_ends_the_agents_holds(make):
    r = make(floor())
    staff(r, (("alice", 2),))
    r.hold("support", "chat", "h1", 30.0, now=1.0)
    ev = r.set_status("alice", "offline", now=2.0)
    assert named(ev, "HoldEnded")[0].reason == "offline"
    assert r.stats(now=2.0).total.held == 0


def test_a_hold_charges_the_channel_cost_and_cap(make):
    r = make(floor())
    r.add_operator("carol", ["support"], 3, status="online", now=0.0,
                   channel_limits={"email": 1})
    r.hold("support", "email", "h1", 30.0, now=1.0)
    assert r.operator("carol").load == 2                    # email costs 2
    assert r.pick("support", "email") is None               # the email cap is held
    assert r.pick("support", "chat") == "carol"             # one slot left for a chat


@pytest.mark.parametrize("args, error", [
    (("support", "chat", "h1", 0.0), pr.InvalidArgument),
    (("support", "chat", "h1", float("inf")), pr.InvalidArgument),
    (("support", "chat", "h1", float("nan")), pr.InvalidArgument),
    (("nowhere", "chat", "h1", 30.0), pr.UnknownId),
    (("support", "fax", "h1", 30.0), pr.UnknownId),
])
def test_bad_holds_are_refused_and_change_nothing(make, args, error):
    r = make(floor())
    staff(r)
    before = r._state()
    with pytest.raises(error):
        r.hold(*args, now=1.0)
    assert r._state() == before


def test_a_duplicate_or_unknown_hold_is_refused(make):
    r = make(floor())
    staff(r)
    r.hold("support", "chat", "h1", 30.0, now=1.0)
    before = r._state()
    with pytest.raises(pr.DuplicateId):
        r.hold("support", "chat", "h1", 30.0, now=1.0)
    with pytest.raises(pr.UnknownId):
        r.release_hold("nope", now=1.0)
    assert r._state() == before
