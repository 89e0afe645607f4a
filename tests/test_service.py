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


def test_a_slow_subscriber_is_dropped_by_its_events_not_its_requests():
    svc = Service(pr.Router(config()), TOKENS, subscriber_buffer=3)
    ev = [pr.Queued(request=i, group="first", channel="web", at=1.0) for i in range(5)]
    slow = svc.subscribe()
    svc._publish(ev[:2])
    assert slow in svc.subscribers and slow.held == 2
    svc._publish(ev[2:4])          # 4 events held > 3: dropped, never waited for
    assert slow not in svc.subscribers and slow.dropped and not slow.chunks
    one_batch = svc.subscribe()    # one request of 5 events is 5, not 1
    svc._publish(ev)
    assert one_batch not in svc.subscribers
    reader = svc.subscribe()
    for e in ev:                   # one that reads as they come stays
        svc._publish([e])
        assert reader.take().startswith(b"data: ")
        reader.written()
    assert reader in svc.subscribers and svc.dropped == 2


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


class SteppingClock:
    """A clock the test moves; each reading is a millisecond after the last (like the
    wall clock, it moves between calls)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        self.t += 0.001
        return self.t


@pytest.fixture
def clocked():
    """A service and its router on one clock, as ``pyroute serve`` runs them."""
    clock = SteppingClock(1_000.0)
    svc = Service(pr.Router(config(), clock=clock), TOKENS, clock=clock)
    with TestClient(build_app(svc)) as c:
        yield c, svc, clock


def test_a_future_now_is_taken_down_to_the_service_clock(clocked):
    """Issue 16.1: an integration's submit 299 s ahead used to be applied at its time, and
    then every command without now, and GET /v1/stats, failed with "time went backwards"
    for 299 s."""
    c, svc, clock = clocked
    post(c, "add_operator", {"operator": "alice", "groups": ["first"], "limit": 1,
                             "status": "online"})
    ahead = clock.t + 299.0
    r = post(c, "submit", {"request": "a", "channel": "web", "group": "first",
                           "now": ahead}, INT)
    assert r.status_code == 200, r.text
    (ev,) = r.json()["events"]
    for name, body in [("submit", {"request": "b", "channel": "web", "group": "first"}),
                       ("finish", {"request": "a"})]:
        r = post(c, name, body, INT)
        assert r.status_code == 200, (name, r.text)
    for name, body in [("advance", {}), ("set_status", {"operator": "alice",
                                                        "status": "away"})]:
        r = post(c, name, body, SUP)
        assert r.status_code == 200, (name, r.text)
    r = c.get("/v1/stats", headers=INT)
    assert r.status_code == 200, r.text
    assert c.get("/v1/bans", headers=SUP).status_code == 200
    assert c.get("/v1/accepting?group=first&channel=web", headers=INT).status_code == 200
    r = c.post("/v1/commands", headers=SUP, json=[   # a batch: each now taken down
        {"type": "Submit", "request": "c", "channel": "web", "group": "first",
         "now": clock.t + 1e6},
        {"type": "Submit", "request": "d", "channel": "web", "group": "first"}])
    assert r.status_code == 200, r.text
    assert post(c, "cancel", {"request": "c"}, INT).status_code == 200
    assert ev["type"] == "Assigned" and ev["at"] < ahead - 298    # at the service's time


def test_a_now_behind_the_router_is_refused_for_that_client_only(clocked):
    c, svc, clock = clocked
    assert post(c, "advance", {}).status_code == 200
    before = svc.router._state()
    r = post(c, "submit", {"request": "a", "channel": "web", "group": "first",
                           "now": clock.t - 60}, INT)
    assert r.status_code == 422 and r.json()["kind"] == "TimeError"
    assert svc.router._state() == before
    assert post(c, "submit", {"request": "a", "channel": "web", "group": "first"},
                INT).status_code == 200
    assert c.get("/v1/stats", headers=INT).status_code == 200


@pytest.mark.parametrize("now", [None, 1e400, True, "soon"])
def test_a_now_that_is_not_a_time_is_refused(clocked, now):
    c, svc, clock = clocked
    body = b'{"request": "a", "channel": "web", "group": "first", "now": %s}' % (
        b"1e400" if now == 1e400 else json.dumps(now).encode())
    r = c.post("/v1/commands/submit", content=body,
               headers={**INT, "Content-Type": "application/json"})
    assert r.status_code == (200 if now is None else 422), r.text


def test_max_skew_still_refuses_a_now_far_ahead():
    clock = SteppingClock(1_000.0)
    svc = Service(pr.Router(config(), clock=clock), TOKENS, clock=clock, max_skew=300.0)
    with TestClient(build_app(svc)) as c:
        before = svc.router._state()
        r = post(c, "submit", {"request": "a", "channel": "web", "group": "first",
                               "now": clock.t + 301}, INT)
        assert r.status_code == 422 and "ahead" in r.json()["error"]
        assert svc.router._state() == before
        r = post(c, "submit", {"request": "a", "channel": "web", "group": "first",
                               "now": clock.t + 299}, INT)
        assert r.status_code == 200      # within the skew: taken down to the clock
        assert post(c, "cancel", {"request": "a"}, INT).status_code == 200


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_the_service_clock_never_runs_behind_a_router_moved_directly(engine):
    from pyroute import reference
    clock = SteppingClock(1_000.0)
    router = {"native": pr.Router, "reference": reference.Router}[engine](config(),
                                                                           clock=clock)
    if not hasattr(router, "now"):
        pytest.skip(f"the {engine} Router has no `now` property yet")
    svc = Service(router, TOKENS, clock=clock)
    with TestClient(build_app(svc)) as c:
        router.advance(now=clock.t + 500)      # outside the service (a script, a test)
        assert post(c, "submit", {"request": "a", "channel": "web", "group": "first"},
                    INT).status_code == 200
        assert c.get("/v1/stats", headers=INT).status_code == 200


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_a_restart_on_a_journal_ahead_of_the_wall_clock(tmp_path, engine):
    """A journal written while the wall clock ran ahead (or by a version that accepted
    any future now): the restarted service starts at the journal's time."""
    import time

    from pyroute import reference
    from pyroute.service.app import MonotonicWallClock
    cls = {"native": pr.Router, "reference": reference.Router}[engine]
    if not hasattr(cls(config()), "now"):
        pytest.skip(f"the {engine} Router has no `now` property yet")
    ahead = time.time() + 3600
    with cls.open(tmp_path, config(), clock=lambda: ahead) as r:
        r.submit("old", "web", "first", now=ahead)
    clock = MonotonicWallClock()
    svc = Service(cls.open(tmp_path, config(), clock=clock), TOKENS, clock=clock)
    with TestClient(build_app(svc)) as c:
        r = post(c, "submit", {"request": "new", "channel": "web", "group": "first"}, INT)
        assert r.status_code == 200, r.text
        assert r.json()["events"][0]["at"] >= ahead
        assert c.get("/v1/stats", headers=INT).status_code == 200
        assert post(c, "cancel", {"request": "old"}, INT).status_code == 200
    assert clock() >= ahead


