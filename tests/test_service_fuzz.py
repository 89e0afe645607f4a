"""schemathesis against the service's own OpenAPI document: every operation, with
generated bodies and parameters, must never produce a server error (5xx). A real
uvicorn server on loopback; bounded examples per operation."""

from __future__ import annotations

import socket
import threading
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
uvicorn = pytest.importorskip("uvicorn")
from hypothesis import HealthCheck, settings  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute.service import Service, build_app, openapi_document  # noqa: E402

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def base_url():
    config = pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("email", cost=2)],
                             groups=[pr.Group("g"), pr.Group("h", accept_timeout=30.0)])
    router = pr.Router(config, clock=time.time)
    router.add_operator("alice", ["g", "h"], 3, "online", now=time.time())
    svc = Service(router, {"tok": "supervisor"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(build_app(svc), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    router.check()          # whatever was sent, the router is consistent


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, base_url):
    case.call_and_validate(base_url=base_url, headers={"Authorization": "Bearer tok"},
                           checks=[schemathesis.checks.not_a_server_error])
