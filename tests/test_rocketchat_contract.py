"""A day of Rocket.Chat, as its source behaves (tests/rocketchat_fake.py), against
pyroute's real service on a real uvicorn server on localhost: placements of 10
concurrent asks assigned at once, Taken webhooks later and in any order, answers lost on
the way back (so webhooks come twice), retries every 20 s, closes carrying every message
of the room (some over a megabyte), forwards, moves to the queue and on-holds without any
webhook, agents switching livechat off, and the reconciler reading Rocket.Chat's REST API.

Asserted from the platform's side: nothing is lost (no webhook given up, every close
applied), nothing is held twice, and Rocket.Chat's view and pyroute's agree after
reconciliation; and no agent goes over its limit through an answer of pyroute's (each
answer holds the agent's slot until its Taken). Only a chat Rocket.Chat gives an agent on
its own (a forward, a resume from on-hold) before pyroute hears of it can, and the fake
counts those apart (``over_limit_untold``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx2")
pytest.importorskip("uvicorn")

import pyroute as pr  # noqa: E402
from pyroute import errors  # noqa: E402
from pyroute.integrations.rocketchat import (  # noqa: E402
    AGENTS_FILE, RocketChatConfig, conversation_id, room_of)
from pyroute.service import Service, build_app  # noqa: E402
from pyroute.service.server import make_server, uvicorn_config  # noqa: E402

from rocketchat_fake import Agent, FakeRocketChat  # noqa: E402

LIMITS = {"alice": 2, "bob": 2, "carol": 1, "dave": 3}
GROUPS = {"alice": ["support"], "bob": ["support", "sales"], "carol": ["sales"],
          "dave": ["support"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(tmp_path, seed=0, **fake_kw):
    config = pr.RouterConfig(channels=[pr.Channel("web")],
                             groups=[pr.Group("support"), pr.Group("sales")])
    svc = Service.open(tmp_path, config, {"tok": "supervisor"})
    for name, limit in LIMITS.items():
        svc.router.add_operator(name, GROUPS[name], limit, "online")
    port = free_port()
    fake = FakeRocketChat(f"http://127.0.0.1:{port}", "queue-secret", "hook-secret",
                          [Agent(f"uid-{n}", n, lim) for n, lim in LIMITS.items()],
                          seed=seed, **fake_kw)
    rc_cfg = RocketChatConfig(secret_token="queue-secret", livechat_token="hook-secret",
                              departments={"dep-sales": "sales"}, default_group="support",
                              api_url="http://rocketchat.test", api_user_id=fake.api_user,
                              api_token=fake.api_token, reconcile_every=3600.0)
    app = build_app(svc, rc_cfg)
    svc.rocketchat.reconciler.transport = httpx.MockTransport(fake.api)
    srv = make_server(uvicorn_config(app, host="127.0.0.1", port=port), svc)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield fake, svc
    finally:
        srv.should_exit = True
        thread.join(timeout=15)


async def reconcile(svc):
    rec = svc.rocketchat.reconciler
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(rec.run_once(),
                                                                      rec.loop))


def conversations(svc, room):
    """Every pyroute conversation of a room, oldest first."""
    out, k = [], 1
    while True:
        try:
            out.append(svc.router.request(conversation_id(room, k)))
        except errors.UnknownId:
            return out
        k += 1


def live(view):
    return view.state in ("queued", "offered", "active")


def assert_agree(fake, svc):
    """Rocket.Chat's view and pyroute's, room by room and agent by agent. Exact for every
    agent Rocket.Chat kept within their limit; a room Rocket.Chat gave to an agent over
    their limit (possible until the pick hold lands) is held in pyroute on its way to
    that agent: waiting for them, or with a transfer to them pending — and so may be a
    room of an agent whose slots in pyroute still hold such a chat."""
    router = svc.router
    served = {r.id: r.served[1] for r in fake.rooms.values()
              if r.open and not r.on_hold and r.served}
    over = {a for a, limit in LIMITS.items() if fake.serving(a) > limit}

    def blocked(agent):
        return any(router.request(c).transfer_to in over
                   for c in router.operator(agent).active)
    for room in fake.rooms:
        views = conversations(svc, room)
        held = [v for v in views if live(v)]
        assert len(held) <= 1, f"room {room} is held twice in pyroute: {held}"
        if room not in served:
            assert not held, f"room {room} is not served in Rocket.Chat, pyroute: {held}"
            continue
        agent = served[room]
        assert held, f"room {room} is served by {agent} in Rocket.Chat, not in pyroute"
        v = held[0]
        if v.state == "active" and v.operator == agent:
            continue
        # over their limit in Rocket.Chat: waiting for them, or a transfer to them
        # pending; within it: waiting for them only while their slots in pyroute hold
        # chats on their way to an agent Rocket.Chat overran
        assert (agent in over and (v.state == "queued" or v.transfer_to == agent)) or (
            v.state == "queued" and blocked(agent)), (room, agent, v)
    for name, limit in LIMITS.items():
        op = router.operator(name)
        assert op.load <= limit
        on_the_way = [c for c in op.active
                      if router.request(c).transfer_to in over]
        mine = [c for c in op.active if c not in on_the_way]
        assert all(served.get(room_of(c)) == name for c in mine), (name, op)
        if name not in over and not blocked(name):
            assert len(mine) == fake.serving(name), (name, op, fake.serving(name))
    if not over:
        assert all(router.operator(a).load == fake.serving(a) for a in LIMITS)
    router.check()


async def day(fake, svc, rnd, minutes=5):
    """``minutes`` of a support floor, one virtual second a tick."""
    n = 0
    for t in range(minutes * 60):
        # arrivals: a burst now and then, placed concurrently as Rocket.Chat does
        k = 3 if rnd.random() < 0.03 else (1 if rnd.random() < 0.2 else 0)
        if k:
            chats = []
            for _ in range(k):
                n += 1
                dept = "dep-sales" if rnd.random() < 0.4 else None
                history = 7_000 if rnd.random() < 0.04 else rnd.randrange(0, 20)
                chats.append(fake.new_chat(f"room{n}", dept, history=history))
            await asyncio.gather(*chats)
        for room in list(fake.rooms.values()):
            if not room.open:
                continue
            if room.on_hold:
                if rnd.random() < 0.05 and fake.serving(room.served[1]) < \
                        LIMITS[room.served[1]]:
                    fake.hold(room.id, False)          # resumed: no webhook
                continue
            if room.served is None:
                if rnd.random() < 0.01:
                    fake.close(room.id)                # the visitor gave up waiting
                continue
            x = rnd.random()
            if x < 0.03:
                fake.close(room.id)
            elif x < 0.04:
                others = [a for a in LIMITS if a != room.served[1]
                          and fake.serving(a) < LIMITS[a] and fake._online(a)]
                if others:
                    fake.forward(room.id, rnd.choice(others))
            elif x < 0.045:
                fake.move_to_queue(room.id)            # no webhook
            elif x < 0.05:
                fake.hold(room.id, True)               # no webhook
            elif x < 0.35:
                fake.say(room.id)
        if rnd.random() < 0.01:                        # livechat off for a while
            fake.set_agent(rnd.choice(list(LIMITS)), livechat="not-available")
        for a in fake.agents.values():
            if a.livechat != "available" and rnd.random() < 0.05:
                fake.set_agent(a.username, livechat="available")
        await fake.tick()
        if t % 60 == 59:
            await reconcile(svc)


async def settle(fake, svc):
    """The day's end: holds resumed or closed, every webhook delivered, one read."""
    for room in fake.rooms.values():
        if room.open and room.on_hold:
            if fake.serving(room.served[1]) < LIMITS[room.served[1]]:
                fake.hold(room.id, False)
            else:
                fake.close(room.id)
    for a in fake.agents.values():
        fake.set_agent(a.username, livechat="available")
    await fake.drain()
    # the read releases only holds placed more than placement_window (wall clock) before
    # it: a hold younger than that may be a placement whose assignment the read missed.
    # The fake's seconds are virtual and a day runs in a few real ones, so an answer
    # Rocket.Chat did not assign (its agent had switched livechat off) just before the
    # end would still hold its slot; wait as long as a real floor would have
    await asyncio.sleep(svc.rocketchat.cfg.placement_window + 0.1)
    await reconcile(svc)