def test_fsync_always_syncs_every_applied_command_before_it_answers(tmp_path, monkeypatch):
    import os
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    svc = Service.open(tmp_path, config(), TOKENS, fsync="always")
    assert svc.router.fsync == "never"       # the service syncs, off the loop's thread
    with TestClient(build_app(svc)) as c:
        assert post(c, "add_operator", {"operator": "a", "groups": ["first"],
                                        "limit": 1}).json()["events"] == []
        assert len(synced) == 1               # no events, but applied: made durable
        assert post(c, "finish", {"request": "nope"}).status_code == 404
        assert len(synced) == 1               # nothing applied, nothing to sync
        r = c.post("/v1/commands", headers=SUP, json=[
            {"type": "Submit", "request": "c", "channel": "web", "group": "first"},
            {"type": "Finish", "request": "nope"}])
        assert r.status_code == 404 and len(synced) == 2   # the first stays, durable


def test_a_failed_sync_acknowledges_nothing_and_stops_commands(tmp_path, monkeypatch):
    import errno
    import os
    svc = Service.open(tmp_path, config(), TOKENS, fsync="always")

    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")
    with TestClient(build_app(svc)) as c:
        monkeypatch.setattr(os, "fdatasync", failing)
        r = post(c, "submit", {"request": "c", "channel": "web", "group": "first"})
        assert r.status_code == 503 and "sync" in r.json()["error"]
        monkeypatch.undo()
        assert post(c, "advance", {}).status_code == 503
        assert c.get("/v1/stats", headers=INT).status_code == 200     # reads go on


def test_the_monotonic_wall_clock_holds(monkeypatch):
    import time

    from pyroute.service.app import MonotonicWallClock
    clock = MonotonicWallClock()
    now = clock()
    clock.hold(now + 100)
    assert clock() == now + 100
    monkeypatch.setattr(time, "time", lambda: now - 50)    # the wall clock steps back
    assert clock() == now + 100


def test_the_writer_survives_a_failing_router(client, svc):
    real = svc.router

    def broken(*cmds):
        raise StopIteration("clock ran out")   # not a RoutingError, not even an Exception path
    svc.router = type("R", (), {"apply": staticmethod(broken), "apply_many": staticmethod(broken),
                                "__getattr__": lambda self, n: getattr(real, n)})()
    r = post(client, "advance", {})
    assert r.status_code == 500 and "internal error" in r.json()["error"]
    svc.router = real
    assert post(client, "advance", {}).status_code == 200


