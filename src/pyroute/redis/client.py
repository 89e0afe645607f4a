"""``pyroute.redis.Client``: the Router's methods for platform code, over Redis Streams."""

from __future__ import annotations

import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any, Callable

import msgspec

from .. import errors, protocol
from ..events import Event

if TYPE_CHECKING:   # the generated methods, typed
    from .._api import TenantCommands as _Methods
else:
    _Methods = object

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


class Client(_Methods):
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
        if type(cmd) not in protocol.BY_TYPE:
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


def _method(spec: protocol.Spec):
    """``spec``'s method with a ``tenant`` first, generated from the command table (so a
    type checker and ``help()`` see its real parameters)."""
    head = protocol.signature_source(spec, "self, tenant")
    kw = ", ".join(f"{p}={p}" for p in spec.params)
    fix = ("    if isinstance(groups, list):\n        groups = tuple(groups)\n"
           if "groups" in spec.params else "")
    src = (f"def {spec.name}({head}):\n{fix}"
           f"    return self.apply(tenant, _struct({kw}))\n")
    ns: dict = {"_struct": spec.struct}
    exec(src, ns)
    call = ns[spec.name]
    call.__doc__ = f"``Router.{spec.name}`` for ``tenant``, through Redis."
    call.__qualname__ = f"Client.{spec.name}"
    return call


for _spec in protocol.COMMANDS:
    setattr(Client, _spec.name, _method(_spec))
