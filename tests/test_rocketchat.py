"""Rocket.Chat: the External Queue Service endpoint and the omnichannel webhooks, with
request shapes taken from Rocket.Chat's routing method (GET with departmentId and
ignoreAgentId, header X-RocketChat-Secret-Token, JSON answer with a username) and its
webhook payloads (type, _id of the room, departmentId, servedBy, oldDepartmentId)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.integrations.rocketchat import RocketChatConfig  # noqa: E402
from pyroute.service import Service, build_app  # noqa: E402

SECRET = {"X-RocketChat-Secret-Token": "queue-secret"}
HOOK = {"X-RocketChat-Livechat-Token": "hook-secret"}


def rc_config(**kw):
    return RocketChatConfig(secret_token="queue-secret", livechat_token="hook-secret",
                            departments={"dep-sales": "sales"}, default_group="support",
                            **kw)


@pytest.fixture
def svc():
    config = pr.RouterConfig(channels=[pr.Channel("web")],
                             groups=[pr.Group("support"), pr.Group("sales")])
    ticks = iter(float(i) for i in range(1, 100_000))
    router = pr.Router(config, clock=lambda: next(ticks))
    router.add_operator("alice", ["support"], 2, "online", now=0.5)
    router.add_operator("bob", ["support", "sales"], 3, "online", now=0.5)
    return Service(router, {"tok": "supervisor"})


@pytest.fixture
def client(svc):
    with TestClient(build_app(svc, rc_config())) as c:
        yield c


def queue(client, **params):
    return client.get("/rocketchat/queue", params=params, headers=SECRET)


def hook(client, payload, headers=HOOK):
    return client.post("/rocketchat/webhook", json=payload, headers=headers)


def test_a_placement_holds_one_slot_of_the_agent_it_names(client, svc):
    answers = [queue(client, departmentId="dep-sales").json() for _ in range(10)]
    # Rocket.Chat asks ten times at once and keeps the first answer with an agent: the
    # first to arrive holds bob, the nine others are told nobody
    assert answers == [{"username": "bob"}] + [{}] * 9
    bob = svc.router.operator("bob")
    assert len(bob.holds) == 1 and bob.load == 1      # one placement, one hold
    assert svc.router.stats(now=svc.router.now).total.held == 1
    # the next placement: bob has 2 free, alice 2; alice was never assigned
    assert queue(client).json() == {"username": "alice"}
    assert svc.rocketchat.status()["placements"]["held"] == 2
    assert svc.rocketchat.status()["placements"]["shared_gets"] == 9
    svc.router.check()


def test_taken_confirms_the_hold_and_the_chat_takes_its_slot(client, svc):
    svc.router.set_limit("bob", 1, now=svc.router.now)
    assert queue(client, departmentId="dep-sales").json() == {"username": "bob"}
    hook(client, {"type": "LivechatSessionTaken", "_id": "r1", "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})
    bob = svc.router.operator("bob")
    assert bob.holds == () and bob.active == ("r1",) and bob.load == 1
    svc.router.check()


def test_a_forward_keeps_the_hold_of_a_placement_whose_taken_is_on_its_way(client, svc):
    """Rocket.Chat assigned r2 to bob on pyroute's answer (its Taken not here yet), then
    an agent forwarded r1 to bob: that forward was asked of nobody, so bob's hold is
    still r2's, and releasing it would name bob for a chat he has no room for."""
    r = svc.router
    r.set_limit("bob", 2, now=r.now)
    hook(client, {"type": "LivechatSessionTaken", "_id": "r1",
                  "servedBy": {"_id": "uid-alice", "username": "alice", "ts": 1000}})
    assert queue(client, departmentId="dep-sales").json() == {"username": "bob"}
    hook(client, {"type": "LivechatSessionForwarded", "_id": "r1",
                  "servedBy": {"_id": "uid-bob", "username": "bob", "ts": 2000},
                  "oldServedBy": {"_id": "uid-alice", "username": "alice", "ts": 1000}})
    bob = r.operator("bob")
    assert bob.active == ("r1",) and len(bob.holds) == 1 and bob.load == 2
    assert queue(client, departmentId="dep-sales").json() == {}     # bob is full
    hook(client, {"type": "LivechatSessionTaken", "_id": "r2", "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-bob", "username": "bob", "ts": 1500}})
    bob = r.operator("bob")
    assert set(bob.active) == {"r1", "r2"} and bob.holds == () and bob.load == 2
    r.check()


