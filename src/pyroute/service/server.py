"""The uvicorn server of ``pyroute serve``, with the limits uvicorn does not have.

uvicorn (0.3x-0.5x, both its h11 and httptools protocols) times out only an idle
keep-alive connection *after* a response (``timeout_keep_alive``); a connection that
never completes its request's headers, or never sends anything, is held for ever, and
``limit_concurrency`` answers 503 only once a request's headers are complete. So
half-sent requests hold a file descriptor each, without a token, until the process runs
out of them. :func:`guarded` subclasses uvicorn's protocol:

* **header timeout**: a request whose headers are not complete ``header_timeout`` seconds
  after its connection opened (or, on a kept-alive connection, after its first byte
  came) is answered 408 and its connection closed;
* **connection cap**: a connection beyond ``max_connections`` open at once is answered
  503 and closed as it arrives, before it can hold anything.

The body's own timeout (the longest wait for its next part) is the service's
(``read_body``), since only the application reads bodies.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional


def _answer(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n"
            + text)


TIMEOUT_408 = _answer(b"408 Request Timeout", b"request headers not complete in time\n")
FULL_503 = _answer(b"503 Service Unavailable", b"too many connections at once\n")

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000


def guarded(base: Optional[type] = None, *, header_timeout: Optional[float] = HEADER_TIMEOUT,
            max_connections: Optional[int] = MAX_CONNECTIONS) -> type:
    """A subclass of uvicorn's HTTP protocol ``base`` (the one uvicorn would choose:
    httptools if installed, else h11) with a header timeout and a connection cap (None:
    none). Both protocols create their request cycle (``self.cycle``) when a request's
    headers are complete; a new cycle is how this one tells."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol
        base = AutoHTTPProtocol

    class Guarded(base):  # type: ignore[misc, valid-type]
        _header_timer: Optional[asyncio.TimerHandle] = None
        _header_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if max_connections is not None and len(self.connections) > max_connections:
                transport.write(FULL_503)
                transport.close()
                return
            self._arm()          # a connection that sends nothing is timed out too

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if self._header_timer is None and (cycle is None or cycle.response_complete):
                self._arm()      # the first bytes of the next request on this connection
            super().data_received(data)
            if self._header_timer is not None and self.cycle is not self._header_cycle:
                self._disarm()   # its headers are complete

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if header_timeout is not None:
                self._header_cycle = self.cycle
                self._header_timer = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is self._header_cycle and not self.transport.is_closing():
                self.transport.write(TIMEOUT_408)
                self.transport.close()

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def make_server(config: Any, svc: Any = None) -> Any:
    """A ``uvicorn.Server`` of ``config`` that, when it stops, first ends the event
    streams of ``svc`` (a Service): uvicorn waits for open responses before it runs the
    application's shutdown, and an event stream never ends by itself."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            if svc is not None:
                svc.end_streams()
            await super().shutdown(sockets)

    return Server(config)


def uvicorn_config(app: Any, *, host: str = "127.0.0.1", port: int = 8080,
                   header_timeout: Optional[float] = HEADER_TIMEOUT,
                   max_connections: Optional[int] = MAX_CONNECTIONS,
                   log_level: str = "warning", **kw: Any) -> Any:
    """A ``uvicorn.Config`` serving ``app`` through :func:`guarded`'s protocol, without
    uvicorn's access log (the event stream's token is in its query string)."""
    import uvicorn
    kw.setdefault("access_log", False)
    kw.setdefault("timeout_graceful_shutdown", 10)   # then open responses are cut
    return uvicorn.Config(app, host=host, port=port, log_level=log_level,
                          http=guarded(header_timeout=header_timeout,
                                       max_connections=max_connections), **kw)


def raise_file_limit(need: int) -> Optional[str]:
    """Raise this process's soft limit of open files to ``need`` if it is lower and the
    hard limit allows; returns a warning when it cannot (None when all is well)."""
    try:
        import resource
    except ImportError:          # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < need:
        return (f"the open-file limit is {target} (hard limit {hard}), below the "
                f"{need} that --max-connections needs; lower --max-connections or raise "
                f"the limit (ulimit -n)")
    return None