def test_a_full_disk_is_503(client, svc):
    real = svc.router

    def full(*cmds):
        raise pr.StorageFull("no space left on the device for the journal")
    svc.router = type("R", (), {"apply": staticmethod(full), "apply_many": staticmethod(full),
                                "__getattr__": lambda self, n: getattr(real, n)})()
    r = post(client, "advance", {})
    assert r.status_code == 503 and r.json()["kind"] == "StorageFull"
    svc.router = real


@pytest.mark.parametrize("path", ["/v1/operators/int:²", "/v1/operators/int:99999999999999999999999"])
def test_odd_ids_in_urls(client, path):
    assert client.get(path, headers=SUP).status_code == 404


@pytest.mark.parametrize("ident, urls", [
    ("team/a", ["team/a", "team%2Fa"]),
    ("int:7", ["str:int:7", "str%3Aint%3A7"]),
    ("str:x", ["str:str:x"]),
    ("plain", ["plain", "str:plain"]),
    (7, ["int:7"]),
])
def test_every_id_can_be_read_over_http(client, ident, urls):
    """Issue 16.9: ids with "/" and ids that look like int:7 could not be read."""
    post(client, "add_operator", {"operator": ident, "groups": ["first"], "limit": 1})
    post(client, "submit", {"request": ident, "channel": "web", "group": "first"})
    for url in urls:
        r = client.get(f"/v1/requests/{url}", headers=INT)
        assert r.status_code == 200, (url, r.text)
        assert r.json()["id"] == ident
        r = client.get(f"/v1/operators/{url}", headers=INT)
        assert r.status_code == 200 and r.json()["id"] == ident, (url, r.text)


def test_int_look_alikes_do_not_name_each_other(client):
    post(client, "submit", {"request": "int:7", "channel": "web", "group": "first"})
    assert client.get("/v1/requests/int:7", headers=INT).status_code == 404   # the integer


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("url, body", [
    ("/v1/commands", b'{"zz": ' + DEEP + b', "type": "Submit"}'),
    ("/v1/commands", b'{"commands": ' + DEEP + b'}'),
    ("/v1/commands", b'{"request": ' + DEEP + b'}'),
    ("/v1/commands/submit", b'{"zz": ' + DEEP + b'}'),
    ("/v1/commands/submit", DEEP),
    ("/v1/commands/submit", b'{"request": "a", "skills": ' + DEEP + b'}'),
])
def test_deeply_nested_bodies_are_422(svc, url, body):
    """Issue 16.9: a deeply nested body was a RecursionError, a 500."""
    svc.max_body = 1 << 20
    with TestClient(build_app(svc), raise_server_exceptions=False) as c:
        before = svc.router._state()
        r = c.post(url, content=body, headers={**SUP, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text[:300]
        assert "error" in r.json()
        mp = b"\x91" * 100_000 + b"\xc0"
        r = c.post(url, content=mp, headers={**SUP, "Content-Type": "application/msgpack"})
        assert r.status_code == 422, r.text[:300]
        assert svc.router._state() == before


def test_openapi_covers_every_route(svc):
    from starlette.routing import Route

    from pyroute.integrations.rocketchat import RocketChatConfig
    rc = RocketChatConfig(secret_token="a", livechat_token="b", default_group="first")
    for app, with_rc in ((build_app(svc), False), (build_app(svc, rc), True)):
        doc = openapi_document(rocketchat=with_rc)
        have = {(m.lower(), p) for p, ops in doc["paths"].items() for m in ops}
        routes = {(m.lower(), r.path.replace(":path}", "}")) for r in app.routes
                  if isinstance(r, Route) for m in r.methods if m != "HEAD"}
        assert routes == have
        assert ("get", "/v1/events") in have
        assert (("post", "/rocketchat/webhook") in have) is with_rc
        with TestClient(app) as c:
            assert c.get("/openapi.json").json() == json.loads(json.dumps(doc))


def test_the_widget_asks_whether_to_show_itself_and_the_wait_to_announce(client):
    url = "/v1/accepting?group=first&channel=web"
    # nobody online: hidden, no promise
    assert client.get(url, headers=INT).json() == {"accepting": False, "expected_wait": None}
    assert post(client, "add_operator", {"operator": "alice", "groups": ["first"],
                                         "limit": 1, "status": "online"}).status_code == 200
    assert client.get(url, headers=INT).json() == {"accepting": True, "expected_wait": 0.0}
    post(client, "submit", {"request": "c1", "channel": "web", "group": "first"}, INT)
    r = post(client, "submit", {"request": "c2", "channel": "web", "group": "first"}, INT)
    (ev,) = r.json()["events"]
    assert (ev["type"], ev["position"], ev["expected_wait"]) == ("Queued", 1, None)
    assert client.get(url, headers=INT).json() == {"accepting": True, "expected_wait": None}
    assert client.get("/v1/requests/c2", headers=INT).json()["position"] == 1