def test_a_hold_without_its_taken_expires(client, svc):
    svc.router.set_limit("bob", 1, now=svc.router.now)
    assert queue(client, departmentId="dep-sales").json() == {"username": "bob"}
    svc.router.advance(now=svc.router.now + 31.0)       # hold_seconds = 30
    assert svc.router.operator("bob").holds == ()
    assert svc.router.operator("bob").load == 0


def test_queue_skips_the_ignored_agent_and_says_nobody(client, svc):
    hook(client, {"type": "LivechatSessionTaken", "_id": "room0",
                  "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})   # learns bob's id
    assert queue(client, departmentId="dep-sales", ignoreAgentId="uid-bob").json() == {}
    assert queue(client, ignoreAgentId="uid-bob").json() == {"username": "alice"}
    # the default group: that answer holds one of alice's two slots, so bob (2 free of 3)
    assert queue(client, departmentId="unknown-dept").json() == {"username": "bob"}


@pytest.mark.parametrize("headers", [{}, {"X-RocketChat-Secret-Token": "wrong"}])
def test_queue_needs_the_secret(client, headers):
    assert client.get("/rocketchat/queue", headers=headers).status_code == 401


def test_webhooks_keep_the_load_in_sync(client, svc):
    r = svc.router
    # queued in Rocket.Chat: its own queue; pyroute assigns nothing behind its back
    assert hook(client, {"type": "LivechatSessionQueued", "_id": "room1",
                         "departmentId": "dep-sales"}).status_code == 200
    with pytest.raises(pr.UnknownId):
        r.request("room1")
    hook(client, {"type": "LivechatSessionTaken", "_id": "room1",
                  "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-alice", "username": "alice"}})
    assert (r.request("room1").state, r.request("room1").operator) == ("active", "alice")
    hook(client, {"type": "LivechatSessionTaken", "_id": "room2",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})
    assert r.request("room2").operator == "bob"
    # forwarded to another agent
    hook(client, {"type": "LivechatSessionForwarded", "_id": "room2",
                  "servedBy": {"_id": "uid-alice", "username": "alice"},
                  "oldServedBy": {"_id": "uid-bob", "username": "bob"}})
    assert r.request("room2").operator == "alice"
    assert r.operator("alice").load == 2 and r.operator("bob").load == 0
    # closed: finished, the slot is free again
    hook(client, {"type": "LivechatSession", "_id": "room1", "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-alice", "username": "alice"}})
    assert r.request("room1").state == "finished"
    assert r.operator("alice").load == 1
    r.check()


def test_a_waiting_chat_never_blocks_a_free_agent(client, svc):
    """alice (limit 2 here, one chat) closes her chat while another waits in Rocket.Chat:
    the next ask names her — pyroute did not give her the waiting chat behind RC's back."""
    svc.router.set_limit("alice", 1, now=svc.router.stats().at)
    svc.router.set_status("bob", "away", now=svc.router.stats().at)
    hook(client, {"type": "LivechatSessionTaken", "_id": "r1",
                  "servedBy": {"_id": "uid-alice", "username": "alice"}})
    hook(client, {"type": "LivechatSessionQueued", "_id": "r2"})
    assert queue(client).json() == {}                     # alice is full
    hook(client, {"type": "LivechatSession", "_id": "r1"})
    assert queue(client).json() == {"username": "alice"}


