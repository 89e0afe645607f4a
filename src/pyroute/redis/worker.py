"""``pyroute worker``: applies the command streams of the shards it holds a lease on."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Optional

import msgspec

from .. import errors
from ..commands import Command
from ..config import RouterConfig, compile_config
from ..events import Rejected
from ..router import Router
from .._durable import apply_entries, str_array
from .client import SHARDS, key

log = logging.getLogger("pyroute.worker")
SEEN = 100_000   # command ids remembered per shard (and kept in snapshots) to drop re-sends
#: the collector thresholds of a `pyroute worker` process (pyroute.cli sets them there)
WORKER_GC = (50_000, 20, 100)
_ENC = msgspec.msgpack.Encoder()
_CMD = msgspec.msgpack.Decoder(Command)

# Write only while holding the lease: KEYS[1] lease, ARGV[1] me, then the writes.
# Events: KEYS[2] stream, ARGV[2] one MessagePack array of the batch's event entries,
# 5 fields each (cid, entry, tenant, kind, value): one argument for the whole batch, so
# neither the worker nor Redis handles thousands of arguments per write. Redis's
# cmsgpack reads no bin type, so every field goes as a str header on its raw bytes
# (``str_array``, native): Lua strings are bytes, nothing checks UTF-8.
_XADD_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local a = cmsgpack.unpack(ARGV[2])
for i = 1, #a, 5 do
  redis.call('XADD', KEYS[2], '*', 'cid', a[i], 'entry', a[i+1], 'tenant', a[i+2],
             a[i+3], a[i+4])
end
return 1
"""
_SNAPSHOT_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'entry', ARGV[2], 'state', ARGV[3])
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _entry_time(entry: bytes) -> float:
    """The time a stream entry was added: its id is ``<milliseconds>-<sequence>``."""
    return int(entry.split(b"-", 1)[0]) / 1000.0


def load_tenants(path: str | Path) -> dict[str, RouterConfig]:
    """``[tenants.<name>]`` tables, each a RouterConfig. Errors name the file and tenant."""
    try:
        raw = msgspec.toml.decode(Path(path).read_bytes())
    except OSError as e:
        raise errors.ConfigError(f"cannot read {path}: {e.strerror}") from None
    except msgspec.DecodeError as e:
        raise errors.ConfigError(f"{path}: not valid TOML: {e}") from None
    tenants = raw.get("tenants") if isinstance(raw, dict) else None
    if not isinstance(tenants, dict) or not tenants:
        raise errors.ConfigError(f"{path}: expected [tenants.<name>] tables")
    out = {}
    for name, cfg in tenants.items():
        try:
            out[name] = compile_config(cfg).config
        except errors.ConfigError as e:
            raise errors.ConfigError(f"{path}: tenant {name!r}: {e}") from None
    return out


def _cmp(a: bytes, b: bytes) -> int:
    ma, sa = map(int, a.split(b"-"))
    mb, sb = map(int, b.split(b"-"))
    return (ma, sa) > (mb, sb) or -((ma, sa) < (mb, sb))