def run(coro):
    return asyncio.run(coro)


def test_a_day_of_rocket_chat_loses_nothing_and_agrees_after_reconciliation(tmp_path):
    import random
    rnd = random.Random(7)
    with serving(tmp_path, seed=7, lose_answers=0.15) as (fake, svc):
        async def go():
            async with fake:
                await day(fake, svc, rnd)
                await settle(fake, svc)
                assert_agree(fake, svc)
                # everything closes: nothing stays on anyone in pyroute
                for room in list(fake.rooms.values()):
                    if room.open:
                        fake.close(room.id)
                await fake.drain()
                await reconcile(svc)
                assert_agree(fake, svc)
        run(go())
        rc = svc.rocketchat
        assert fake.given_up == [] and fake.failed_deliveries == []   # every webhook 200
        assert all(svc.router.operator(a).load == 0 for a in LIMITS)
        # the day had what it is meant to have
        assert len(fake.rooms) > 40 and fake.gets >= 10 * len(fake.rooms)
        assert rc.reasons["duplicate"] > 0 or rc.reasons["duplicate close"] > 0
        assert any(len(r.messages) >= 7_000 for r in fake.rooms.values())
        corrections = rc.reconciler.corrections
        assert corrections, "the reconciler had drift to correct (holds, moves to queue)"
        # the agent id map was learned and written beside the journal
        import json
        assert json.loads((tmp_path / AGENTS_FILE).read_text()) == {
            f"uid-{a}": a for a in LIMITS}


