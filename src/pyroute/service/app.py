"""The router as an ASGI service (Starlette): commands, views, stats, bans, a stream of
events, an OpenAPI document and a live monitoring page. See docs/service.md.

One writer task applies commands in the order they arrive: handlers put each request's
commands on a queue and await their events; the writer applies them to the router (a
durable one by default) and fans the events out to the Server-Sent Events subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from typing import Any, Optional

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import errors, protocol
from ..commands import Command
from ..wire import WIRE_VERSION, decode_commands
from .http import (
    JSON_ENC as _JSON_ENC, MSGPACK, HTTPError, decode_body as _decode, error as _error,
    ident as _ident, read_body, respond as _respond,
)

ROLES = protocol.ROLES
#: what the integration role may send (the command table's roles); the supervisor may
#: send everything
INTEGRATION_COMMANDS = protocol.INTEGRATION_COMMANDS
COMMANDS = {s.type_name: s.struct for s in protocol.COMMANDS}
#: URL name of each command: POST /v1/commands/<name> (its method's name)
URL_NAMES = {s.type_name: s.name for s in protocol.COMMANDS}
STATUS = {errors.UnknownId: 404, errors.DuplicateId: 409, errors.InvalidState: 409,
          errors.TimeError: 422, errors.InvalidArgument: 422, errors.ConfigError: 422}


def parse_tokens(spec: str) -> dict[str, str]:
    """``"role:token,role:token"`` (PYROUTE_TOKENS) -> {token: role}."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        role, sep, token = part.partition(":")
        if not sep or role not in ROLES or not token:
            raise errors.ConfigError(f"tokens: {part!r} is not role:token with role one of "
                                     f"{', '.join(ROLES)}")
        out[token] = role
    return out