class Shard:
    """One shard this worker holds: its routers and where it is in the command stream."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.routers: dict[str, Any] = {}
        self.last = b"0-0"            # the last command entry applied
        self.emitted = b"0-0"         # the last command entry whose events are in Redis
        self.replaying = False        # entries up to ``emitted`` are being replayed
        self.since_snapshot = 0
        self.snapshot_at = time.monotonic()
        self.seen: dict[str, None] = {}   # recent command ids, oldest first
        self.order: deque = deque()        # the same ids: the oldest is forgotten in O(1)

    def recall(self, ids: Any, most: int) -> None:
        """Start from these command ids (a snapshot's), the newest ``most`` of them."""
        self.seen = dict.fromkeys(ids)
        self.order = deque(self.seen)
        while len(self.order) > most:
            del self.seen[self.order.popleft()]


class Worker:
    """Holds leases on shards, applies their commands in order, writes the events.

    ``Worker(redis_url, tenants, shards=range(16), lease_ms=5000, snapshot_every=10_000,
    remember=SEEN)``; ``remember`` command ids a shard keeps to drop re-sends;
    ``run(stop=lambda: False)`` loops until ``stop()``; ``step()`` does one round (for
    tests). Counters: ``applied``, ``malformed``, ``unknown_tenant``.
    """

    def __init__(self, url: str, tenants: dict[str, RouterConfig], shards: Any = None,
                 total_shards: int = SHARDS, lease_ms: int = 5000,
                 snapshot_every: int = 10_000, name: Optional[str] = None,
                 batch: int = 1000, remember: int = SEEN) -> None:
        import redis
        self.redis = redis.Redis.from_url(url)
        # XREAD's reply as Redis sends it, not a dict per entry (this client's own table)
        self.redis.response_callbacks.pop("XREAD", None)
        self.tenants = tenants
        self.total = total_shards
        self.wanted = list(range(total_shards) if shards is None else shards)
        self.lease_ms = lease_ms
        self.snapshot_every = snapshot_every
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise errors.InvalidArgument(f"batch must be a positive int, got {batch!r}")
        self.batch = batch
        if isinstance(remember, bool) or not isinstance(remember, int) or remember < 1:
            raise errors.InvalidArgument(
                f"remember must be a positive int (command ids a shard keeps), got "
                f"{remember!r}")
        self.remember = remember
        self.me = name or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self.owned: dict[int, Shard] = {}
        self.applied = self.malformed = self.unknown_tenant = self.duplicates = 0
        self.failed = 0   # entries refused by an error no argument check foresaw
        self.bad_snapshots = 0   # snapshots that did not restore (the stream is replayed)
        self._renewed = 0.0
        self._conn: Any = None        # the connection rounds are sent on
        self._inflight: deque = deque()   # what was sent and not answered yet, in order
        self._snap = self.redis.register_script(_SNAPSHOT_FENCED)
        self._renew = self.redis.register_script(_RENEW)
        self._backoff = 0.1

    # ------------------------------------------------------------------ leases
    def _leases(self) -> None:
        now = time.monotonic()
        if now - self._renewed >= self.lease_ms / 3000:
            for n in list(self.owned):
                if not self._renew(keys=[key(n, "lease")], args=[self.me, self.lease_ms]):
                    log.warning("lost the lease of shard %d", n)
                    del self.owned[n]
            self._renewed = now
        for n in self.wanted:
            if n not in self.owned and self.redis.set(key(n, "lease"), self.me, nx=True,
                                                      px=self.lease_ms):
                self.owned[n] = self._restore(n)
                log.info("took shard %d over at entry %s", n, self.owned[n].last)

    def _restore(self, n: int) -> Shard:
        sh = Shard(n)
        snap = self.redis.hgetall(key(n, "snapshot"))
        if snap:
            try:
                state = msgspec.msgpack.decode(snap[b"state"])
                routers = {tenant: Router._restore(self.tenants[tenant], data)
                           for tenant, data in state["routers"].items()
                           if tenant in self.tenants}
                ids = state["seen"]
                if not isinstance(ids, list) or not all(type(c) is str for c in ids):
                    raise TypeError("'seen' is not a list of command ids (str)")
                last = snap[b"entry"]
                _cmp(last, b"0-0")
                sh.recall(ids, self.remember)
            except Exception as e:   # data only (never unpickled): at worst unusable
                self.bad_snapshots += 1
                log.warning("shard %d: unusable snapshot (%s: %.200s); replaying the "
                            "command stream from its start", n, type(e).__name__, e)
                sh = Shard(n)
            else:
                sh.routers, sh.last = routers, last
        tail = self.redis.xrevrange(key(n, "events"), count=1)
        sh.emitted = tail[0][1][b"entry"] if tail else b"0-0"
        sh.replaying = _cmp(sh.emitted, sh.last) > 0
        return sh

    def _router(self, sh: Shard, tenant: str) -> Any:
        r = sh.routers.get(tenant)
        if r is None:
            r = sh.routers[tenant] = Router(self.tenants[tenant])
        return r

    # ------------------------------------------------------------------ commands
    def step(self, block_ms: int = 100) -> int:
        """One round, finished: leases, then up to ``batch`` commands of each held shard,
        read in one XREAD; each shard's batch is applied in order (one ``apply_each`` a
        tenant) and its event entries written by one fenced script call, the writes of
        all shards in one pipeline, answered before it returns. Returns the number of
        commands seen. (``run`` overlaps rounds: see ``_round``.)"""
        self._settle()
        seen = self._round(block_ms, overlap=False)
        self._settle()
        return seen

    def _round(self, block_ms: int, overlap: bool) -> int:
        """Leases, then the commands read (ahead by the round before, when it overlapped,
        or now), applied, and their writes sent.

        With ``overlap``, rounds are pipelined on the worker's own connection: as soon as
        a round has its entries it sends the next XREAD (from their last ids, without
        BLOCK), applies, and sends the fenced writes, awaiting no answer. Redis reads the
        next batch and stores this one's events while the worker applies; the answers
        come in order and are read at the start of the next round (a write the fence
        refused drops its shard there). Only when a read ahead found nothing does the
        worker wait, in a blocking XREAD, once every answer is in. A snapshot is taken
        once the writes before it are answered."""
        self._leases()
        if not self.owned:
            self._settle()
            time.sleep(block_ms / 1000)
            return 0
        got = self._read_ahead() if overlap else None
        if not got:
            self._settle()
            owned = dict(self.owned)
            streams = {key(n, "commands"): sh.last for n, sh in owned.items()}
            # the raw reply (no per-entry dict): stream -> [[id, [k, v, ...]], ...], a map
            # in RESP3, pairs in RESP2
            reply = self.redis.execute_command("XREAD", "COUNT", self.batch, "BLOCK",
                                               block_ms, "STREAMS", *streams,
                                               *streams.values())
            got = (owned, reply)
        owned, reply = got
        batches = []
        for stream, entries in (reply.items() if isinstance(reply, dict) else reply or ()):
            n = int(stream[stream.index(b":") + 1:stream.index(b"}")])
            sh = self.owned.get(n)
            if sh is None or sh is not owned.get(n):   # lost (and maybe retaken) since
                continue
            batches.append((sh, entries))
        if overlap and batches:
            ahead = dict(self.owned)
            last = {sh.n: entries[-1][0] for sh, entries in batches}
            streams = {key(n, "commands"): last.get(n, sh.last) for n, sh in ahead.items()}
            self._send([("XREAD", "COUNT", self.batch, "STREAMS", *streams,
                         *streams.values())], ("read", ahead))
        seen = 0
        writes: list = []
        for sh, entries in batches:
            seen += len(entries)
            out = self._apply_batch(sh, entries)
            if out:
                writes.append((sh.n, out))
            sh.since_snapshot += len(entries)
        if writes:
            self._send([("EVAL", _XADD_FENCED, 2, key(n, "lease"), key(n, "events"),
                         self.me, str_array(out)) for n, out in writes],
                       ("write", [n for n, _ in writes]))
        due = [sh for sh in self.owned.values() if sh.since_snapshot >= self.snapshot_every]
        if due:
            self._settle()   # a snapshot only once the events before it are in Redis
            for sh in due:
                if self.owned.get(sh.n) is sh:
                    self.snapshot(sh)
        return seen

    def _send(self, cmds: list, what: tuple) -> None:
        """Send ``cmds`` on the worker's own connection without waiting for the answers;
        ``what`` says how to read them: ``("read", shards held)`` for a read ahead,
        ``("write", shard numbers)`` for fenced writes."""
        if self._conn is None:
            self._conn = self.redis.connection_pool.get_connection()
        conn = self._conn
        try:
            conn.send_packed_command(conn.pack_commands(cmds))
        except BaseException:
            self._drop_connection()
            raise
        self._inflight.append(what)

    def _answer(self) -> Any:
        """Read the answer of the oldest thing sent; a shard whose write the fence
        refused is no longer this worker's. Returns a read ahead's ``(shards, reply)``."""
        kind, arg = self._inflight[0]
        conn = self._conn
        try:
            if kind == "read":
                out = (arg, conn.read_response())
            else:
                oks = [conn.read_response() for _ in arg]
        except BaseException:
            self._drop_connection()
            raise
        self._inflight.popleft()
        if kind == "read":
            return out
        for n, ok in zip(arg, oks):
            if not ok:
                log.warning("lost the lease of shard %d while writing", n)
                self.owned.pop(n, None)
        return None

    def _read_ahead(self) -> Any:
        """The answers up to the oldest read ahead, and its ``(shards, reply)`` (None
        when none was sent, or it found nothing)."""
        while self._inflight:
            got = self._answer()
            if got is not None:
                return got if got[1] else None
        return None

    def _settle(self) -> None:
        """Read every answer still due (a read ahead's entries are dropped: they are read
        again from the shards' last applied entries)."""
        while self._inflight:
            self._answer()

    def _drop_connection(self) -> None:
        """After an error mid-exchange: the connection's answers are unknown; drop it."""
        self._inflight.clear()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.disconnect()
            finally:
                self.redis.connection_pool.release(conn)

    def _apply_batch(self, sh: Shard, entries: list) -> list:
        """Apply one shard's entries in order; the fields of their event entries, 5 a
        command (those whose events the events stream already holds left out).

        Entries are decoded and checked (malformed, re-delivered, unknown tenant) in
        stream order, then each tenant's commands go to its router in one ``apply_each``
        (the tenants' routers are independent, so the order within each is all that
        counts), and the event entries are laid out in stream order again: the loop is
        native (``pyroute._durable.apply_entries``), the unusual entries come back here
        (``_decode``, ``_refused``)."""
        if not entries:
            return []
        out, applied = apply_entries(
            entries, sh.seen, sh.order, self.remember, _CMD.decode, _ENC.encode,
            lambda entry, cid, tenant, cmd: self._decode(sh, entry, cid, tenant, cmd),
            lambda tenant: self._router(sh, tenant).apply_each,
            lambda entry, cid, tenant, res: self._refused(sh, entry, cid, tenant, res),
            sh.replaying)
        self.applied += applied
        if sh.replaying:   # after a takeover: the events stream may hold some of these
            kept: list = []
            for entry, rec in out:
                if rec is not None:
                    if sh.replaying:
                        if _cmp(entry, sh.emitted) <= 0:
                            continue
                        sh.replaying = False
                    kept += rec
            out = kept
        sh.last = entries[-1][0]
        return out

    def _decode(self, sh: Shard, entry: bytes, rcid: Any, rtenant: Any,
                rcmd: Any) -> Any:
        """One command entry: ``(tenant, command)`` for its router, or the fields of an
        event entry answering it already (re-delivered, unknown tenant), or None when it
        is malformed (skipped, counted)."""
        try:
            cid = rcid.decode()
            tenant = rtenant.decode()
            cmd = _CMD.decode(rcmd)
        except Exception as e:   # any entry that does not decode: never stop the shard
            # (a deeply nested value raises RecursionError, not DecodeError; a missing
            # field is None here, an AttributeError)
            self.malformed += 1
            log.warning("shard %d: skipped malformed entry %s (%s: %.200s)", sh.n,
                        entry.decode(errors="replace"), type(e).__name__, e)
            return None
        if cmd.now is None:
            # the entry's own time (its id is milliseconds since the epoch, given by Redis
            # when it was added), so a replay after a takeover gives the same events
            cmd = msgspec.structs.replace(cmd, now=_entry_time(entry))
        if cid in sh.seen:   # a re-delivered command: applied once, never twice
            self.duplicates += 1
            return [rcid, entry, rtenant, b"error",
                    b"DuplicateId: command id already applied; its events are earlier in the "
                    b"events stream"]
        sh.seen[cid] = None
        sh.order.append(cid)
        if len(sh.seen) > self.remember:
            del sh.seen[sh.order.popleft()]
        if tenant not in self.tenants:
            self.unknown_tenant += 1
            ev = Rejected(getattr(cmd, "request", None) or cid, cmd.now or 0.0,
                          "unknown_tenant")
            return [rcid, entry, rtenant, b"events", _ENC.encode([ev])]
        return tenant, cmd

    def _refused(self, sh: Shard, entry: bytes, rcid: bytes, rtenant: bytes,
                 res: Exception) -> list:
        """The fields of the event entry of a command ``apply_each`` refused with
        ``res``."""
        if isinstance(res, errors.RoutingError):
            return [rcid, entry, rtenant, b"error", f"{type(res).__name__}: {res}".encode()]
        # arguments no check foresaw (TypeError, ValueError, ...): refused like a
        # RoutingError (the engines change nothing before their checks pass), logged since
        # it points at a gap
        self.failed += 1
        log.warning("shard %d: entry %s refused by an unexpected %s: %.200s", sh.n,
                    entry.decode(errors="replace"), type(res).__name__, res)
        return [rcid, entry, rtenant, b"error",
                f"InvalidArgument: {type(res).__name__}: {res}".encode()]

    def snapshot(self, sh: Shard) -> None:
        """Save the shard's routers at its last applied entry (fenced by the lease)."""
        state = {"routers": {t: r._snapshot() for t, r in sh.routers.items()},
                 "seen": list(sh.seen)}
        if self._snap(keys=[key(sh.n, "lease"), key(sh.n, "snapshot")],
                      args=[self.me, sh.last, _ENC.encode(state)]):
            sh.since_snapshot = 0

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Loop until ``stop()``, rounds overlapped (``_round``); Redis errors are retried
        with backoff and logged. On a stop, the last round's writes are answered first."""
        import redis
        while not stop():
            try:
                self._round(100, overlap=True)
                self._backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError) as e:
                self._drop_connection()
                log.error("redis unreachable (%s); retrying in %.1f s", e, self._backoff)
                time.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 10.0)
                self.owned.clear()   # leases may have lapsed: take shards again
        try:
            self._settle()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            self._drop_connection()
            log.error("redis unreachable (%s) while finishing the last round", e)
