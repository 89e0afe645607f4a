"""schemathesis against the service's own OpenAPI document: every operation — the
commands, the reads, the event stream, the page and the Rocket.Chat routes — with
generated bodies and parameters, must never produce a server error (5xx). A real uvicorn
server on loopback (``pyroute serve``'s config); bounded examples per operation, and the
event stream ends after a moment so that every generated call returns."""

from __future__ import annotations

import socket
import threading
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
uvicorn = pytest.importorskip("uvicorn")
from hypothesis import HealthCheck, settings  # noqa: E402
from starlette.routing import Route  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.integrations.rocketchat import RocketChatConfig  # noqa: E402
from pyroute.service import Service, build_app, openapi_document  # noqa: E402
from pyroute.service.server import make_server, uvicorn_config  # noqa: E402

DOC = openapi_document(rocketchat=True)
schema = schemathesis.openapi.from_dict(DOC)
RC = RocketChatConfig(secret_token="rc-secret", livechat_token="rc-hook",
                      departments={"d1": "g"}, default_group="g")
HEADERS = {"Authorization": "Bearer tok", "X-RocketChat-Secret-Token": "rc-secret",
           "X-RocketChat-Livechat-Token": "rc-hook"}


def make_app():
    config = pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("email", cost=2)],
                             groups=[pr.Group("g"),
                                     # offers: not on Rocket.Chat's channel (refused there)
                                     pr.Group("h", accept_timeout=30.0, channels=("email",))])
    router = pr.Router(config, clock=time.time)
    router.add_operator("alice", ["g", "h"], 3, "online", now=time.time())
    svc = Service(router, {"tok": "supervisor"}, stream_seconds=0.05)
    return svc, build_app(svc, RC)


def test_the_document_covers_every_route():
    _, app = make_app()
    routes = {(m.lower(), r.path.replace(":path}", "}")) for r in app.routes
              if isinstance(r, Route) for m in r.methods if m != "HEAD"}
    documented = {(m, p) for p, ops in DOC["paths"].items() for m in ops}
    assert routes == documented
    assert {("get", "/v1/events"), ("get", "/rocketchat/queue"),
            ("post", "/rocketchat/webhook")} <= documented


@pytest.fixture(scope="module")
def base_url():
    svc, app = make_app()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = make_server(uvicorn_config(app, host="127.0.0.1", port=port), svc)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    svc.router.check()          # whatever was sent, the router is consistent


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, base_url):
    case.call_and_validate(base_url=base_url, headers=HEADERS, timeout=10,
                           checks=[schemathesis.checks.not_a_server_error])
