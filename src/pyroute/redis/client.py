"""``pyroute.redis.Client``: the Router's methods for platform code, over Redis Streams."""

from __future__ import annotations

import inspect
import time
import uuid
import zlib
from typing import Any, Callable, Optional

import msgspec

from .. import errors
from ..commands import COMMAND_TYPES
from ..events import Event
from ..journal import METHODS, OPS

SHARDS = 16
_ENC = msgspec.msgpack.Encoder()
_EVENTS = msgspec.msgpack.Decoder(list[Event])


def shard_of(tenant: str, shards: int = SHARDS) -> int:
    """The shard of a tenant: CRC-32 of its name modulo the number of shards."""
    return zlib.crc32(tenant.encode()) % shards


def key(shard: int, what: str) -> str:
    return f"{{pyroute:{shard}}}:{what}"


_ERRORS = {c.__name__: c for c in (errors.UnknownId, errors.DuplicateId, errors.InvalidState,
                                    errors.InvalidArgument, errors.TimeError,
                                    errors.ConfigError, errors.RoutingError)}


class Client:
    """``Client(url, shards=16, clock=time.time, timeout=10.0)``: each method of the Router
    with a ``tenant`` first (``client.submit("acme", "c1", "web", "first_line")``) appends
    the command to the tenant's shard and waits for its events (or raises the
    RoutingError the worker met). ``apply(tenant, cmd)`` sends a Command struct;
    ``send(tenant, cmd)`` returns its command id without waiting."""

    def __init__(self, url: str, shards: int = SHARDS, clock: Callable[[], float] = time.time,
                 timeout: float = 10.0) -> None:
        import redis
        self.redis = redis.Redis.from_url(url)
        self.shards = shards
        self.clock = clock
        self.timeout = timeout

    def send(self, tenant: str, cmd: Any) -> tuple[str, bytes]:
        """Append a command; returns (its command id, the id of the last event entry of
        the shard before it was sent: its events come after that)."""
        if not isinstance(tenant, str) or not tenant:
            raise errors.InvalidArgument(f"tenant must be a non-empty str, got {tenant!r}")
        if type(cmd) not in COMMAND_TYPES:
            raise errors.InvalidArgument(f"expected a Command struct, got {type(cmd).__name__}")
        if cmd.now is None:
            cmd = msgspec.structs.replace(cmd, now=self.clock())
        cid = uuid.uuid4().hex
        shard = shard_of(tenant, self.shards)
        tail = self.redis.xrevrange(key(shard, "events"), count=1)
        since = tail[0][0] if tail else b"0-0"
        self.redis.xadd(key(shard, "commands"),
                        {"cid": cid, "tenant": tenant, "cmd": _ENC.encode(cmd)})
        return cid, since

    def wait(self, tenant: str, cid: str, since: bytes = b"0-0") -> list:
        """The events of command ``cid`` once a worker has applied it (looking after event
        entry ``since``); raises its RoutingError, or TimeoutError after ``timeout``."""
        shard = shard_of(tenant, self.shards)
        stream = key(shard, "events")
        deadline = time.monotonic() + self.timeout
        last = since
        want = cid.encode()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no events for command {cid} after {self.timeout} s: is a "
                                   f"worker running for shard {shard}?")
            got = self.redis.xread({stream: last}, count=1000, block=int(min(left, 1.0) * 1000))
            for _, entries in got or ():
                for eid, fields in entries:
                    last = eid
                    if fields.get(b"cid") == want:
                        if b"error" in fields:
                            kind, _, message = fields[b"error"].decode().partition(": ")
                            raise _ERRORS.get(kind, errors.RoutingError)(message)
                        return _EVENTS.decode(fields[b"events"])

    def apply(self, tenant: str, cmd: Any) -> list:
        cid, since = self.send(tenant, cmd)
        return self.wait(tenant, cid, since)


def _method(name: str, cls: type):
    from ..reference import Router
    params = [p for p in inspect.signature(getattr(Router, name)).parameters.values()
              if p.name != "self"]

    def call(self, tenant, *args, **kwargs):
        bound = inspect.Signature(params).bind(*args, **kwargs)
        bound.apply_defaults()
        kw = dict(bound.arguments)
        if isinstance(kw.get("groups"), list):
            kw["groups"] = tuple(kw["groups"])
        return self.apply(tenant, cls(**kw))
    call.__name__ = name
    call.__doc__ = f"``Router.{name}`` for ``tenant``, through Redis."
    return call


for _name in OPS:
    setattr(Client, _name, _method(_name, METHODS[_name]))
