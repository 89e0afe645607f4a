"""A day of Rocket.Chat as its own source behaves, against pyroute's integration routes.

Rocket.Chat's External Queue routing method asks GET /rocketchat/queue up to 10 times
concurrently per placement and assigns the answer without waiting; the Taken webhook
comes later. Webhooks are retried (only HTTP 200 counts as delivered) every ~20 s up to
10 times, in no order, and every session event carries all the room's messages. Each
placement holds the agent it names until its Taken comes (docs/semantics.md, "Holds").
"""

from __future__ import annotations

import concurrent.futures as cf

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.service import Service, build_app  # noqa: E402

from test_rocketchat import HOOK, SECRET, rc_config  # noqa: E402


@pytest.fixture
def day():
    config = pr.RouterConfig(channels=[pr.Channel("web")],
                             groups=[pr.Group("support"), pr.Group("sales")])
    ticks = iter(float(i) for i in range(1, 1_000_000))
    router = pr.Router(config, clock=lambda: next(ticks))
    router.add_operator("alice", ["support"], 1, "online", now=0.5)
    router.add_operator("bob", ["support"], 1, "online", now=0.5)
    svc = Service(router, {"tok": "supervisor"})
    with TestClient(build_app(svc, rc_config())) as c:
        yield c, svc


def ask(c):
    return c.get("/rocketchat/queue", headers=SECRET)


def taken(room, agent):
    return {"type": "LivechatSessionTaken", "_id": room,
            "servedBy": {"_id": f"uid-{agent}", "username": agent}}


def closed(room, agent, messages=0):
    return {"type": "LivechatSession", "_id": room,
            "servedBy": {"_id": f"uid-{agent}", "username": agent},
            "messages": [{"msg": "x" * 200, "u": {"username": "visitor"}}] * messages}


def test_ten_concurrent_asks_of_one_placement_get_one_answer(day):
    c, svc = day
    with cf.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: ask(c), range(10)))
    assert all(a.status_code == 200 for a in answers)
    names = [a.json().get("username") for a in answers]
    named = [n for n in names if n is not None]
    assert len(named) == 1 and named[0] in {"alice", "bob"}   # one hold, one answer
    assert len(svc.router.operator(named[0]).holds) == 1
    svc.router.check()


def test_a_repeated_taken_webhook_changes_nothing(day):
    c, svc = day
    for _ in range(3):                         # delivered, then retried twice
        assert c.post("/rocketchat/webhook", json=taken("r1", "alice"),
                      headers=HOOK).status_code == 200
    assert svc.router.operator("alice").load == 1
    assert svc.router.request("r1").operator == "alice"
    svc.router.check()


def test_a_day_of_placements_webhooks_and_closes_keeps_every_limit(day):
    """Placements each asked, taken by whom pyroute named, closed; at every step no agent
    holds more than its limit and the router's self-check passes."""
    c, svc = day
    for i in range(40):
        who = ask(c).json().get("username")
        if who is None:
            continue
        c.post("/rocketchat/webhook", json=taken(f"room{i}", who), headers=HOOK)
        for name in ("alice", "bob"):
            v = svc.router.operator(name)
            assert v.load <= v.limit
        c.post("/rocketchat/webhook", json=closed(f"room{i}", who), headers=HOOK)
        svc.router.check()
    assert svc.router.operator("alice").load == svc.router.operator("bob").load == 0


def place(c):
    """One placement as External.ts makes it: ten identical GETs at once, the first
    non-empty answer in the order sent."""
    with cf.ThreadPoolExecutor(10) as pool:
        answers = [a.json().get("username") for a in pool.map(lambda _: ask(c), range(10))]
    named = [a for a in answers if a]
    return named[0] if named else None


def test_placements_before_their_taken_webhooks_respect_the_limit(day):
    c, svc = day
    answers = [place(c) for _ in range(3)]          # no Taken in between
    assert sorted(a for a in answers if a) == ["alice", "bob"] and answers[2] is None
    for name in ("alice", "bob"):
        v = svc.router.operator(name)
        assert v.load <= v.limit and len(v.holds) == 1
    svc.router.check()


def test_a_late_taken_after_the_close_is_ignored(day):
    c, svc = day
    c.post("/rocketchat/webhook", json=taken("r9", "alice"), headers=HOOK)
    c.post("/rocketchat/webhook", json=closed("r9", "alice"), headers=HOOK)
    c.post("/rocketchat/webhook", json=taken("r9", "alice"), headers=HOOK)   # late retry
    assert svc.router.operator("alice").load == 0


def test_a_close_with_a_large_history_is_applied(day):
    c, svc = day
    c.post("/rocketchat/webhook", json=taken("big", "bob"), headers=HOOK)
    r = c.post("/rocketchat/webhook", json=closed("big", "bob", messages=7_000),
               headers=HOOK)                 # ~1.5 MB
    assert r.status_code == 200 and svc.router.operator("bob").load == 0