def test_back_to_the_queue_and_taken_again(client, svc):
    r = svc.router
    hook(client, {"type": "LivechatSessionTaken", "_id": "r3",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})
    # forwarded to a department: back in Rocket.Chat's queue, bob's slot is free
    hook(client, {"type": "LivechatSessionForwarded", "_id": "r3", "departmentId": "dep-sales",
                  "oldServedBy": {"_id": "uid-bob", "username": "bob"}})
    assert r.request("r3").state == "finished" and r.operator("bob").load == 0
    hook(client, {"type": "LivechatSessionTaken", "_id": "r3",
                  "servedBy": {"_id": "uid-alice", "username": "alice"}})
    assert r.request("r3#2").operator == "alice"        # a new conversation for pyroute
    hook(client, {"type": "LivechatSession", "_id": "r3"})
    assert r.request("r3#2").state == "finished"
    # taken by an agent pyroute does not route to: nobody in pyroute holds it
    hook(client, {"type": "LivechatSessionTaken", "_id": "r4",
                  "servedBy": {"_id": "x", "username": "stranger"}})
    with pytest.raises(pr.UnknownId):
        r.request("r4")
    r.check()


def test_a_room_id_with_a_hash_is_its_own_conversation(client, svc):
    """Issue 16.9: a room's second conversation was ``room#2``, the id of the first
    conversation of a room called ``room#2``: that room's webhooks moved the other's chat."""
    r = svc.router
    hook(client, {"type": "LivechatSessionTaken", "_id": "r",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})
    # back to the queue (a close would end the room for good), then taken again
    hook(client, {"type": "LivechatSessionForwarded", "_id": "r", "departmentId": "dep-sales",
                  "oldServedBy": {"_id": "uid-bob", "username": "bob"}})
    hook(client, {"type": "LivechatSessionTaken", "_id": "r",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})
    assert r.request("r#2").operator == "bob"           # ids of "#"-free rooms as before
    hook(client, {"type": "LivechatSessionTaken", "_id": "r#2",
                  "servedBy": {"_id": "uid-alice", "username": "alice"}})
    assert r.request("r#2").operator == "bob"           # room r's chat stays with bob
    assert r.request("#r#2#1").operator == "alice"      # room "r#2"'s own
    hook(client, {"type": "LivechatSession", "_id": "r#2"})
    assert r.request("r#2").state == "active" and r.request("#r#2#1").state == "finished"
    assert (r.operator("alice").load, r.operator("bob").load) == (0, 1)
    r.check()


def test_conversation_ids_never_collide():
    from pyroute.integrations.rocketchat import conversation_id
    rooms = ["r", "r#2", "#r", "r#", "#", "##", "r#2#1", "a#b#3", "x#1", "#x#1", "2"]
    ids = [conversation_id(room, k) for room in rooms for k in range(1, 5)]
    assert len(set(ids)) == len(ids)
    assert [conversation_id("kf3RjTn9H8mDoqJiB", k) for k in (1, 2)] == [
        "kf3RjTn9H8mDoqJiB", "kf3RjTn9H8mDoqJiB#2"]


@pytest.mark.parametrize("body", [
    b'{"type": "LivechatSession", "zz": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"type": "LivechatSession", "servedBy": {"x": ' + b"[" * 100_000 + b"]" * 100_000
    + b"}}"])
def test_deeply_nested_webhooks_are_422(svc, body):
    svc.max_body = 1 << 20
    with TestClient(build_app(svc, rc_config()), raise_server_exceptions=False) as c:
        r = c.post("/rocketchat/webhook", content=body,
                   headers={**HOOK, "Content-Type": "application/json"})
        assert r.status_code == 422 and "nested" in r.json()["error"], r.text[:200]


@pytest.mark.parametrize("payload", [
    {"type": "Message", "_id": "room1"},
    {"type": "LivechatSession", "_id": "never-seen"},
    {"type": "LivechatSessionTaken", "_id": "room3"},               # no agent
    {"type": "LivechatSessionTaken", "_id": "room3",
     "servedBy": {"_id": "x", "username": "stranger"}, "departmentId": "dep-sales"},
    {"type": "LivechatSessionForwarded", "_id": "nope"},
    {"type": "LivechatSessionStart"},                                # no room
])
def test_other_or_odd_webhooks_are_acknowledged(client, svc, payload):
    r = hook(client, payload)
    assert r.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-RocketChat-Livechat-Token": "nope"}])
