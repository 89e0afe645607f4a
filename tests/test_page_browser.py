"""The live monitoring page end to end: a real uvicorn server on loopback, Debian's
Chromium driven by Playwright (``.ci/run`` installs both). The test loads the page,
submits conversations through the API, watches the numbers change on the page, and saves
a screenshot (``tests/artifacts/monitoring.png``)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

uvicorn = pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api")

import httpx2  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.service import Service, build_app  # noqa: E402
from pyroute.service.server import make_server, uvicorn_config  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed "
                                "(.ci/run installs Debian's chromium)")
ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "page-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    config = pr.RouterConfig(channels=[pr.Channel("web", target_wait=30.0),
                                       pr.Channel("telegram", target_wait=120.0)],
                             groups=[pr.Group("first_line")])
    svc = Service(pr.Router(config, clock=time.time), {TOKEN: "supervisor"})
    port = free_port()
    srv = make_server(uvicorn_config(build_app(svc), host="127.0.0.1", port=port,
                                     lifespan="on"), svc)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def send(base: str, name: str, body: dict) -> dict:
    r = httpx2.post(f"{base}/v1/commands/{name}", json=body,
                    headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_monitoring_page_follows_the_floor(server):
    from playwright.sync_api import sync_playwright
    send(server, "add_operator", {"operator": "alice", "groups": ["first_line"], "limit": 2,
                                  "status": "online"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(f"{server}/?token={TOKEN}")
            waiting = 'document.querySelector("#channels tr[data-name=web] .waiting")'
            page.wait_for_function(f"{waiting} && {waiting}.textContent === '0'",
                                   timeout=15000)
            for i in range(5):                  # two are answered, three wait
                send(server, "submit", {"request": f"c{i}", "channel": "web",
                                        "group": "first_line"})
            page.wait_for_function(f"{waiting}.textContent === '3'", timeout=15000)
            busy = 'document.querySelector("#channels tr[data-name=web] .in_progress")'
            assert page.evaluate(f"{busy}.textContent") == "2"
            cell = 'document.querySelector("#channels tr[data-name=web] .{}").textContent'
            # alice is full: nobody can take a web chat; no bots; three wait, none 30 s yet
            assert page.evaluate(cell.format("can_take")) == "0"
            assert page.evaluate(cell.format("bots")) == "0"
            assert page.evaluate(cell.format("over_target")) == "0"
            assert page.evaluate(cell.format("mean_wait")) not in ("", "–")
            send(server, "finish", {"request": "c0"})
            page.wait_for_function(f"{waiting}.textContent === '2'", timeout=15000)
            page.wait_for_function(
                'document.querySelector("#series").getAttribute("points").split(" ")'
                '.length >= 2', timeout=15000)
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "monitoring.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
