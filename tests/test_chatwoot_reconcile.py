"""The Chatwoot reconciler and priority changes, against the contract fake of Chatwoot
(tests/chatwoot_fake.py): what the webhooks did not carry — a webhook lost, an assignment
Chatwoot lost, a priority changed — is corrected from Chatwoot's conversations API, and a
read that fails changes nothing."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from test_chatwoot import (  # noqa: E402
    ALICE, BILLING, BOB, CAROL, TELEGRAM, WEB, cw_config, make_floor,  # noqa: F401
)

from pyroute.integrations.chatwoot import AgentSettings  # noqa: E402

ONE_ALICE = dict(agents=[(ALICE, "Alice", 1)],
                 cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                  groups=["support"])}))


def test_a_conversation_resolved_while_its_webhook_was_lost_is_finished(make_floor):
    f = make_floor(**ONE_ALICE)
    first = f.fake.open_conversation(WEB)
    second = f.fake.open_conversation(WEB)
    f.settle()
    assert f.fake.conversations[second]["assignee_id"] is None     # waits for Alice
    f.fake.resolve(first)
    assert f.fake.drop_webhooks() == 2      # status_changed and updated: never arrive
    f.settle()
    assert f.state(first) == "active"       # pyroute does not know yet
    assert f.reconcile() >= 1
    f.settle()
    assert f.state(first) == "finished"
    # the freed slot went to the one that waited, and Chatwoot shows it
    assert f.fake.conversations[second]["assignee_id"] == ALICE == f.holder(second)
    assert f.cw.reconciler.corrections["released (resolved in Chatwoot)"] == 1
    assert f.reconcile() == 0               # nothing left to correct
    f.router.check()


def test_an_open_conversation_pyroute_never_heard_of_is_submitted(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(TELEGRAM, team_id=BILLING, priority="high")
    f.fake.drop_webhooks()                  # conversation_created lost
    f.settle()
    assert f.state(d) is None
    f.reconcile()
    f.settle()
    view = f.router.request(f"cw-{d}")
    assert (view.channel, view.group, view.priority) == ("telegram", "billing", 3)
    assert f.fake.conversations[d]["assignee_id"] in (BOB, CAROL)
    assert f.holder(d) == f.fake.conversations[d]["assignee_id"]


def test_an_assignee_changed_by_hand_whose_webhook_was_lost_is_followed(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    assert f.holder(d) == BOB
    f.fake.human_assign(d, ALICE, webhook=False)
    f.settle()
    assert f.holder(d) == BOB
    f.reconcile()
    f.settle()
    assert f.holder(d) == ALICE == f.fake.conversations[d]["assignee_id"]
    assert f.router.operator(BOB).load == 0 and f.router.operator(ALICE).load == 1
    assert f.fake.reassignments == []       # pyroute followed, it did not fight


def test_an_assignment_chatwoot_lost_is_posted_again(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.forget_assignment(d)
    calls = len(f.fake.api_calls)
    f.reconcile()
    f.settle()
    assert f.fake.conversations[d]["assignee_id"] == BOB == f.holder(d)
    assert ("assign", str(d), 200) in f.fake.api_calls[calls:]
    assert f.cw.reconciler.corrections["assignment to 12 posted again"] == 1
    # when both agree, a reading posts nothing
    calls = len(f.fake.api_calls)
    f.reconcile()
    f.settle()
    assert [c for c in f.fake.api_calls[calls:] if c[0] == "assign"] == []


def test_chatwoot_down_while_reading_changes_nothing_and_is_retried(make_floor, caplog):
    f = make_floor(**ONE_ALICE)
    first = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.resolve(first)
    f.fake.drop_webhooks()
    f.fake.down = True
    with caplog.at_level(logging.WARNING, logger="pyroute.chatwoot"):
        assert f.reconcile() is None
    assert "chatwoot reconciler: reading Chatwoot failed, nothing corrected" in caplog.text
    assert "ConnectError" in caplog.text
    assert f.state(first) == "active"       # nothing applied from a failed read
    assert f.cw.reconciler.status()["failures"] == 1
    f.fake.down = False
    f.fake.fail_status = 401
    with caplog.at_level(logging.WARNING, logger="pyroute.chatwoot"):
        assert f.reconcile() is None
    assert "check api_access_token" in caplog.text
    f.fake.fail_status = None
    f.reconcile()
    f.settle()
    assert f.state(first) == "finished"
    assert f.cw.status()["reconciler"]["last_error"] is None


def test_every_page_is_read_and_a_conversation_moving_between_pages_is_not_ended(
        make_floor):
    f = make_floor(agents=[(ALICE, "Alice", 20), (BOB, "Bob", 20)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=20,
                                                                    groups=["support"]),
                                         str(BOB): AgentSettings(limit=20,
                                                                  groups=["support"])}))
    opened = []
    for _ in range(30):                     # more than a page (25)
        f.later(1)
        opened.append(f.fake.open_conversation(WEB))
    f.settle()
    moved = []

    def customer_writes_during_the_read(page: int) -> None:
        if page == 1:
            # the last of page 2 becomes the latest: on page 1, which was read already
            conv = f.fake.conversations
            order = sorted((d for d in conv if conv[d]["status"] == "open"),
                           key=lambda d: -conv[d]["updated_at"])
            moved.append(order[-1])
            conv[order[-1]]["updated_at"] = f.clock() + 100

    f.fake.between_pages = customer_writes_during_the_read
    last = opened[-1]
    f.fake.resolve(last)                    # on page 1; its webhooks are lost
    f.fake.drop_webhooks()
    f.reconcile()
    f.fake.between_pages = None
    f.settle()
    pages = [p for kind, p, _ in f.fake.api_calls if kind == "list"]
    # page 2 came one short (a conversation moved up): page 3 was asked, and was empty
    assert pages[-3:] == ["1", "2", "3"]
    assert ("show", str(moved[0]), 200) in f.fake.api_calls  # asked before ending it
    assert f.state(moved[0]) == "active"    # not ended: it had only moved
    assert f.state(last) == "finished"
    assert all(f.state(d) == "active" for d in opened[:-1])


def test_a_deleted_or_snoozed_conversation(make_floor):
    f = make_floor()
    gone = f.fake.open_conversation(WEB)
    snoozed = f.fake.open_conversation(WEB)
    f.settle()
    agent = f.holder(snoozed)
    del f.fake.conversations[gone]
    f.fake.snooze(snoozed)
    f.fake.drop_webhooks()
    f.reconcile()
    f.settle()
    assert f.state(gone) == "finished"
    assert f.holder(snoozed) == agent       # snoozed: its agent keeps it and its slot


# ---------------------------------------------------------------------- priorities
def test_a_priority_raised_in_chatwoot_serves_the_waiting_conversation_sooner(make_floor):
    f = make_floor(**ONE_ALICE)
    busy = f.fake.open_conversation(WEB)
    f.later(5)
    older = f.fake.open_conversation(TELEGRAM, priority="medium")
    f.later(5)
    raised = f.fake.open_conversation(TELEGRAM, priority="low")
    f.settle()
    f.later(5)
    f.fake.set_priority(raised, "urgent")
    f.settle()
    ident = f.cw.current(raised)[1]
    assert ident == f"cw-{raised}#2"        # submitted again with the new priority
    assert f.router.request(ident).priority == 4
    old = f.router.request(f"cw-{raised}")
    assert old.state == "cancelled" and old.switched_to == ident
    assert f.fake.conversations[raised]["assignee_id"] is None     # still waiting
    f.fake.resolve(busy)
    f.settle()
    assert f.fake.conversations[raised]["assignee_id"] == ALICE == f.holder(raised)
    assert f.fake.conversations[older]["assignee_id"] is None
    # counted as switched, not as a customer who gave up
    out = f.router.stats().channels["telegram"].outcomes
    assert out.abandoned == 0 and out.switched == 1
    f.router.check()


def test_a_priority_change_on_a_conversation_being_served_changes_nothing(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    agent = f.holder(d)
    f.fake.set_priority(d, "urgent")
    f.settle()
    assert f.cw.current(d)[1] == f"cw-{d}" and f.holder(d) == agent
    assert f.fake.reassignments == []


def test_a_priority_change_whose_webhook_was_lost_is_applied_by_the_reconciler(make_floor):
    f = make_floor(**ONE_ALICE)
    f.fake.open_conversation(WEB)
    waiting = f.fake.open_conversation(WEB, priority="low")
    f.settle()
    f.fake.set_priority(waiting, "high")
    f.fake.drop_webhooks()
    f.settle()
    assert f.router.request(f.cw.current(waiting)[1]).priority == 1
    f.reconcile()
    f.settle()
    assert f.router.request(f.cw.current(waiting)[1]).priority == 3
    assert f.reconcile() == 0               # applied once


def test_a_hand_change_to_an_agent_away_in_pyroute_is_refused_and_put_back(make_floor,
                                                                           caplog):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    assert f.holder(d) == BOB
    f.fake.set_presence(ALICE, "busy")
    f.poll()                                # Alice is away in pyroute
    with caplog.at_level("WARNING", logger="pyroute.chatwoot"):
        f.fake.human_assign(d, ALICE)
        f.settle()
    assert "they are away" in caplog.text
    # pyroute gives no conversation to an agent who is away: Bob keeps it (it is not
    # dropped from pyroute), and Chatwoot is shown Bob again
    assert f.holder(d) == BOB == f.fake.conversations[d]["assignee_id"]
    assert f.router.operator(BOB).load == 1 and f.router.operator(ALICE).load == 0
    assert f.reconcile() == 0