def test_webhooks_need_the_token(client, svc, headers):
    before = svc.router._state()
    r = hook(client, {"type": "LivechatSessionStart", "_id": "room5"}, headers)
    assert r.status_code == 401 and svc.router._state() == before


@pytest.mark.parametrize("body", [b"{nope", b'{"_id": "x"}', b'{"type": 5}', b"[]"])
def test_malformed_webhooks_are_422(client, body):
    r = client.post("/rocketchat/webhook", content=body,
                    headers={**HOOK, "Content-Type": "application/json"})
    assert r.status_code == 422


@pytest.mark.parametrize("kw, words", [
    ({"channel": "fax"}, "channel"), ({"departments": {"d": "nope"}}, "departments"),
    ({"default_group": "nope"}, "default_group")])
def test_config_refuses_unknown_names(svc, kw, words):
    cfg = RocketChatConfig(secret_token="a", livechat_token="b", **kw)
    with pytest.raises(pr.ConfigError, match=words):
        build_app(svc, cfg)


def test_config_from_toml(tmp_path):
    p = tmp_path / "rc.toml"
    p.write_text('[rocketchat]\nsecret_token = "a"\nlivechat_token = "b"\n'
                 'departments = { "D1" = "support" }\n')
    assert RocketChatConfig.from_toml(p).departments == {"D1": "support"}
    p.write_text('[rocketchat]\nsecret_token = "a"\nlivechat = "b"\n')
    with pytest.raises(pr.ConfigError, match="livechat"):
        RocketChatConfig.from_toml(p)


# --------------------------------------------------------------------------- issue 13
def taken(room, agent, ts=None, **kw):
    served = {"_id": f"uid-{agent}", "username": agent}
    if ts is not None:
        served["ts"] = ts
    return {"type": "LivechatSessionTaken", "_id": room, "servedBy": served, **kw}


def test_a_webhook_the_router_refuses_for_good_is_200_and_counted(client, svc, monkeypatch):
    from pyroute.service.http import Refused

    def refuse(cmds):
        cmds()
        raise Refused(pr.InvalidArgument("no such thing"), [])
    monkeypatch.setattr(svc, "_apply_now", refuse)
    r = hook(client, taken("r1", "alice"))
    assert r.status_code == 200 and r.json()["applied"] is False
    assert "InvalidArgument" in r.json()["ignored"]
    assert svc.rocketchat.ignored == 1


def test_a_full_disk_is_503_and_the_retry_is_applied(client, svc, monkeypatch):
    from pyroute.service.http import Refused
    real = svc._apply_now
    calls = []

    def full_once(cmds):
        calls.append(cmds)
        if len(calls) == 1:
            cmds()                  # worked out (the room's memory learns), then refused
            raise Refused(pr.StorageFull("the journal's disk is full"), [])
        return real(cmds)
    monkeypatch.setattr(svc, "_apply_now", full_once)
    r = hook(client, taken("r1", "alice", ts="2026-03-02T08:00:01.000Z"))
    assert r.status_code == 503                          # Rocket.Chat tries again
    with pytest.raises(pr.UnknownId):
        svc.router.request("r1")
    r = hook(client, taken("r1", "alice", ts="2026-03-02T08:00:01.000Z"))  # the retry
    assert r.status_code == 200 and r.json()["applied"] is True   # not taken for a duplicate
    assert svc.router.request("r1").operator == "alice"


def test_a_journal_that_cannot_sync_is_503(client, svc):
    svc.broken = "syncing the journal failed (EIO); restart the service"
    r = hook(client, taken("r1", "alice"))
    assert r.status_code == 503 and "EIO" in r.json()["error"]


