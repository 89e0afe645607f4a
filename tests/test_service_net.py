"""The service's limits against a real uvicorn server on 127.0.0.1 (an ephemeral port):
half-sent requests, a capped number of connections, a stalled body, an event-stream
subscriber that never reads, and an ``--fsync always`` batch that must not stop the event
loop. Raw sockets, bounded loops and timeouts: every test stops by itself."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")
httpx2 = pytest.importorskip("httpx2")

import pyroute as pr  # noqa: E402
from pyroute.service import Service, build_app  # noqa: E402
from pyroute.service.server import make_server, uvicorn_config  # noqa: E402

TOKEN = "net-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config():
    return pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("first")])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(svc: Service, **limits):
    """The service on a real uvicorn server (``pyroute serve``'s config) in a thread."""
    port = free_port()
    srv = make_server(uvicorn_config(build_app(svc), host="127.0.0.1", port=port,
                                     **limits), svc)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        srv.should_exit = True
        thread.join(timeout=15)


def connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def read_to_eof(s: socket.socket, deadline: float) -> bytes | None:
    """Everything the server sends until it closes; None if it is still open at the
    deadline."""
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def stats_ok(base: str) -> bool:
    return httpx2.get(f"{base}/v1/stats", headers=AUTH, timeout=5).status_code == 200


def test_half_sent_requests_are_answered_408_and_closed():
    """Issue 16.8: ~1,000 half-sent unauthenticated requests held a file descriptor each
    for ever (uvicorn times out only an idle kept-alive connection)."""
    svc = Service(pr.Router(config()), {TOKEN: "supervisor"})
    with running(svc, header_timeout=0.5) as (base, port):
        socks = []
        for i in range(60):
            s = connect(port)
            if i % 3 == 0:
                s.sendall(b"POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Le")
            elif i % 3 == 1:
                s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)              # i % 3 == 2: connected, sends nothing
        kept = connect(port)             # a kept-alive connection, then half a request
        kept.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(12) == b"HTTP/1.1 200"
        kept.sendall(b"GET /v1/stats HTTP/1.1\r\nHo")
        socks.append(kept)
        assert stats_ok(base)            # the server answers meanwhile
        deadline = time.monotonic() + 10
        answers = [read_to_eof(s, deadline) for s in socks]
        assert all(a is not None for a in answers), "a half-sent request stayed open"
        assert all(b"408 Request Timeout" in a for a in answers[:60:3])
        assert b"408 Request Timeout" in answers[-1]
        for s in socks:
            s.close()
        assert stats_ok(base)
        # headers that arrive in time, in pieces, are served
        s = connect(port)
        for part in (b"GET /v1/stats HTTP/1.1\r\n", b"Host: x\r\n",
                     f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()):
            s.sendall(part)
            time.sleep(0.1)
        assert s.recv(12) == b"HTTP/1.1 200"
        s.close()


def test_connections_beyond_the_cap_are_refused_at_once():
    svc = Service(pr.Router(config()), {TOKEN: "supervisor"})
    with running(svc, header_timeout=30, max_connections=10) as (base, port):
        held = [connect(port) for _ in range(10)]
        time.sleep(0.2)                  # the server has seen them all
        extra = [connect(port) for _ in range(5)]
        deadline = time.monotonic() + 5
        for s in extra:
            answer = read_to_eof(s, deadline)
            assert answer is not None and b"503" in answer
            s.close()
        for s in held:
            s.close()
        deadline = time.monotonic() + 10
        while True:                      # the server notices the closes
            try:
                if stats_ok(base):
                    break
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_stalled_body_is_408():
    svc = Service(pr.Router(config()), {TOKEN: "supervisor"}, body_timeout=0.5)
    with running(svc) as (base, port):
        s = connect(port)
        s.sendall(b"POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nAuthorization: Bearer " + TOKEN.encode() +
                  b"\r\nContent-Length: 1000\r\n\r\n[{\"type\": ")
        answer = read_to_eof(s, time.monotonic() + 10)
        s.close()
        assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
        assert b"stalled" in answer
        assert svc.applied == 0 and stats_ok(base)


def test_a_subscriber_that_never_reads_is_dropped():
    """Issue 16.7: the bound counted requests, so a subscriber that never read held
    361,440 events (31 MB) and was not dropped. Now it is dropped once it holds more than
    subscriber_buffer events; what its connection holds beyond that is the kernel's send
    buffer (up to net.ipv4.tcp_wmem's maximum, 4 MiB here) and uvicorn's 64 KiB."""
    svc = Service(pr.Router(config()), {TOKEN: "supervisor"}, subscriber_buffer=1000)
    with running(svc) as (base, port), contextlib.closing(connect(port, rcvbuf=4096)) as s:
        s.sendall(f"GET /v1/events?token={TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        deadline = time.monotonic() + 10
        while not svc.subscribers:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        sent = 0
        with httpx2.Client(base_url=base, headers=AUTH, timeout=30) as c:
            for b in range(150):          # up to 150 requests of 1,000 events (16 MB)
                cmds = [{"type": "Submit", "request": f"{b}-{i}", "channel": "web",
                         "group": "first"} for i in range(1000)]
                assert c.post("/v1/commands", json=cmds).status_code == 200
                sent += 1000
                assert all(sub.held <= 1000 for sub in list(svc.subscribers))
                if not svc.subscribers:
                    break
        assert not svc.subscribers, "the subscriber that never reads is held"
        assert getattr(svc, "dropped", None) == 1
        assert read_to_eof(s, time.monotonic() + 10) is not None   # and its connection ends
        assert svc.applied == sent and stats_ok(base)


def test_fsync_always_does_not_stop_the_event_loop(tmp_path, monkeypatch):
    """Issue 16.9: with fsync="always" the journal's sync ran on the event loop's thread,
    so nothing else was answered while a large batch was made durable. Ordering, not
    timing: the sync is held until GET /v1/stats has been answered, and the batch is
    answered only after its sync."""
    svc = Service.open(tmp_path, config(), {TOKEN: "supervisor"}, fsync="always")
    gate, entered = threading.Event(), threading.Event()
    armed = []
    real = {name: getattr(os, name) for name in ("fdatasync", "fsync")}

    def held(name):
        def sync(fd):
            if armed:
                entered.set()
                gate.wait(15)
            return real[name](fd)
        return sync

    for name in real:
        monkeypatch.setattr(os, name, held(name))
    order: list = []
    with running(svc) as (base, port):
        with httpx2.Client(base_url=base, headers=AUTH, timeout=30) as c:
            assert c.post("/v1/commands/add_operator", json={
                "operator": "alice", "groups": ["first"], "limit": 1}).status_code == 200
            cmds = [{"type": "Submit", "request": i, "channel": "web", "group": "first"}
                    for i in range(5000)]
            answer = []
            armed.append(1)

            def batch():
                answer.append(c.post("/v1/commands", json=cmds))
                order.append("batch")
            t = threading.Thread(target=batch)
            t.start()
            try:
                assert entered.wait(10), "the batch was never synced off the loop's thread"
                assert stats_ok(base)          # answered while the batch's sync waits
                order.append("stats")
            finally:
                gate.set()
                t.join(20)
                armed.clear()
        assert order == ["stats", "batch"]
        assert answer[0].status_code == 200 and len(answer[0].json()["events"]) == 5000
    with pr.Router.open(tmp_path, config()) as again:   # and it was durable
        assert len(again.queue("first")) == 5000
