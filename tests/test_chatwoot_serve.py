"""``pyroute serve --chatwoot`` over real sockets: the fake Chatwoot (tests/chatwoot_fake.py)
serves its API with uvicorn on loopback, ``pyroute serve`` runs as its own process with
a ``[chatwoot]`` TOML pointing at it, and the fake delivers its signed webhooks over HTTP
with Chatwoot's 5 s timeout."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx2 = pytest.importorskip("httpx2")

from pyroute.service.server import make_server, uvicorn_config  # noqa: E402

from chatwoot_fake import WEBHOOK_TIMEOUT, FakeChatwoot  # noqa: E402
from test_cli import _run, _Started  # noqa: E402

ROUTER = """
[[channels]]
name = "web"
[[groups]]
name = "support"
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(cond, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.fixture
def chatwoot():
    fake = FakeChatwoot(clock=time.time)
    fake.add_inbox(1, "Website", auto_assignment=True)
    fake.add_agent(11, "Alice", limit=1)
    port = _port()
    srv = make_server(uvicorn_config(fake.app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    _until(lambda: srv.started)
    yield fake, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_serve_routes_chatwoot_over_the_network(tmp_path: Path, chatwoot) -> None:
    fake, url = chatwoot
    (tmp_path / "router.toml").write_text(ROUTER)
    (tmp_path / "chatwoot.toml").write_text(
        f'[chatwoot]\nurl = "{url}"\naccount_id = 1\napi_access_token = "cw-token"\n'
        f'webhook_secret = "hook-secret"\ninboxes = {{ "1" = "web" }}\n'
        f'default_group = "support"\npoll_every = 0.2\nretry_base = 0.05\n'
        f'[chatwoot.agents."11"]\nlimit = 1\ngroups = ["support"]\n')
    port = _port()
    started = _Started("serve", "--memory", "--config", "router.toml", "--chatwoot",
                       "chatwoot.toml", "--port", str(port), cwd=tmp_path,
                       env={"PYROUTE_TOKENS": "supervisor:tok"})
    try:
        started.wait_for(r"listening on http://127\.0\.0\.1:\d+/")
        # Chatwoot's own auto-assignment is on for the routed inbox: said at start
        started.wait_for(r"inbox 1 \(Website\) has Chatwoot's auto-assignment on")
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, timeout=WEBHOOK_TIMEOUT, trust_env=False) as c:
            auth = {"Authorization": "Bearer tok"}
            _until(lambda: c.get("/v1/operators/int:11", headers=auth).status_code == 200)
            first = fake.open_conversation(1)
            second = fake.open_conversation(1)
            fake.flush(c.post)
            _until(lambda: fake.conversations[first]["assignee_id"] == 11)
            fake.flush(c.post)          # the conversation_updated of that assignment
            assert fake.conversations[second]["assignee_id"] is None     # waits
            fake.resolve(first)
            fake.flush(c.post)
            _until(lambda: fake.conversations[second]["assignee_id"] == 11)
            fake.flush(c.post)
            assert fake.dropped == [] and fake.api_overruns == 0
            # a forged webhook is refused over the wire too
            r = c.post("/chatwoot/webhook", content=b'{"event": "conversation_created"}',
                       headers={"X-Chatwoot-Timestamp": str(int(time.time())),
                                "X-Chatwoot-Signature": "sha256=" + "0" * 64})
            assert r.status_code == 401
            status = c.get("/chatwoot/status", headers=auth).json()
            assert status["counts"]["assigned"] == 2 and status["pending_assignments"] == 0
    finally:
        started.stop()


def test_serve_refuses_a_chatwoot_toml_that_cannot_work(tmp_path: Path) -> None:
    (tmp_path / "router.toml").write_text(ROUTER)
    (tmp_path / "chatwoot.toml").write_text(
        '[chatwoot]\nurl = "https://chat.example.com"\naccount_id = 1\n'
        'api_access_token = "t"\nwebhook_secret = "s"\ninboxes = { "1" = "sms" }\n')
    proc = _run("serve", "--memory", "--config", "router.toml", "--chatwoot",
                "chatwoot.toml", cwd=tmp_path)
    assert proc.returncode == 1
    assert "chatwoot.inboxes['1']: unknown channel 'sms'" in proc.stderr
