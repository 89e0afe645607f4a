"""The router as an ASGI service (Starlette): commands, views, stats, bans, a stream of
events, an OpenAPI document and a live monitoring page. See docs/service.md.

One writer task applies commands in the order they arrive: handlers put each request's
commands on a queue and await their events; the writer gives every command the service's
time, applies them to the router (a durable one by default), makes them durable when the
service syncs (``--fsync always``: in a worker thread, so the event loop goes on), and
only then answers and fans the events out to the Server-Sent Events subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import time as _time
from collections import deque
from pathlib import Path
from typing import Any, Optional

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import errors, protocol
from ..commands import Advance, Command
from ..wire import WIRE_VERSION, decode_commands
from .http import (
    JSON_ENC as _JSON_ENC, MSGPACK, HTTPError, Refused, decode_body as _decode,
    decoding as _decoding, error as _error, ident as _ident, read_body, respond as _respond,
)
from .server import BODY_TIMEOUT

_log = logging.getLogger("pyroute.service")
ROLES = protocol.ROLES
#: what the integration role may send (the command table's roles); the supervisor may
#: send everything
INTEGRATION_COMMANDS = protocol.INTEGRATION_COMMANDS
COMMANDS = {s.type_name: s.struct for s in protocol.COMMANDS}
#: URL name of each command: POST /v1/commands/<name> (its method's name)
URL_NAMES = {s.type_name: s.name for s in protocol.COMMANDS}
STATUS = {errors.UnknownId: 404, errors.DuplicateId: 409, errors.InvalidState: 409,
          errors.TimeError: 422, errors.InvalidArgument: 422, errors.ConfigError: 422,
          errors.StorageFull: 503}    # the disk is full: try again; nothing was applied
#: seconds between keep-alive comments on the event stream
KEEPALIVE = 15.0


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
    """Seconds since the epoch that never go back: a step of the wall clock backwards, or
    a router whose time is ahead of it (:meth:`hold`), holds it still until the wall
    clock catches up, rather than make every command a TimeError."""

    def __init__(self) -> None:
        self.last = 0.0

    def hold(self, t: float) -> None:
        """Never answer less than ``t`` from now on."""
        if t > self.last:
            self.last = t

    def __call__(self) -> float:
        t = _time.time()
        if t > self.last:
            self.last = t
        return self.last


def _router_time(router: Any) -> float:
    """The router's time (the latest ``now`` it has passed; -inf before any)."""
    t = getattr(router, "now", -math.inf)     # an engine without ``now``: no floor
    return t if isinstance(t, float) else -math.inf


class _Subscriber:
    """One event-stream client: the chunks the writer handed it and not yet written to
    its connection, and how many events they hold (the bound is on events)."""

    __slots__ = ("chunks", "held", "wake", "closed", "dropped", "taking")

    def __init__(self) -> None:
        self.chunks: deque = deque()
        self.held = 0
        self.wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.dropped = False
        self.taking = (0, 0)

    def take(self) -> bytes:
        """Everything pending, as one chunk; the events count as held until
        :meth:`written`."""
        self.wake.clear()
        self.taking = len(self.chunks), self.held
        return b"".join(c for c, _ in self.chunks)

    def written(self) -> None:
        """What :meth:`take` returned is written to the connection."""
        k, n = self.taking
        if not self.dropped:
            for _ in range(k):
                self.chunks.popleft()
            self.held -= n