def test_no_agent_is_ever_over_its_limit(tmp_path):
    import random
    rnd = random.Random(11)
    with serving(tmp_path, seed=11) as (fake, svc):
        async def go():
            async with fake:
                await day(fake, svc, rnd, minutes=2)
                await settle(fake, svc)
                # never over a limit through an answer of pyroute's; only a chat
                # Rocket.Chat gave on its own and had not told of yet can put an
                # agent over (and pyroute then holds it waiting for them)
                assert fake.over_limit == []
                assert_agree(fake, svc)             # then exact, agent by agent
        run(go())


def test_the_reconciler_corrects_what_no_webhook_reports(tmp_path):
    """Move to queue, on-hold and resume, and availability reach pyroute only through
    the reconciler's read of Rocket.Chat's REST API."""
    with serving(tmp_path) as (fake, svc):
        r = svc.router

        async def go():
            async with fake:
                first = await fake.new_chat("r1")
                second = await fake.new_chat("r2")
                await fake.drain()
                assert r.request("r1").operator == first
                fake.move_to_queue("r1")                # no webhook
                fake.hold("r2", True)                   # no webhook: takes no slot
                gone = next(a for a in LIMITS if a not in (first, second, "carol"))
                fake.set_agent("carol", livechat="not-available")
                fake.set_agent(gone, agent=False)       # removed as a livechat agent
                assert r.request("r1").state == "active"
                await reconcile(svc)
                assert r.request("r1").state == "finished"
                assert r.request("r2").state == "finished"
                assert r.operator("carol").status == "away"
                assert r.operator(gone).status == "offline"
                fake.hold("r2", False)                  # resumed: no webhook
                fake.set_agent("carol", livechat="available")
                await reconcile(svc)
                assert r.request("r2#2").operator == second   # its agent's again
                assert r.operator("carol").status == "online"
                assert await reconcile(svc) == 0        # nothing left to correct
                assert_agree(fake, svc)
        run(go())
        kinds = svc.rocketchat.reconciler.corrections
        assert kinds["status online -> away"] == 1 and kinds["status away -> online"] == 1


def test_a_failed_read_of_rocket_chat_applies_nothing(tmp_path, caplog):
    with serving(tmp_path) as (fake, svc):
        async def go():
            async with fake:
                await fake.new_chat("r1")
                await fake.drain()
                fake.move_to_queue("r1")          # drift: pyroute still has it on someone
                before = svc.router.request("r1")
                fake.api_down = True
                assert await reconcile(svc) is None
                assert svc.router.request("r1") == before
                fake.api_down = False
                fake.api_token = "changed"        # wrong credentials: 401, the same
                assert await reconcile(svc) is None
                assert svc.router.request("r1") == before
                fake.api_token = "rest-token"
                assert await reconcile(svc) == 1  # the next good read corrects it
                assert svc.router.request("r1").state == "finished"
        run(go())
        rec = svc.rocketchat.reconciler
        assert rec.failures == 2 and "401" in caplog.text and "503" in caplog.text