class MonotonicWallClock:
    """Seconds since the epoch that never go back (a step of the wall clock backwards
    would otherwise make every command a TimeError until the clock caught up)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        import time
        t = time.time()
        if t > self.last:
            self.last = t
        return self.last


class Service:
    """The state of one running service: the router, its writer and subscribers."""

    def __init__(self, router: Any, tokens: dict[str, str], max_body: int = 1 << 20,
                 subscriber_buffer: int = 10_000, clock: Any = None,
                 max_skew: float = 300.0) -> None:
        if not tokens:
            raise errors.ConfigError("the service needs at least one token "
                                     "(PYROUTE_TOKENS=supervisor:secret,...)")
        self.router = router
        self.clock = clock or MonotonicWallClock()
        self.max_skew = max_skew
        self.tokens = dict(tokens)
        self.max_body = max_body
        self.buffer = subscriber_buffer
        self.queue: Optional[asyncio.Queue] = None
        self.writer: Optional[asyncio.Task] = None
        self.subscribers: set[asyncio.Queue] = set()
        self.applied = 0
        self.pending = 0      # requests queued for the writer, not yet applied

    # ------------------------------------------------------------------ writer
    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.writer = asyncio.create_task(self._write_loop())

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            try:
                await self.writer
            except asyncio.CancelledError:
                pass
        close = getattr(self.router, "close", None)
        if close is not None:
            close()

    def _apply_now(self, cmds: Any) -> list:
        """Apply commands in order (on the event loop's thread, so nothing interleaves);
        publish what they caused. Raises _BatchFailed carrying the events of the commands
        applied before a refused one."""
        out: list = []
        if callable(cmds):     # worked out from the state at the moment it is applied
            cmds = cmds()
        try:
            for cmd in cmds:
                out += self.router.apply(cmd)
                self.applied += 1
        except errors.RoutingError as e:
            raise _BatchFailed(e, out) from None
        finally:
            if out and self.subscribers:
                self._publish(out)
        return out

    async def _write_loop(self) -> None:
        assert self.queue is not None
        while True:
            cmds, fut = await self.queue.get()
            try:
                result = self._apply_now(cmds)
            except asyncio.CancelledError:
                raise
            except _BatchFailed as e:
                if not fut.done():
                    fut.set_exception(e)
            except BaseException as e:   # never let the writer die: report, go on
                if not fut.done():
                    fut.set_exception(_Unexpected(e))
            else:
                if not fut.done():
                    fut.set_result(result)
            finally:
                self.pending -= 1

    def _publish(self, events: list) -> None:
        data = b"".join(b"data: " + _JSON_ENC.encode(e) + b"\n\n" for e in events)
        for q in list(self.subscribers):
            try:
                q.put_nowait(data)
            except asyncio.QueueFull:     # a slow or gone client: drop it, never wait
                self.subscribers.discard(q)

    def check_times(self, cmds: list) -> None:
        """A ``now`` further ahead of the service's clock than ``max_skew`` would stop
        every later command that leaves ``now`` out (time never goes back): refused."""
        limit = self.clock() + self.max_skew
        for c in cmds:
            if c.now is not None and isinstance(c.now, (int, float)) and c.now > limit:
                raise HTTPError(422, f"now={c.now!r} is more than {self.max_skew:g} s ahead "
                                     f"of the service's clock ({limit - self.max_skew:.3f}); "
                                     f"leave now out, or send the service's time")

    async def apply(self, cmds: list) -> list:
        """Apply a request's commands after every request that came before it: they
        join the writer's queue, and this waits for their events."""
        assert self.queue is not None
        fut = asyncio.get_running_loop().create_future()
        self.pending += 1
        await self.queue.put((cmds, fut))
        return await fut

    # ------------------------------------------------------------------ auth
    def role(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is None and request.method == "GET":
            token = request.query_params.get("token")   # EventSource cannot set headers
        if not token:
            raise HTTPError(401, "missing bearer token: send Authorization: Bearer <token>")
        role = None
        for known, r in self.tokens.items():     # constant time in the token's content
            if hmac.compare_digest(known.encode(), token.encode()):
                role = r
        if role is None:
            raise HTTPError(401, "unknown token")
        return role

    def require(self, request: Request, role: str) -> str:
        have = self.role(request)
        if role == "supervisor" and have != "supervisor":
            raise HTTPError(403, f"this needs the supervisor role; the token has {have}")
        return have


class _Unexpected(Exception):
    """A failure that is not a RoutingError (a bug, or the host): the request gets a 500."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")


class _BatchFailed(Exception):
    def __init__(self, error: errors.RoutingError, events: list) -> None:
        super().__init__(str(error))
        self.error = error
        self.events = events


def build_app(svc: Service, rocketchat: Any = None) -> Starlette:
    """The Starlette application of a Service (with the Rocket.Chat routes when given a
    ``RocketChatConfig``)."""

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPError as e:
                return _error(e.status, str(e), **e.extra)
            except _BatchFailed as e:
                err = e.error
                status = STATUS.get(type(err), 400)
                return _error(status, str(err), kind=type(err).__name__,
                              applied_events=json.loads(_JSON_ENC.encode(e.events)))
            except errors.RoutingError as e:
                return _error(STATUS.get(type(e), 400), str(e), kind=type(e).__name__)
            except _Unexpected as e:
                return _error(500, f"internal error: {e}")
        return endpoint

    async def commands(request: Request) -> Response:
        role = svc.role(request)
        body = await read_body(request, svc.max_body)
        fmt = "msgpack" if MSGPACK in request.headers.get("content-type", "") else "json"
        try:
            cmds = decode_commands(body, fmt)
        except errors.InvalidArgument as e:
            raise HTTPError(422, str(e)) from None
        _allowed(role, cmds)
        svc.check_times(cmds)
        events = await svc.apply(cmds)
        return _respond(request, {"version": WIRE_VERSION, "events": events})

    def one_command(cls: type):
        async def handler(request: Request) -> Response:
            role = svc.role(request)
            body = await read_body(request, svc.max_body)
            _allowed(role, [cls])
            if not body.strip():
                body = b"{}"
            cmd = _decode(request, body, cls)   # the "type" field may be left out
            svc.check_times([cmd])
            events = await svc.apply([cmd])
            return _respond(request, {"version": WIRE_VERSION, "events": events})
        return handler

    async def operator(request: Request) -> Response:
        svc.role(request)
        return _respond(request, svc.router.operator(_ident(request.path_params["id"])))

    async def request_view(request: Request) -> Response:
        svc.role(request)
        return _respond(request, svc.router.request(_ident(request.path_params["id"])))

    async def queue(request: Request) -> Response:
        svc.role(request)
        return _respond(request, {"group": request.path_params["group"],
                                  "waiting": svc.router.queue(
                                      request.path_params["group"],
                                      request.query_params.get("channel"))})

    async def stats(request: Request) -> Response:
        svc.role(request)
        return _respond(request, svc.router.stats())

    async def bans(request: Request) -> Response:
        svc.require(request, "supervisor")
        return _respond(request, {"bans": svc.router.bans()})

    async def accepting(request: Request) -> Response:
        svc.role(request)
        q = request.query_params
        if "group" not in q or "channel" not in q:
            raise HTTPError(422, "query needs group= and channel=")
        return _respond(request, {"accepting": svc.router.accepting(
            q["group"], q["channel"], visitor=q.get("visitor"))})

    async def config(request: Request) -> Response:
        svc.require(request, "supervisor")
        return _respond(request, svc.router.config)

    async def events(request: Request) -> Response:
        svc.role(request)
        q: asyncio.Queue = asyncio.Queue(maxsize=svc.buffer)
        svc.subscribers.add(q)

        async def stream():
            try:
                yield b": connected\n\n"
                while q in svc.subscribers:
                    try:
                        yield await asyncio.wait_for(q.get(), timeout=15.0)
                    except asyncio.TimeoutError:
                        yield b": keep-alive\n\n"
            finally:
                svc.subscribers.discard(q)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def page(request: Request) -> Response:
        from .page import PAGE
        return HTMLResponse(PAGE)

    routes = [
        Route("/", guarded(page), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route("/v1/commands", guarded(commands), methods=["POST"]),
        Route("/v1/operators/{id}", guarded(operator), methods=["GET"]),
        Route("/v1/requests/{id}", guarded(request_view), methods=["GET"]),
        Route("/v1/queues/{group}", guarded(queue), methods=["GET"]),
        Route("/v1/stats", guarded(stats), methods=["GET"]),
        Route("/v1/bans", guarded(bans), methods=["GET"]),
        Route("/v1/accepting", guarded(accepting), methods=["GET"]),
        Route("/v1/config", guarded(config), methods=["GET"]),
        Route("/v1/events", guarded(events), methods=["GET"]),
    ]
    routes += [Route(f"/v1/commands/{URL_NAMES[name]}", guarded(one_command(cls)),
                     methods=["POST"]) for name, cls in COMMANDS.items()]
    if rocketchat is not None:
        from ..integrations import rocketchat as rc
        routes += rc.routes(svc, rocketchat)
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    return Starlette(routes=routes, lifespan=lifespan)


def _allowed(role: str, cmds: list) -> None:
    if role == "supervisor":
        return
    for c in cmds:
        name = c.__name__ if isinstance(c, type) else type(c).__name__
        if name not in INTEGRATION_COMMANDS:
            raise HTTPError(403, f"{name} needs the supervisor role; the integration role "
                                 f"may send {', '.join(sorted(INTEGRATION_COMMANDS))}")


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of the service."""
    from ..views import BanView, OperatorView, RequestView, Stats
    from ..events import Event
    (cmd_schemas, ev, op_v, req_v, stats_v, ban_v), defs = msgspec.json.schema_components(
        [list[Command], list[Event], OperatorView, RequestView, Stats, BanView],
        ref_template="#/components/schemas/{name}")
    ok = {"200": {"description": "the events the commands caused",
                  "content": {"application/json": {"schema": {
                      "type": "object", "properties": {"version": {"type": "integer"},
                                                       "events": ev}}}}},
          "401": {"description": "no or unknown token"},
          "403": {"description": "the token's role may not send this"},
          "404": {"description": "an unknown id"}, "409": {"description": "a refused command"},
          "413": {"description": "body too large"},
          "422": {"description": "malformed body; the message names the field"}}
    sec = [{"bearer": []}]
    batch = {"type": "object", "required": ["type", "commands"],
             "properties": {"type": {"enum": ["Batch"]}, "version": {"type": "integer"},
                            "commands": cmd_schemas}}
    body = {"oneOf": [cmd_schemas, cmd_schemas["items"], batch]}
    paths: dict = {
        "/v1/commands": {"post": {
            "summary": "apply commands in order (one, a list, or a Batch envelope)",
            "description": "The body may also be MessagePack (Content-Type: "
                           "application/msgpack), the same structure.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": body}}},
            "responses": ok, "security": sec}},
    }
    for name, cls in COMMANDS.items():
        paths[f"/v1/commands/{URL_NAMES[name]}"] = {"post": {
            "summary": f"apply one {name}",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{name}"}}}},
            "responses": ok, "security": sec}}

    def get(summary: str, schema: dict, params: list = ()) -> dict:
        return {"get": {"summary": summary, "parameters": list(params), "security": sec,
                        "responses": {"200": {"description": summary, "content": {
                            "application/json": {"schema": schema},
                            "application/msgpack": {"schema": schema}}},
                            "401": {"description": "no or unknown token"},
                            "403": {"description": "the token's role may not read this"},
                            "404": {"description": "unknown id"},
                            "422": {"description": "a malformed query"}}}}

    pid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths["/v1/operators/{id}"] = get("one operator", op_v, [pid])
    paths["/v1/requests/{id}"] = get("one conversation", req_v, [pid])
    paths["/v1/queues/{group}"] = get("waiting conversations of a group", {"type": "object"}, [
        {"name": "group", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "channel", "in": "query", "required": False, "schema": {"type": "string"}}])
    paths["/v1/stats"] = get("monitoring counters", stats_v)
    paths["/v1/bans"] = get("bans in force", {"type": "object"})
    paths["/v1/accepting"] = get("would a submit be admitted", {"type": "object"}, [
        {"name": "group", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}}])
    paths["/v1/config"] = get("the router's config", {"type": "object"})
    return {"openapi": "3.1.0",
            "info": {"title": "pyroute", "version": str(WIRE_VERSION)},
            "components": {"schemas": defs, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}
