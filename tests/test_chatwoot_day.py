"""A day of a Chatwoot support floor routed by pyroute, driven through the contract fake of
Chatwoot (tests/chatwoot_fake.py) against the real service app, and judged from
Chatwoot's side: no agent ever over its limit, nothing lost or assigned twice, a
conversation that waited is assigned the moment a slot frees, and at the end Chatwoot's
view and pyroute's agree — through an hour of Chatwoot's API being down, presence
changes, reopened conversations and supervisors reassigning by hand.

"Over its limit" is checked once the webhooks and deliveries of each step have settled:
Chatwoot itself reopens a resolved conversation with its old assignee, which can show a
full agent with one too many until pyroute unassigns it there (pyroute's own API calls
never put an agent over: ``api_overruns``)."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from test_chatwoot import (  # noqa: E402
    ALICE, BILLING, BOB, CAROL, DAN, TELEGRAM, WEB, cw_config, make_floor,  # noqa: F401
)

AGENTS = [(ALICE, "Alice", 2), (BOB, "Bob", 3), (CAROL, "Carol", 1), (DAN, "Dan", 2)]
GROUPS = {ALICE: {"support"}, BOB: {"support", "billing"}, CAROL: {"billing"},
          DAN: {"support"}}


def test_a_day_of_chatwoot_traffic(make_floor):
    rng = random.Random(20261202)
    # Dan is in no agents table: he gets default_limit and default_groups
    f = make_floor(cfg=cw_config(default_groups=["support"], default_limit=2), agents=AGENTS)
    fake, router = f.fake, f.router
    conv = fake.conversations
    limits = fake.limits
    waited: set[int] = set()              # shown unassigned in Chatwoot after a settle
    served_after_wait: set[int] = set()
    human_moves = outage_steps = 0
    for step in range(360):
        f.later(rng.uniform(5.0, 40.0))
        fake.down = 120 <= step < 150       # Chatwoot's API unreachable for a while
        outage_steps += fake.down
        if step % 30 == 15:                 # an agent takes a break, or comes back
            who = rng.choice([ALICE, BOB, DAN])
            fake.set_presence(who, rng.choice(["online", "online", "busy"]))
            f.poll()
        opened = [d for d, c in conv.items() if c["status"] == "open"]
        assigned = [d for d in opened if conv[d]["assignee_id"] is not None]
        unassigned = [d for d in opened if conv[d]["assignee_id"] is None]
        resolved = [d for d, c in conv.items() if c["status"] == "resolved"]
        r = rng.random()
        if r < 0.40:
            fake.open_conversation(rng.choice([WEB, WEB, TELEGRAM]),
                                   team_id=rng.choice([None, None, BILLING]),
                                   priority=rng.choice([None, None, "low", "high", "urgent"]))
        elif r < 0.72 and assigned:
            fake.resolve(rng.choice(assigned))          # an agent closes a chat
        elif r < 0.78 and unassigned:
            fake.resolve(rng.choice(unassigned))        # a customer who gave up, closed
        elif r < 0.85 and resolved:
            fake.customer_writes(rng.choice(resolved))  # Chatwoot reopens it
        elif r < 0.93 and assigned and not fake.down:
            # a supervisor reassigns by hand, to an online colleague with room
            d = rng.choice(assigned)
            room = [a for a, _, _ in AGENTS if a != conv[d]["assignee_id"]
                    and fake.agents[a]["availability_status"] == "online"
                    and fake.held(a) < limits[a]]
            if room:
                fake.human_assign(d, rng.choice(room))
                human_moves += 1
        elif assigned and not fake.down:
            fake.human_assign(rng.choice(assigned), None)   # back to the queue
            human_moves += 1
        f.settle()
        # Chatwoot's side, after every step: nobody over the limit
        for a, _, limit in AGENTS:
            assert fake.held(a) <= limit, (step, a, fake.held(a))
            assert router.operator(a).load <= limit
        for d, c in conv.items():
            if c["status"] == "open" and c["assignee_id"] is None:
                waited.add(d)
            elif d in waited and c["assignee_id"] is not None:
                served_after_wait.add(d)
        router.check()

    # the end of the day: the API is back, everyone online, everything delivered
    fake.down = False
    for a, _, _ in AGENTS:
        fake.set_presence(a, "online")
    f.poll()
    f.settle()

    assert outage_steps == 30 and human_moves > 10
    assert fake.dropped == []                   # every webhook was taken (2xx)
    assert fake.api_overruns == 0               # pyroute never assigned over a limit
    assert fake.reassignments == []             # nor moved a conversation someone held
    assert any(c[0] == "refused" for c in fake.api_calls)   # the outage was felt
    assert served_after_wait                    # waiting ones got the freed slots
    assert f.cw.pending() == 0
    for d, c in conv.items():                   # the two views agree
        view, ident, _, _ = f.cw.current(d)
        assert view is not None, d              # nothing lost
        if c["status"] == "resolved":
            assert view.state in ("finished", "cancelled"), (d, view)
        else:
            want = "active" if c["assignee_id"] is not None else "queued"
            assert (view.state, view.operator) == (want, c["assignee_id"]), (d, c, view)
    for a, _, _ in AGENTS:                      # loads agree too
        assert router.operator(a).load == fake.held(a)
        assert set(router.operator(a).groups) == GROUPS[a]
    # what waits at the end waits because nobody it may go to has room
    for d, c in conv.items():
        if c["status"] == "open" and c["assignee_id"] is None:
            group = router.request(f.cw.current(d)[1]).group
            free = [a for a, _, lim in AGENTS if group in GROUPS[a] and fake.held(a) < lim]
            assert not free, (d, group, free)
