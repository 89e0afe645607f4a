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


def test_queue_answers_whom_and_changes_nothing(client, svc):
    before = svc.router._state()
    answers = [queue(client, departmentId="dep-sales").json() for _ in range(10)]
    assert answers == [{"username": "bob"}] * 10      # Rocket.Chat asks ten times at once
    assert queue(client).json() == {"username": "bob"}  # support: bob has 3 free, alice 2
    assert svc.router._state() == before


def test_queue_skips_the_ignored_agent_and_says_nobody(client, svc):
    hook(client, {"type": "LivechatSessionTaken", "_id": "room0",
                  "departmentId": "dep-sales",
                  "servedBy": {"_id": "uid-bob", "username": "bob"}})   # learns bob's id
    assert queue(client, departmentId="dep-sales", ignoreAgentId="uid-bob").json() == {}
    assert queue(client, ignoreAgentId="uid-bob").json() == {"username": "alice"}
    # the default group: alice and bob have 2 free each; alice was never assigned
    assert queue(client, departmentId="unknown-dept").json() == {"username": "alice"}


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