def test_a_busy_writer_is_503_and_the_late_retry_is_a_duplicate(svc, monkeypatch):
    import threading
    gate = threading.Event()
    real = svc._write

    async def slow(items):
        import asyncio
        await asyncio.to_thread(gate.wait, 10)
        await real(items)
    monkeypatch.setattr(svc, "_write", slow)
    with TestClient(build_app(svc, rc_config(webhook_timeout=0.2))) as c:
        r = hook(c, taken("r1", "alice", ts="2026-03-02T08:00:01.000Z"))
        assert r.status_code == 503 and "webhook_timeout" in r.json()["error"]
        gate.set()                          # the writer gets to it after all
        r = hook(c, taken("r1", "alice", ts="2026-03-02T08:00:01.000Z"))
        assert r.status_code == 200 and r.json() == {"applied": False, "ignored": "duplicate"}
        assert svc.router.operator("alice").load == 1
        assert svc.rocketchat.failed["writer busy"] == 1


def test_out_of_order_deliveries_end_where_rocket_chat_is(client, svc):
    r = svc.router
    t1, t2, t3 = ("2026-03-02T08:00:0%d.000Z" % i for i in (1, 2, 3))
    # forwarded alice -> bob arrives before the taken by alice
    hook(client, {"type": "LivechatSessionForwarded", "_id": "r1",
                  "servedBy": {"_id": "uid-bob", "username": "bob", "ts": t2},
                  "oldServedBy": {"_id": "uid-alice", "username": "alice", "ts": t1}})
    assert hook(client, taken("r1", "alice", ts=t1)).json()["ignored"].startswith("stale")
    assert r.request("r1").operator == "bob" and r.operator("alice").load == 0
    # back to the queue (bob's assignment ended), then bob's taken comes again: stale
    hook(client, {"type": "LivechatSessionForwarded", "_id": "r1", "departmentId": "dep-sales",
                  "oldServedBy": {"_id": "uid-bob", "username": "bob", "ts": t2}})
    assert hook(client, taken("r1", "bob", ts=t2)).json()["applied"] is False
    assert r.operator("bob").load == 0
    # taken again later: a new conversation
    assert hook(client, taken("r1", "alice", ts=t3)).json()["applied"] is True
    assert r.request("r1#2").operator == "alice"
    # the close, twice, then a late retry of the taken
    close = {"type": "LivechatSession", "_id": "r1", "closedAt": "2026-03-02T08:05:00.000Z",
             "servedBy": {"_id": "uid-alice", "username": "alice", "ts": t3}}
    assert hook(client, close).json()["applied"] is True
    assert hook(client, close).json() == {"applied": False, "ignored": "duplicate close"}
    assert hook(client, taken("r1", "alice", ts=t3)).json()["ignored"] == \
        "stale: the room is closed"
    assert r.operator("alice").load == 0 and r.request("r1#2").state == "finished"
    r.check()


def test_room_memory_is_bounded():
    from pyroute.integrations.rocketchat import Rooms
    now = [0.0]
    rooms = Rooms(size=3, seconds=60.0, clock=lambda: now[0])
    for i in range(5):
        rooms.touch(f"r{i}")
    assert list(rooms.rooms) == ["r2", "r3", "r4"]          # the least recent went first
    for room in ("r3", "r4"):
        rooms.touch(room).closed = True
    now[0] = 61.0
    rooms.touch("r5")             # r2 (open) goes for size; r3, r4 closed long ago: forgotten
    assert list(rooms.rooms) == ["r5"]
    now[0] = 200.0
    rooms.touch("r6").closed = True
    rooms.touch("r7")
    assert list(rooms.rooms) == ["r5", "r6", "r7"]        # an open room is kept in its turn