class Service:
    """The state of one running service: the router, its clock, its writer and the
    event-stream subscribers.

    ``clock`` is the service's time (default :class:`MonotonicWallClock`): every command
    is applied at it (a ``now`` later than it is taken down to it) and reads are made at
    it; it never goes behind the router's own time. ``max_skew`` (default None) refuses,
    with 422, a ``now`` more than that many seconds ahead instead of taking it down.
    ``sync=True``: the service makes every request's commands durable (fdatasync of the
    journal, in a worker thread) before it answers — ``--fsync always``; give it a
    durable router opened with ``fsync="never"`` (:meth:`open` does). ``body_timeout``:
    the longest wait for the next part of a body (408). ``stream_seconds``: the event
    stream ends after that long (clients reconnect); None: never. ``advance_every``: look
    that often (seconds) for due timers and fire them through the writer, so the event
    stream reports them unasked; None (default): they fire with the next command or
    ``GET /v1/stats``, which always fires what is due first.
    """

    def __init__(self, router: Any, tokens: dict[str, str], max_body: int = 1 << 20,
                 subscriber_buffer: int = 10_000, clock: Any = None,
                 max_skew: Optional[float] = None, *, sync: bool = False,
                 body_timeout: Optional[float] = BODY_TIMEOUT,
                 stream_seconds: Optional[float] = None,
                 advance_every: Optional[float] = None) -> None:
        if not tokens:
            raise errors.ConfigError("the service needs at least one token "
                                     "(PYROUTE_TOKENS=supervisor:secret,...)")
        self.router = router
        self.clock = clock or MonotonicWallClock()
        self.max_skew = max_skew
        self.tokens = dict(tokens)
        self.max_body = max_body
        self.buffer = subscriber_buffer
        self.body_timeout = body_timeout
        self.stream_seconds = stream_seconds
        if advance_every is not None and not (isinstance(advance_every, (int, float))
                                              and 0 < advance_every < math.inf):
            raise errors.ConfigError(f"advance_every must be a number of seconds > 0, "
                                     f"got {advance_every!r}")
        self.advance_every = advance_every
        self.queue: Optional[asyncio.Queue] = None
        self.writer: Optional[asyncio.Task] = None
        self.ticker: Optional[asyncio.Task] = None
        self.subscribers: set[_Subscriber] = set()
        self.applied = 0
        self.pending = 0      # requests queued for the writer, not yet answered
        self.dropped = 0      # event-stream subscribers dropped for falling behind
        self.broken: Optional[str] = None
        #: called with the events of every applied request, in order (the integrations'
        #: deliveries); never awaited, so a listener must not block
        self.listeners: list = []
        #: objects with async start() and stop(), run with the service (integrations)
        self.integrations: list = []
        self._journal: Optional[Path] = None
        if sync:
            directory = getattr(router, "directory", None)
            if directory is None:
                raise errors.ConfigError("sync=True needs a durable router (Router.open)")
            from ..journal import JOURNAL
            self._journal = Path(directory) / JOURNAL
        # the service's time starts at the router's: a journal written while the wall
        # clock ran ahead (or by a version that took any future now) must not make
        # every command a TimeError until the wall clock gets there
        self._last = _router_time(router)
        hold = getattr(self.clock, "hold", None)
        if hold is not None and self._last > -math.inf:
            hold(self._last)

    @classmethod
    def open(cls, directory: Any, config: Any, tokens: dict[str, str], *,
             fsync: str = "batch", clock: Any = None, engine: Any = None,
             **kw: Any) -> "Service":
        """A service over a durable router on ``directory`` (``engine.open``, the native
        Router by default), sharing the service's clock. ``fsync="always"`` opens the
        journal with ``fsync="never"`` and has the service sync each request in a worker
        thread before it answers (a journal that syncs on its own would do it on the
        event loop's thread, stopping every other request meanwhile)."""
        if engine is None:
            from ..router import Router as engine
        clock = clock or MonotonicWallClock()
        always = fsync == "always"
        router = engine.open(directory, config, fsync="never" if always else fsync,
                             clock=clock)
        try:
            return cls(router, tokens, clock=clock, sync=always, **kw)
        except BaseException:
            router.close()
            raise

    # ------------------------------------------------------------------ time
    def time(self) -> float:
        """The service's time now: its clock, never behind the router's time nor behind
        an earlier answer."""
        t = self.clock()
        floor = max(self._last, _router_time(self.router))
        if not t >= floor:          # also a clock that answered nan
            t = floor
        self._last = t
        return t

    def _timed(self, cmds: list, t: float) -> list:
        """The commands at the service's time ``t``: ``now`` left out, or later than
        ``t``, becomes ``t`` (a client cannot move the router's time past the service's
        clock). An earlier ``now`` stays; the router refuses it if it is behind its
        time. A ``now`` that is not a finite number is left for the router to refuse."""
        out = []
        for c in cmds:
            now = c.now
            if now is None or (isinstance(now, (int, float)) and not isinstance(now, bool)
                               and math.isfinite(now) and now > t):
                c = msgspec.structs.replace(c, now=t)
            out.append(c)
        return out

    def check_times(self, cmds: list) -> None:
        """With ``max_skew``: a ``now`` further ahead of the service's clock is refused
        (422) rather than taken down to the clock."""
        if self.max_skew is None:
            return
        clock = self.time()
        limit = clock + self.max_skew
        for c in cmds:
            if c.now is not None and isinstance(c.now, (int, float)) and c.now > limit:
                raise HTTPError(422, f"now={c.now!r} is more than {self.max_skew:g} s ahead "
                                     f"of the service's clock ({clock:.3f}); leave now "
                                     f"out, or send the service's time")

    # ------------------------------------------------------------------ writer
    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.writer = asyncio.create_task(self._write_loop())
        if self.advance_every is not None:
            self.ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        for task in (self.ticker, self.writer):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self.end_streams()
        close = getattr(self.router, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------ time owned
    def due(self) -> bool:
        """Whether a timer of the router is due at the service's time."""
        nt = self.router.next_timer()
        return nt is not None and nt <= self.time()

    async def catch_up(self) -> None:
        """Fire the timers due at the service's time through the writer (an ``Advance``,
        journaled like any command), so their events reach the event stream now and a
        read that follows is current."""
        if self.due() and not self.broken:
            try:
                await self.apply([Advance()])
            except Refused:
                pass        # the router refused (it is ahead): nothing was due for it

    async def _tick_loop(self) -> None:
        """With ``advance_every``: look that often whether a timer is due, so the event
        stream reports overflows, expiries and retention steps without being asked."""
        assert self.advance_every is not None
        while True:
            await asyncio.sleep(self.advance_every)
            try:
                await self.catch_up()
            except HTTPError:
                pass        # broken: the commands say so

    def _apply_now(self, cmds: Any) -> list:
        """Apply one request's commands in order at the service's time (on the event
        loop's thread, so nothing interleaves). Raises Refused carrying the events
        of the commands applied before a refused one."""
        try:
            if callable(cmds):     # worked out from the state at the moment it is applied
                cmds = cmds()
            cmds = self._timed(list(cmds), self.time())
            if len(cmds) == 1:
                out = self.router.apply(cmds[0])
            else:
                out = self.router.apply_many(cmds)
        except errors.BatchError as e:
            self.applied += e.index
            raise Refused(e.error, list(e.events)) from None
        except errors.RoutingError as e:
            raise Refused(e, []) from None
        self.applied += len(cmds)
        return out

    def _sync_journal(self) -> None:
        """fdatasync the journal (run in a worker thread). On Linux this is what msync
        does for the journal's shared mapping, and it lets go of the GIL while the disk
        works (``mmap.flush`` does not)."""
        assert self._journal is not None
        fd = os.open(self._journal, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    async def _write_loop(self) -> None:
        assert self.queue is not None
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 1024:   # group commit
                items.append(self.queue.get_nowait())
            try:
                await self._write(items)
            finally:
                self.pending -= len(items)

    async def _write(self, items: list) -> None:
        applied = self.applied
        results: list = []
        for cmds, fut in items:
            try:
                results.append((self._apply_now(cmds), None))
            except Refused as e:
                results.append((e.events, e))
            except asyncio.CancelledError:
                raise
            except BaseException as e:     # a bug or the host: never let the writer die
                results.append(([], _Unexpected(e)))
        if self._journal is not None and self.applied > applied:    # some to make durable
            try:
                await asyncio.to_thread(self._sync_journal)
            except OSError as e:
                # applied in memory, not durable: acknowledge none, accept no more
                self.broken = (f"syncing the journal failed ({e.strerror}); restart the "
                               f"service (recovery replays what the disk holds)")
                results = [([], HTTPError(503, self.broken)) for _ in results]
        for (events, err), (_, fut) in zip(results, items):
            if events and self.subscribers:
                self._publish(events)
            if events:
                for listener in self.listeners:
                    try:
                        listener(events)
                    except Exception as e:     # a listener's bug must not stop the writer
                        _log.exception("event listener %r failed: %s", listener, e)
            if fut.done():
                continue
            if err is None:
                fut.set_result(events)
            else:
                fut.set_exception(err)

    # ------------------------------------------------------------------ event stream
    def subscribe(self) -> _Subscriber:
        sub = _Subscriber()
        self.subscribers.add(sub)
        return sub

    def _publish(self, events: list) -> None:
        """Hand events to every subscriber, never waiting: one that would then hold more
        than ``subscriber_buffer`` events not yet written to its connection is dropped
        (its stream ends; a connection that does not read is closed)."""
        n = len(events)
        data = b"".join(b"data: " + _JSON_ENC.encode(e) + b"\n\n" for e in events)
        for sub in list(self.subscribers):
            if sub.held + n > self.buffer:
                self._drop(sub)
            else:
                sub.chunks.append((data, n))
                sub.held += n
                sub.wake.set()

    def _drop(self, sub: _Subscriber) -> None:
        self.subscribers.discard(sub)
        sub.dropped = True
        sub.chunks.clear()
        sub.held = 0
        sub.wake.set()
        sub.closed.set()
        self.dropped += 1

    def end_streams(self) -> None:
        """End every event stream (the server is stopping: it waits for them)."""
        for sub in list(self.subscribers):
            sub.closed.set()

    async def apply(self, cmds: Any) -> list:
        """Apply a request's commands after every request that came before it: they
        join the writer's queue, and this waits for their events (durable ones, when
        the service syncs)."""
        assert self.queue is not None
        if self.broken:
            raise HTTPError(503, self.broken)
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


class EventStream(Response):
    """``GET /v1/events``: Server-Sent Events of one subscriber. It ends when the client
    goes away, after ``stream_seconds``, or when the subscriber is dropped for falling
    behind — then with a last comment if the connection still takes writes, else by
    returning unfinished, which makes the server close the connection."""

    media_type = "text/event-stream"

    def __init__(self, svc: Service, sub: _Subscriber) -> None:
        self.svc = svc
        self.sub = sub
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-store"})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        svc, sub = self.svc, self.sub
        loop = asyncio.get_running_loop()
        end = None if svc.stream_seconds is None else loop.time() + svc.stream_seconds

        async def body(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async def pump() -> None:
            await body(b": connected\n\n")
            while not sub.dropped:
                wait = KEEPALIVE if end is None else min(KEEPALIVE, end - loop.time())
                if wait <= 0:
                    return
                try:
                    await asyncio.wait_for(sub.wake.wait(), wait)
                except asyncio.TimeoutError:
                    if end is None or loop.time() < end:
                        await body(b": keep-alive\n\n")
                    continue
                if not sub.dropped:
                    await body(sub.take())    # waits while the connection is full
                    sub.written()

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": self.raw_headers})
            tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(gone()),
                     asyncio.ensure_future(sub.closed.wait())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            if tasks[1] in done:
                return                  # the client went away
            failed = tasks[0].exception() if tasks[0] in done else None
            if failed is not None:
                raise failed
            last = (f": dropped: more than {svc.buffer} events behind; reconnect\n\n"
                    .encode() if sub.dropped else b"")
            try:
                await asyncio.wait_for(send({"type": "http.response.body", "body": last,
                                             "more_body": False}), 1.0)
            except asyncio.TimeoutError:
                return                  # not reading: left unfinished, the server closes it
        finally:
            svc.subscribers.discard(sub)


def build_app(svc: Service, rocketchat: Any = None, chatwoot: Any = None) -> Starlette:
    """The Starlette application of a Service (with the Rocket.Chat routes when given a
    ``RocketChatConfig``, the Chatwoot ones when given a ``ChatwootConfig``)."""

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPError as e:
                return _error(e.status, str(e), **e.extra)
            except Refused as e:
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
        body = await read_body(request, svc.max_body, svc.body_timeout)
        fmt = "msgpack" if MSGPACK in request.headers.get("content-type", "") else "json"
        cmds = _decoding(lambda: decode_commands(body, fmt),
                         "MessagePack" if fmt == "msgpack" else "JSON", "command message")
        _allowed(role, cmds)
        svc.check_times(cmds)
        events = await svc.apply(cmds)
        return _respond(request, {"version": WIRE_VERSION, "events": events})

    def one_command(cls: type):
        async def handler(request: Request) -> Response:
            role = svc.role(request)
            _allowed(role, [cls])
            body = await read_body(request, svc.max_body, svc.body_timeout)
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
        await svc.catch_up()      # the service owns time: what is due fires, and is published
        return _respond(request, svc.router.stats(now=svc.time()))

    async def bans(request: Request) -> Response:
        svc.require(request, "supervisor")
        return _respond(request, {"bans": svc.router.bans(now=svc.time())})

    async def accepting(request: Request) -> Response:
        svc.role(request)
        q = request.query_params
        if "group" not in q or "channel" not in q:
            raise HTTPError(422, "query needs group= and channel=")
        t = svc.time()
        return _respond(request, {
            "accepting": svc.router.accepting(q["group"], q["channel"], now=t,
                                              visitor=q.get("visitor")),
            "expected_wait": svc.router.expected_wait(q["group"], q["channel"], now=t)})

    async def config(request: Request) -> Response:
        svc.require(request, "supervisor")
        return _respond(request, svc.router.config)

    async def events(request: Request) -> Response:
        svc.role(request)
        return EventStream(svc, svc.subscribe())

    doc = openapi_document(rocketchat=rocketchat is not None, chatwoot=chatwoot is not None)

    async def openapi(request: Request) -> Response:
        return JSONResponse(doc)

    async def page(request: Request) -> Response:
        from .page import PAGE
        return HTMLResponse(PAGE)

    # ids and group names are whole path tails (``path``): they may hold "/"
    routes = [
        Route("/", guarded(page), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route("/v1/commands", guarded(commands), methods=["POST"]),
        Route("/v1/operators/{id:path}", guarded(operator), methods=["GET"]),
        Route("/v1/requests/{id:path}", guarded(request_view), methods=["GET"]),
        Route("/v1/queues/{group:path}", guarded(queue), methods=["GET"]),
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
    if chatwoot is not None:
        from ..integrations import chatwoot as cw
        routes += cw.routes(svc, chatwoot)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await svc.start()
        started = []
        # the Rocket.Chat reconciler, when configured, reads its REST API on an interval
        rec = getattr(getattr(svc, "rocketchat", None), "reconciler", None)
        if rec is not None:
            rec.start()
        try:
            for integration in svc.integrations:
                await integration.start()
                started.append(integration)
            yield
        finally:
            for integration in reversed(started):
                await integration.stop()
            if rec is not None:
                await rec.stop()
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


def openapi_document(rocketchat: bool = False, chatwoot: bool = False) -> dict:
    """The OpenAPI 3.1 document of the service: every route, with the Rocket.Chat ones
    when ``rocketchat`` (the service mounts them with ``--rocketchat``), the Chatwoot ones
    when ``chatwoot`` (``--chatwoot``)."""
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
          "408": {"description": "the body stalled"},
          "413": {"description": "body too large"},
          "422": {"description": "malformed body, or a refused time; the message names "
                                 "the field"},
          "503": {"description": "the service cannot make commands durable"}}
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

    pid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "a string id (it may hold /); int:42 names the integer 42, "
                          "str:int:42 the string \"int:42\""}
    paths["/v1/operators/{id}"] = get("one operator", op_v, [pid])
    paths["/v1/requests/{id}"] = get("one conversation", req_v, [pid])
    paths["/v1/queues/{group}"] = get("waiting conversations of a group", {"type": "object"}, [
        {"name": "group", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "channel", "in": "query", "required": False, "schema": {"type": "string"}}])
    paths["/v1/stats"] = get("monitoring counters", stats_v)
    paths["/v1/bans"] = get("bans in force", {"type": "object"})
    paths["/v1/accepting"] = get("would a submit be admitted, and the wait expected", {"type": "object"}, [
        {"name": "group", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}}])
    paths["/v1/config"] = get("the router's config", {"type": "object"})
    paths["/v1/events"] = {"get": {
        "summary": "Server-Sent Events: one data: line (JSON) per event",
        "description": "Comments keep the connection alive. A subscriber that falls "
                       "more than subscriber_buffer events behind is dropped. The token "
                       "may be sent as ?token= (EventSource cannot send headers).",
        "parameters": [{"name": "token", "in": "query", "required": False,
                        "schema": {"type": "string"}}],
        "security": sec,
        "responses": {"200": {"description": "the event stream", "content": {
            "text/event-stream": {"schema": {"type": "string"}}}},
            "401": {"description": "no or unknown token"}}}}
    paths["/"] = {"get": {"summary": "the live monitoring page (open it with ?token=)",
                          "responses": {"200": {"description": "the page", "content": {
                              "text/html": {"schema": {"type": "string"}}}}}}}
    paths["/openapi.json"] = {"get": {"summary": "this document", "responses": {
        "200": {"description": "the OpenAPI document", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}}
    schemes: dict = {"bearer": {"type": "http", "scheme": "bearer"}}
    if rocketchat:
        from ..integrations.rocketchat import Hook
        (hook,), hook_defs = msgspec.json.schema_components(
            [Hook], ref_template="#/components/schemas/{name}")
        defs.update(hook_defs)
        schemes["rocketchatSecret"] = {"type": "apiKey", "in": "header",
                                       "name": "X-RocketChat-Secret-Token"}
        schemes["rocketchatLivechat"] = {"type": "apiKey", "in": "header",
                                         "name": "X-RocketChat-Livechat-Token"}
        paths["/rocketchat/queue"] = {"get": {
            "summary": "Rocket.Chat's External Queue Service: whom the next chat goes to",
            "parameters": [{"name": n, "in": "query", "required": False,
                            "schema": {"type": "string"}}
                           for n in ("departmentId", "ignoreAgentId")],
            "security": [{"rocketchatSecret": []}],
            "responses": {"200": {"description": "{\"username\": ...} or {}", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "username": {"type": "string"}}}}}},
                "401": {"description": "missing or wrong X-RocketChat-Secret-Token"}}}}
        paths["/rocketchat/webhook"] = {"post": {
            "summary": "Rocket.Chat's omnichannel webhooks",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": hook}}},
            "security": [{"rocketchatLivechat": []}],
            "description": "The top-level messages array is skipped as the body "
                           "arrives (never held); the body may be up to "
                           "rocketchat.max_webhook_body bytes, its other fields up to the "
                           "service's max_body.",
            "responses": {"200": {"description": "applied ({\"applied\": true}), or "
                                                 "irrelevant for good: a duplicate, a "
                                                 "stale delivery, a permanent refusal "
                                                 "({\"applied\": false, \"ignored\": "
                                                 "reason})", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                "401": {"description": "missing or wrong X-RocketChat-Livechat-Token"},
                "413": {"description": "body too large"},
                "422": {"description": "not a webhook"},
                "500": {"description": "a bug: Rocket.Chat retries it"},
                "503": {"description": "not applied, a retry can succeed: the writer did "
                                       "not get to it within rocketchat.webhook_timeout, "
                                       "the journal's disk is full or cannot sync, the "
                                       "body stalled"}}}}
        paths["/rocketchat/status"] = get("the Rocket.Chat integration's counters: "
                                          "webhooks handled, ignored by reason, failed by "
                                          "cause; the reconciler's runs and corrections",
                                          {"type": "object"})
    if chatwoot:
        from ..integrations.chatwoot import ChatwootHook
        (cw_hook,), cw_defs = msgspec.json.schema_components(
            [ChatwootHook], ref_template="#/components/schemas/{name}")
        defs.update(cw_defs)
        schemes["chatwootSignature"] = {"type": "apiKey", "in": "header",
                                        "name": "X-Chatwoot-Signature"}
        paths["/chatwoot/webhook"] = {"post": {
            "summary": "Chatwoot's account webhook (conversation_created, "
                       "conversation_status_changed, conversation_updated, message_created)",
            "description": "X-Chatwoot-Signature: sha256= + HMAC-SHA256 of "
                           "\"{X-Chatwoot-Timestamp}.{raw body}\" with the webhook's secret.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": cw_hook}}},
            "security": [{"chatwootSignature": []}],
            "responses": {"200": {"description": "applied, or ignored and counted",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}},
                          "401": {"description": "unsigned, wrongly signed, or a timestamp "
                                                 "out of the window"},
                          "413": {"description": "body too large"},
                          "422": {"description": "not a webhook"},
                          "503": {"description": "the service cannot make commands durable"}}}}
        paths["/chatwoot/status"] = get("the Chatwoot integration's counters",
                                        {"type": "object"})
    return {"openapi": "3.1.0",
            "info": {"title": "pyroute", "version": str(WIRE_VERSION)},
            "components": {"schemas": defs, "securitySchemes": schemes},
            "paths": paths}
