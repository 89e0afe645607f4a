"""``pyroute serve``: the HTTP service, through Starlette's TestClient (in process)."""

from __future__ import annotations

import json

import msgspec
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.service import Service, build_app, openapi_document, parse_tokens  # noqa: E402
from pyroute.service.app import COMMANDS, URL_NAMES  # noqa: E402

SUP = {"Authorization": "Bearer s3cret"}
INT = {"Authorization": "Bearer int3g"}
TOKENS = {"s3cret": "supervisor", "int3g": "integration"}


def config():
    return pr.RouterConfig(channels=[pr.Channel("web", target_wait=30.0)],
                           groups=[pr.Group("first"), pr.Group("vip", hidden=True)])


@pytest.fixture
def svc():
    ticks = iter(float(i) for i in range(1, 10_000))
    return Service(pr.Router(config(), clock=lambda: next(ticks)), TOKENS, max_body=4096)


@pytest.fixture
def client(svc):
    with TestClient(build_app(svc)) as c:
        yield c


def post(client, name, body, headers=SUP):
    return client.post(f"/v1/commands/{name}", json=body, headers=headers)


def test_a_day_in_the_life(client, svc):
    r = post(client, "add_operator", {"operator": "alice", "groups": ["first"], "limit": 2,
                                      "status": "online"})
    assert r.status_code == 200 and r.json()["events"] == []
    r = post(client, "submit", {"request": "c1", "channel": "web", "group": "first"}, INT)
    assert r.status_code == 200
    (ev,) = r.json()["events"]
    assert ev["type"] == "Assigned" and ev["operator"] == "alice"
    assert client.get("/v1/requests/c1", headers=INT).json()["state"] == "active"
    assert client.get("/v1/operators/alice", headers=INT).json()["load"] == 1
    assert client.get("/v1/stats", headers=INT).json()["total"]["in_progress"] == 1
    r = post(client, "finish", {"request": "c1"}, INT)
    assert [e["type"] for e in r.json()["events"]] == ["Finished"]
    assert svc.applied == 3