def test_the_agent_id_map_survives_a_restart(tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")],
                             groups=[pr.Group("support"), pr.Group("sales")])

    def service():
        s = Service.open(tmp_path, config, {"tok": "supervisor"})
        return s
    svc = service()
    svc.router.add_operator("alice", ["support"], 2, "online")
    svc.router.add_operator("bob", ["support"], 2, "online")
    with TestClient(build_app(svc, rc_config())) as c:
        hook(c, taken("r1", "bob"))                 # learns uid-bob -> bob
    svc = service()                                 # a restart: no agents in the config
    with TestClient(build_app(svc, rc_config())) as c:
        assert queue(c, ignoreAgentId="uid-bob").json() == {"username": "alice"}
    (tmp_path / "rocketchat-agents.json").write_text("{nope")
    with pytest.raises(pr.ConfigError, match="agent map"):
        build_app(service(), rc_config())


def test_a_large_body_is_read_without_its_messages(svc):
    svc.max_body = 4096                             # the fields pyroute keeps: 4 KiB
    payload = {**taken("big", "bob"), "messages": [{"msg": "x" * 1000}] * 3000}   # 3 MB
    with TestClient(build_app(svc, rc_config(max_webhook_body=8 << 20))) as c:
        assert hook(c, payload).json()["applied"] is True
        too_big = {**taken("big2", "bob"), "messages": [{"msg": "x" * 1000}] * 9000}
        assert hook(c, too_big).status_code == 413        # over max_webhook_body
        fat = {**taken("big3", "bob"), "customFields": {"notes": "y" * 5000}}
        r = hook(c, fat)                                   # kept fields over max_body
        assert r.status_code == 413 and "other than messages" in r.json()["error"]
    assert svc.router.request("big").operator == "bob"


def test_status_needs_the_supervisor(client):
    hook(client, {"type": "LivechatSessionStart", "_id": "r1"})
    assert client.get("/rocketchat/status").status_code == 401
    s = client.get("/rocketchat/status", headers={"Authorization": "Bearer tok"}).json()
    assert s["ignored"] == 1 and s["reconciler"] is None


@pytest.mark.parametrize("change, words", [
    (lambda g: {"accept_timeout": 30.0}, "accept_timeout"),
    (lambda g: {"max_queue": 5}, "max_queue"),
    (lambda g: {"hidden": True}, "hidden"),
    (lambda g: {"channels": ("phone",)}, "leaves out"),
])
def test_configs_rocket_chat_cannot_work_with_are_refused(change, words):
    groups = [pr.Group("support", **change(None)), pr.Group("sales")]
    config = pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("phone")], groups=groups)
    with pytest.raises(pr.ConfigError, match=words):
        rc_config().check(config)


@pytest.mark.parametrize("kw, words", [
    ({"prefer_for": 600.0}, "prefer_for"),
    ({"api_url": "https://chat.example.com"}, "api_user_id"),
    ({"webhook_timeout": 0.0}, "webhook_timeout"),
])
def test_rocket_chat_settings_that_cannot_work_are_refused(svc, kw, words):
    with pytest.raises(pr.ConfigError, match=words):
        rc_config(**kw).check(svc.router.config)


def test_a_channel_costing_more_than_one_slot_is_refused():
    config = pr.RouterConfig(channels=[pr.Channel("web", cost=2)], groups=[pr.Group("support")])
    with pytest.raises(pr.ConfigError, match="cost"):
        RocketChatConfig(secret_token="a", livechat_token="b").check(config)


def test_parse_ts_reads_rocket_chat_dates():
    from pyroute.integrations.rocketchat import parse_ts
    assert parse_ts("1970-01-01T00:00:01.500Z") == 1.5
    assert parse_ts({"$date": 2500}) == 2.5 and parse_ts(3000) == 3.0
    assert parse_ts("yesterday") is None and parse_ts(None) is None and parse_ts(True) is None


def test_room_of_inverts_conversation_id():
    from pyroute.integrations.rocketchat import conversation_id, room_of
    for room in ["r", "r#2", "#r", "r#", "#", "kf3RjTn9H8mDoqJiB"]:
        for k in (1, 2, 5):
            assert room_of(conversation_id(room, k)) == room
    assert room_of("x#y") is None and room_of(7) is None and room_of("r#1") is None