def test_batches_and_msgpack(client):
    cmds = [pr.AddOperator(operator="bob", groups=("first",), limit=1, status="online"),
            pr.Submit(request="a", channel="web", group="first"),
            pr.Submit(request="b", channel="web", group="first")]
    body = msgspec.msgpack.encode(cmds)
    r = client.post("/v1/commands", content=body,
                    headers={**SUP, "Content-Type": "application/msgpack",
                             "Accept": "application/msgpack"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/msgpack"
    events = msgspec.msgpack.decode(r.content)["events"]
    assert [e["type"] for e in events] == ["Assigned", "Queued"]
    r = client.get("/v1/queues/first", headers=SUP)
    assert r.json() == {"group": "first", "waiting": ["b"]}


def test_a_failed_command_applies_nothing_of_itself(client, svc):
    post(client, "submit", {"request": "c1", "channel": "web", "group": "first"})
    before = svc.router._state()
    r = post(client, "finish", {"request": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = post(client, "submit", {"request": "c1", "channel": "web", "group": "first"})
    assert r.status_code == 409 and r.json()["kind"] == "DuplicateId"
    r = post(client, "submit", {"request": "c2", "channel": "fax", "group": "first"})
    assert r.status_code == 404 and "fax" in r.json()["error"]
    assert svc.router._state() == before
    # a batch stops at the failing command; what came before stays applied and is said
    r = client.post("/v1/commands", headers=SUP, json=[
        {"type": "Submit", "request": "c3", "channel": "web", "group": "first"},
        {"type": "Finish", "request": "nope"}])
    assert r.status_code == 404
    assert [e["type"] for e in r.json()["applied_events"]] == ["Queued"]


@pytest.mark.parametrize("body, words", [
    (b"{not json", ["not valid JSON"]),
    (b'{"request": "c1", "channel": "web"}', ["group"]),
    (b'{"request": "c1", "channel": "web", "group": "first", "colour": "red"}', ["colour"]),
    (b'{"request": 1.5, "channel": "web", "group": "first"}', ["$.request"]),
    (b'{"request": "c1", "channel": "web", "group": "first", "priority": "high"}',
     ["$.priority"]),
])
def test_malformed_bodies_are_422_with_the_field(client, svc, body, words):
    before = svc.router._state()
    r = client.post("/v1/commands/submit", content=body,
                    headers={**SUP, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    for w in words:
        assert w in r.json()["error"]
    assert svc.router._state() == before


def test_body_over_the_limit_is_413(client):
    r = client.post("/v1/commands", content=b"[" + b" " * 5000 + b"]",
                    headers={**SUP, "Content-Type": "application/json"})
    assert r.status_code == 413


ROUTES_GET = ["/v1/operators/alice", "/v1/requests/c1", "/v1/queues/first", "/v1/stats",
              "/v1/bans", "/v1/accepting?group=first&channel=web", "/v1/config", "/"]
SUPERVISOR_GET = {"/v1/bans", "/v1/config"}


@pytest.mark.parametrize("path", ROUTES_GET)
def test_every_read_needs_a_token(client, path):
    post(client, "add_operator", {"operator": "alice", "groups": ["first"], "limit": 1})
    post(client, "submit", {"request": "c1", "channel": "web", "group": "first"})
    assert client.get(path).status_code == 401 if path != "/" else True
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code in (
        401, 200 if path == "/" else 401)
    want = 403 if path in SUPERVISOR_GET else 200
    assert client.get(path, headers=INT).status_code == want
    assert client.get(path, headers=SUP).status_code == 200


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_route_checks_the_role(client, name):
    url = f"/v1/commands/{URL_NAMES[name]}"
    assert client.post(url, json={}).status_code == 401
    from pyroute.service.app import INTEGRATION_COMMANDS
    r = client.post(url, json={}, headers=INT)
    if name in INTEGRATION_COMMANDS:
        assert r.status_code in (404, 409, 422)     # allowed; the empty body is refused
    else:
        assert r.status_code == 403 and "supervisor" in r.json()["error"]
    assert client.post(url, json={}, headers=SUP).status_code != 403
    r = client.post("/v1/commands", json=[{"type": name}], headers=INT)
    assert r.status_code in ((404, 409, 422) if name in INTEGRATION_COMMANDS else (403, 422))


def test_events_stream(client, svc):
    post(client, "add_operator", {"operator": "alice", "groups": ["first"], "limit": 1,
                                  "status": "online"})
    with client.stream("GET", "/v1/events", headers=INT) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith(": connected")
        assert len(svc.subscribers) == 1
        post(client, "submit", {"request": "c1", "channel": "web", "group": "first"}, INT)
        data = next(line for line in lines if line.startswith("data: "))
        assert json.loads(data[6:])["type"] == "Assigned"
    for _ in range(100):       # the generator's finally runs once the client is gone
        if not svc.subscribers:
            break
        post(client, "advance", {})
    assert not svc.subscribers


def test_a_slow_subscriber_is_dropped(svc):
    import asyncio
    q: asyncio.Queue = asyncio.Queue(maxsize=1)
    svc.subscribers.add(q)
    svc._publish([pr.Queued(request="a", group="first", channel="web", at=1.0)])
    svc._publish([pr.Queued(request="b", group="first", channel="web", at=1.0)])
    assert q not in svc.subscribers


def test_openapi_and_page(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {f"/v1/commands/{URL_NAMES[n]}" for n in COMMANDS} <= set(doc["paths"])
    assert "Submit" in doc["components"]["schemas"]
    assert doc == json.loads(json.dumps(openapi_document()))
    page = client.get("/").text
    assert "live floor" in page and "EventSource" in page


@pytest.mark.parametrize("spec, ok", [
    ("supervisor:a,integration:b", {"a": "supervisor", "b": "integration"}),
    ("", {}), ("admin:x", None), ("supervisor", None), ("supervisor:", None)])
def test_parse_tokens(spec, ok):
    if ok is None:
        with pytest.raises(pr.ConfigError):
            parse_tokens(spec)
    else:
        assert parse_tokens(spec) == ok


def test_a_service_needs_a_token():
    with pytest.raises(pr.ConfigError, match="token"):
        Service(pr.Router(config()), {})


def test_durable_service_survives_a_restart(tmp_path):
    router = pr.Router.open(tmp_path, config())
    svc = Service(router, TOKENS)
    with TestClient(build_app(svc)) as c:
        post(c, "submit", {"request": "c1", "channel": "web", "group": "first", "now": 5.0})
    again = pr.Router.open(tmp_path, config())
    assert again.request("c1").state == "queued"


def test_the_event_stream_needs_a_token(client):
    assert client.get("/v1/events").status_code == 401
    assert client.get("/v1/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/v1/events?token=nope").status_code == 401


def test_a_now_far_ahead_is_refused(client, svc):
    before = svc.router._state()
    r = post(client, "submit", {"request": "a", "channel": "web", "group": "first",
                                "now": 4e12}, INT)
    assert r.status_code == 422 and "ahead" in r.json()["error"]
    r = client.post("/v1/commands", headers=SUP,
                    json=[{"type": "Advance", "now": 4e12}])
    assert r.status_code == 422
    assert svc.router._state() == before


def test_the_writer_survives_a_failing_router(client, svc):
    class Boom(Exception):
        pass

    real = svc.router.apply

    def broken(cmd):
        raise StopIteration("clock ran out")   # not a RoutingError, not even an Exception path
    svc.router = type("R", (), {"apply": staticmethod(broken),
                                "__getattr__": lambda self, n: getattr(real.__self__, n)})()
    r = post(client, "advance", {})
    assert r.status_code == 500 and "internal error" in r.json()["error"]
    svc.router = real.__self__
    assert post(client, "advance", {}).status_code == 200


@pytest.mark.parametrize("path", ["/v1/operators/int:²", "/v1/operators/int:99999999999999999999999"])
def test_odd_ids_in_urls(client, path):
    assert client.get(path, headers=SUP).status_code == 404
