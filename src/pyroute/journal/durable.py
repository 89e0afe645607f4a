"""The durable router: commands journaled before their events are returned, snapshots,
and recovery by replay.

``Router.open(directory, config, fsync="batch", snapshot_every=100_000)`` returns a
:class:`DurableRouter`: the same methods as a Router, and every command it accepts is
appended to ``directory/journal.pyrj`` before its events are returned. Reopening the
directory loads the newest good snapshot (if any) and replays the journal after it, so the
router comes back exactly as it was after the last acknowledged command.

The header's payload is the MessagePack map ``{"format": "pyroute-journal", "version": 1,
"config": {...}, "config_digest": "...", "engine": "native", "journal_id": "..."}``; a
snapshot ``snapshot-<n>.pyrs`` is one record whose payload is ``{"format":
"pyroute-snapshot", "version": 1, "config_digest", "commands": n, "offset": byte offset of
record n + 1 in the journal, "engine", "journal_id", "state": bytes}``. Records:
:mod:`.format`; command records: :mod:`.codec`; docs/durability.md.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import mmap
import os
import secrets
import time
import warnings
import weakref
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import msgspec

from .. import errors, packed, protocol
from .codec import OPS, encode as _encode, unjournalable as _unjournalable
from .format import (
    _HEAD, CHUNK, FORMAT_VERSION, FSYNC, JOURNAL, PAGE, READABLE_VERSIONS, JournalError,
    JournalWarning, config_digest, read_records, record, valid_after,
)

if TYPE_CHECKING:   # the generated command methods and the delegated reads, typed
    from .._api import Commands, Reads

    class _Methods(Commands, Reads):
        pass
else:
    _Methods = object

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()
_log = logging.getLogger("pyroute.journal")
#: bytes at the end of the journal's mapping kept free for the record of a command that
#: was applied when the disk would not let the file grow (so it is never lost)
RESERVE = 1 << 20
_BIG = RESERVE // 2        # records larger than this check for room before applying
_OPEN: "weakref.WeakSet[DurableRouter]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # a child's copies of open durable routers must never write the parent's journal:
    # their next command goes through _check, which refuses it
    for r in list(_OPEN):
        r._usable = False


os.register_at_fork(after_in_child=_after_fork_in_child)


def _allocate(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of real blocks (not a sparse hole)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        if os.fstat(fd).st_size < size:    # a file system without fallocate
            os.ftruncate(fd, size)
#: command struct -> (code, getter of its arguments in record order)
_GETTERS = {s.struct: (s.code, protocol._ARGS[s.struct]) for s in protocol.COMMANDS}


class Recovery(msgspec.Struct, frozen=True):
    """What reopening a directory found: ``snapshot`` (commands it covered, or None),
    ``replayed`` commands applied after it, ``torn`` records cut off (0 or 1), and the
    corrupt ``snapshots_skipped``."""

    snapshot: Optional[int]
    replayed: int
    torn: int
    snapshots_skipped: int
    seconds: float


class DurableRouter(_Methods):
    """A Router whose accepted commands are journaled before their events are returned.

    Made by ``pyroute.Router.open(...)`` (native) or ``pyroute.reference.Router.open``.
    Every method of the Router is here; the mutating ones journal the command they apply
    (with ``now`` filled from the clock when left out). ``recovery`` says what opening
    found; ``commands`` counts the commands in the journal; ``close()`` syncs and closes.
    """

    def __init__(self, engine_cls: type, directory: str | os.PathLike, config: Any, *,
                 fsync: str = "batch", snapshot_every: Optional[int] = 100_000,
                 clock: Callable[[], float] = time.monotonic, batch_interval: float = 0.005,
                 explain: bool = False) -> None:
        if fsync not in FSYNC:
            raise errors.InvalidArgument(f"fsync must be one of {', '.join(FSYNC)}, got "
                                         f"{fsync!r}")
        if snapshot_every is not None and (not isinstance(snapshot_every, int)
                                           or isinstance(snapshot_every, bool)
                                           or snapshot_every < 1):
            raise errors.InvalidArgument(f"snapshot_every must be a positive integer or None, "
                                         f"got {snapshot_every!r}")
        if not callable(clock):
            raise errors.InvalidArgument(f"clock must be callable, got {clock!r}")
        if not (isinstance(batch_interval, (int, float)) and not isinstance(batch_interval, bool)
                and 1e-4 <= batch_interval <= 3600):
            raise errors.InvalidArgument(f"batch_interval must be seconds from 0.0001 to "
                                         f"3600, got {batch_interval!r}")
        self._cfg_data, self._digest = config_digest(config)
        self.directory = Path(directory)
        self.fsync = fsync
        self.snapshot_every = snapshot_every
        self._clock = clock
        self._interval = float(batch_interval)
        self._engine_cls = engine_cls
        self._explain = explain
        self._broken: Optional[str] = None
        self._base = False            # the journal continues attach's base snapshot
        self._lock = -1
        self._journal_id: Optional[str] = None
        self._fd = -1
        self._mm = None
        self._usable = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._lock = _lock(self.directory)
        started = time.perf_counter()
        try:
            self._router, commands, end, info = self._recover()
        except BaseException:
            os.close(self._lock)
            self._lock = -1
            raise
        from .._durable import JournalLog
        self._log = JournalLog()
        self._log.end, self._log.count = end, commands
        self.recovery = Recovery(info["snapshot"], info["replayed"], info["torn"],
                                 info["skipped"], time.perf_counter() - started)
        self._fd = os.open(self.directory / JOURNAL, os.O_RDWR)
        self._mm: Optional[mmap.mmap] = None
        self._view: Optional[memoryview] = None
        self._size = 0                # bytes mapped (and allocated on disk)
        self._low = False             # the disk could not give the journal its reserve
        try:
            self._grow(0)
        except errors.StorageFull:    # opens all the same: reads answer, commands wait
            self._map(os.fstat(self._fd).st_size)
            self._low = True
        self._synced = end            # bytes up to here are fsynced
        self._syncer: Any = None
        if fsync == "batch":
            # group commit: a native thread fdatasyncs the journal every batch_interval;
            # it never takes the GIL, so no command waits for the disk
            from .._durable import Syncer
            self._syncer = Syncer(self._fd, self._interval)
            self._log.set_syncer(self._syncer)
        # the command count at which the next snapshot is due
        self._log.snap_due = (math.inf if snapshot_every is None
                              else (info["snapshot"] or 0) + snapshot_every)
        self._log.fast = fsync != "always"   # a command may skip the general path
        self._usable = not self._low
        _OPEN.add(self)

    @property
    def commands(self) -> int:
        """Commands in the journal (and so applied to the router)."""
        return self._log.count

    @property
    def _end(self) -> int:
        return self._log.end

    # ------------------------------------------------------------------ recovery
    def _new_engine(self) -> Any:
        kw = {"explain": True} if self._explain else {}
        return self._engine_cls(self._cfg_data, clock=self._clock, **kw)

    def _recover(self) -> tuple[Any, int, int, dict]:
        path = self.directory / JOURNAL
        info = {"snapshot": None, "replayed": 0, "torn": 0, "skipped": 0}
        if not path.exists():
            if any(self.directory.glob("snapshot-*.pyrs")):
                raise JournalError(f"{self.directory} holds snapshots but no journal: they "
                                   f"belong to another journal; move them away first")
            self._journal_id = secrets.token_hex(8)
            header = record(_ENC.encode({
                "format": "pyroute-journal", "version": FORMAT_VERSION,
                "config": self._cfg_data, "config_digest": self._digest,
                "engine": getattr(self._engine_cls, "engine", "?"),
                "journal_id": self._journal_id}))
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(header)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(self.directory)
            return self._new_engine(), 0, len(header), info
        data = path.read_bytes()
        first = next(read_records(data), None)
        if first is None or first[2] is None:
            raise JournalError(f"{path}: no readable header; not a pyroute journal, or "
                               f"damaged at its start")
        try:
            head = msgspec.msgpack.decode(first[2])
        except msgspec.DecodeError:
            head = None
        if not isinstance(head, dict) or head.get("format") != "pyroute-journal":
            raise JournalError(f"{path}: not a pyroute journal")
        if head.get("version") not in READABLE_VERSIONS:
            raise JournalError(f"{path}: journal format version {head.get('version')!r}; this "
                               f"pyroute reads {', '.join(map(str, READABLE_VERSIONS))}")
        if head.get("config_digest") != self._digest and not _same_config(head, self._digest):
            raise errors.ConfigError(
                f"{path} was written for another config (digest "
                f"{str(head.get('config_digest'))[:12]}…, this one {self._digest[:12]}…): open "
                f"it with the config it was written for (`pyroute replay {self.directory}` "
                f"prints it), or use another directory")
        self._journal_id = head.get("journal_id")
        self._base = bool(head.get("base_snapshot"))
        router, count, pos = None, 0, first[1]
        for snap_count, offset, state in self._snapshots(info, len(data)):
            try:
                router = self._engine_cls._restore(self._cfg_data, state,
                                                   explain=self._explain, clock=self._clock)
            except Exception as e:   # a snapshot that does not restore: try an older one
                warnings.warn(f"{self.directory}: snapshot of {snap_count} commands does not "
                              f"restore ({e}); trying an older one", JournalWarning,
                              stacklevel=3)
                info["skipped"] += 1
                continue
            count, pos = snap_count, offset
            info["snapshot"] = snap_count
            break
        if router is None:
            if self._base:
                raise JournalError(
                    f"{path} continues a snapshot (made by attach) and no snapshot of it "
                    f"restores{' into a router that explains' if self._explain else ''}: "
                    f"open it with the engine that wrote it, without explain=True")
            router = self._new_engine()
        batch: list = []
        end = pos
        for off, end_, payload in read_records(data, pos):
            if payload is None:
                if valid_after(data, off) is not None:
                    raise JournalError(
                        f"{path}: record at byte {off} is corrupt but records follow it: the "
                        f"journal is damaged in the middle; restore it from a backup")
                tail = data[off:].rstrip(b"\x00")
                info["torn"] = 1
                kept = path.with_name(f"{JOURNAL}.torn-{off}")
                kept.write_bytes(tail)
                warnings.warn(f"{path}: cut off a torn or corrupt last record at byte {off} "
                              f"({len(tail)} bytes, kept in {kept.name}): a command that was "
                              f"never acknowledged", JournalWarning, stacklevel=3)
                with open(path, "r+b") as f:
                    f.truncate(off)
                    f.flush()
                    os.fsync(f.fileno())
                break
            batch.append((off, payload))
            end = end_
        methods = [getattr(router, name) for name in OPS]
        full = [len(s.params) for s in protocol.COMMANDS]
        decode = _DEC.decode
        replayed = 0
        for off, payload in batch:
            try:
                rec = decode(payload)
                for code, *args in (rec if rec and isinstance(rec[0], list) else (rec,)):
                    if len(args) < full[code]:    # written before a parameter existed
                        args = protocol.padded(code, args)
                    methods[code](*args)
                    replayed += 1
            except (msgspec.DecodeError, ValueError, TypeError, IndexError) as e:
                raise JournalError(f"{path}: record at byte {off} is not a command ({e})") \
                    from None
            except errors.RoutingError as e:
                raise JournalError(f"{path}: replaying the record at byte {off} failed "
                                   f"({type(e).__name__}: {e}); the journal does not match "
                                   f"this pyroute's rules") from None
        info["replayed"] = replayed
        return router, count + replayed, end, info

    def _snapshots(self, info: dict, size: int) -> Iterator[tuple[int, int, bytes]]:
        """Good snapshots, newest first (a corrupt one is skipped, with a warning)."""
        snaps = sorted(self.directory.glob("snapshot-*.pyrs"), reverse=True)
        for p in snaps:
            try:
                data = p.read_bytes()
                if len(data) < 8:
                    raise ValueError("too short")
                length, crc = _HEAD.unpack_from(data, 0)
                payload = data[8:]
                if length != len(payload) or zlib.crc32(payload) != crc:
                    raise ValueError("checksum or length mismatch")
                snap = msgspec.msgpack.decode(payload)
                if snap.get("format") != "pyroute-snapshot" or snap.get(
                        "version") not in READABLE_VERSIONS:
                    raise ValueError("not a pyroute snapshot of a readable version")
                if snap.get("config_digest") != self._digest:
                    raise ValueError("written for another config")
                if snap.get("engine") != getattr(self._engine_cls, "engine", "?"):
                    raise ValueError(f"taken by the {snap.get('engine')} engine")
                if snap.get("journal_id") != self._journal_id:
                    raise ValueError("taken of another journal")
                if not 0 < snap.get("offset", -1) <= size:
                    raise ValueError("its journal offset lies beyond the journal")
            except (OSError, ValueError, StopIteration, msgspec.DecodeError, AttributeError) as e:
                warnings.warn(f"{p}: unusable snapshot ({e}); falling back to an older one or "
                              f"the journal", JournalWarning, stacklevel=4)
                info["skipped"] += 1
                continue
            yield snap["commands"], snap["offset"], snap["state"]

    # ------------------------------------------------------------------ writing
    def _check(self, need: int = 0) -> None:
        """Everything the fast path skips while ``_usable`` is True: the process, the
        group-commit thread's health, a closed or stopped router, and room for a record of
        ``need`` bytes (StorageFull, before anything is applied, when the disk has none)."""
        if os.getpid() != self._pid:
            self._usable = False
            raise errors.InvalidState(
                f"this durable router on {self.directory} was opened by process {self._pid}; "
                f"a forked child may not write its parent's journal: open a router of its "
                f"own (on another directory) in the child")
        if self._syncer is not None and self._syncer.error and not self._broken:
            self._broken = f"syncing the journal failed ({os.strerror(self._syncer.error)})"
            self._usable = False
            self._release()
        if self._broken:
            raise errors.InvalidState(f"this durable router stopped: {self._broken}; reopen "
                                      f"the directory to recover")
        if self._fd < 0:
            raise errors.InvalidState("this durable router is closed")
        if self._log.end + need + RESERVE > self._size:
            try:
                self._grow(need)
                self._low = False
            except errors.StorageFull:
                self._low = True
                if self._log.end + need > self._size:
                    raise errors.StorageFull(
                        f"{self.directory / JOURNAL}: no space left on the device for the "
                        f"journal; the command was not applied (the router is unchanged "
                        f"and takes commands again once space is freed)") from None
        self._usable = not self._low

    def _fail(self, e: OSError, doing: str = "writing") -> None:
        # applied in memory but not journaled: nothing more may be acknowledged
        self._broken = f"{doing} the journal failed ({e.strerror})"
        self._usable = False
        self._release()    # it will never write again: let a new router open the directory
        raise errors.RoutingError(
            f"{self.directory / JOURNAL}: {self._broken}; the last command is not "
            f"durable and the router refuses further commands") from None

    def _grow(self, need: int) -> None:
        """Map the journal file with room for ``need`` more bytes after the end, plus the
        reserve. Records are copied into a shared mapping: they are in the page cache, and
        so survive the process, the moment the copy is done; fsync then makes them survive
        the machine. The file's blocks are allocated first (posix_fallocate), so a full
        disk is an error here (StorageFull), never a SIGBUS in a later copy."""
        size = os.fstat(self._fd).st_size
        least = self._log.end + need + RESERVE
        want = max(size, least)
        if want > size:
            want = max(want + CHUNK, size * 2 if size < 1 << 30 else size + (1 << 30))
        want = -(-want // PAGE) * PAGE
        least = -(-least // PAGE) * PAGE
        if want != self._size or self._mm is None:
            for n in dict.fromkeys((want, least)):   # the whole step, else what is needed
                if n < least:
                    continue
                try:
                    _allocate(self._fd, n)
                    break
                except OSError as e:
                    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
            else:
                raise errors.StorageFull(f"{self.directory / JOURNAL}: no space left on "
                                         f"the device")
            self._map(max(n, size))

    def _map(self, size: int) -> None:
        """(Re)map the first ``size`` bytes of the journal; the fast path (JournalLog) sees
        all but the last RESERVE of them."""
        self._unmap()
        self._mm = mmap.mmap(self._fd, size)
        self._size = size
        self._view = memoryview(self._mm)[:max(0, size - RESERVE)]
        self._log.attach(self._view)

    def _sync_range(self) -> None:
        end = self._log.end
        start = self._synced // PAGE * PAGE
        if end > start:
            self._mm.flush(start, end - start)   # msync: on disk before we go on
        self._synced = end

    def _write_bytes(self, data: bytes, n: int) -> None:
        """Append framed records of ``n`` commands: the group-commit thread's health, room
        in the mapping, fsync="always", and the snapshot schedule."""
        log = self._log
        end = log.end + len(data)
        self._check_syncer()
        try:
            if end + RESERVE > self._size:
                try:
                    self._grow(len(data))
                except errors.StorageFull:
                    # the command is applied: it goes into the reserve, and commands wait
                    # (refused before they are applied) until the disk has room again
                    self._low = True
                    self._usable = False
                    if end > self._size:   # bigger than the reserve (checked before, so
                        raise OSError(errno.ENOSPC, "No space left on device")  # never)
            self._mm[log.end:end] = data
            log.end = end
            log.count += n
            if self.fsync == "always":
                self._sync_range()
        except OSError as e:
            self._fail(e)
        if log.count >= log.snap_due:
            self._scheduled_snapshot()

    def _check_syncer(self) -> None:
        if self._syncer is not None and self._syncer.error:
            # commands may have been acknowledged that the disk did not take
            self._fail(OSError(self._syncer.error, os.strerror(self._syncer.error)),
                       "syncing")

    def _log_payload(self, payload: bytes) -> None:
        """The general path of journaling one encoded record (the generated methods and
        ``apply`` try ``JournalLog.append`` first)."""
        self._write_bytes(record(payload), 1)

    def apply(self, cmd: Any) -> list:
        """Apply one command and journal it; returns its events."""
        if not self._usable:
            self._check()
        if cmd.__class__ not in _GETTERS:
            return self._router.apply(cmd)       # raises InvalidArgument
        if cmd.now is None:
            cmd = msgspec.structs.replace(cmd, now=self._clock())
        try:
            payload = _encode(protocol.record(cmd))
        except (TypeError, ValueError, OverflowError) as e:
            raise _unjournalable(e) from None
        if self._usable is not True or len(payload) > _BIG:
            self._check(len(payload) + 8)
        out = self._router.apply(cmd)
        if not self._log.append(payload):
            self._log_payload(payload)
        return out

    def apply_many(self, cmds: Any) -> list:
        """Apply commands in order and journal them with one write (group commit). On a
        failure, the commands before it stay applied and journaled (BatchError)."""
        self._check()
        try:
            cmds = list(cmds)
        except TypeError:
            return self._router.apply_many(cmds)   # not iterable: the router says so
        # one record for the batch (one encode, one checksum: group commit); what
        # cannot be journaled is not applied. One pass: fill now, build the records.
        recs: list = []
        add = recs.append
        getters = _GETTERS
        bad: Optional[errors.BatchError] = None
        for i, c in enumerate(cmds):
            entry = getters.get(c.__class__)
            if entry is None:
                break                      # not a command: the router refuses it below
            if c.now is None:
                c = cmds[i] = msgspec.structs.replace(c, now=self._clock())
            add((entry[0], *entry[1](c)))
        try:
            payload = _encode(recs)
        except (TypeError, ValueError, OverflowError):
            for i, rec in enumerate(recs):          # find the one that cannot be encoded
                try:
                    _encode(rec)
                except (TypeError, ValueError, OverflowError) as e:
                    bad = errors.BatchError(i, _unjournalable(e), [])
                    cmds, recs = cmds[:i], recs[:i]
                    break
            payload = _encode(recs)
        self._check(len(payload) + 8)
        try:
            out = self._router.apply_many(cmds)
        except errors.BatchError as e:
            if e.index:
                self._write_batch(recs[:e.index])
            raise
        self._write_batch(recs, payload if len(recs) == len(cmds) else None)
        if bad is not None:
            raise errors.BatchError(bad.index, bad.error, out) from bad.error
        return out

    def apply_packed(self, data: Any) -> bytes:
        """``apply_many`` in binary (``Router.apply_packed``), journaled as ``apply_many``
        journals its batch."""
        return packed.apply(self, data)

    def apply_each(self, cmds: Any) -> list:
        """Apply commands in order, each on its own (``Router.apply_each``: one item a
        command, its events or the exception that refused it), and journal the applied
        ones with one write. One that cannot be journaled is refused before anything is
        applied: its item is the InvalidArgument that says why."""
        self._check()
        try:
            cmds = list(cmds)
        except TypeError:
            return self._router.apply_each(cmds)   # not iterable: the router says so
        getters = _GETTERS
        recs: list = []          # the record of each command (None: not a command)
        for i, c in enumerate(cmds):
            entry = getters.get(c.__class__)
            if entry is None:
                recs.append(None)   # the router refuses it (InvalidArgument)
                continue
            if c.now is None:
                c = cmds[i] = msgspec.structs.replace(c, now=self._clock())
            recs.append((entry[0], *entry[1](c)))
        refused: dict = {}       # index -> the error of a command that cannot be journaled
        try:
            payload: Optional[bytes] = _encode(recs)
        except (TypeError, ValueError, OverflowError):
            payload = None
            for i, rec in enumerate(recs):
                try:
                    _encode(rec)
                except (TypeError, ValueError, OverflowError) as e:
                    refused[i] = _unjournalable(e)
        # room for the record before anything is applied (the refused ones make it smaller)
        self._check(len(payload if payload is not None else
                        _encode([r for i, r in enumerate(recs) if i not in refused])) + 8)
        todo = [i for i in range(len(cmds)) if i not in refused] if refused else None
        got = self._router.apply_each(cmds if todo is None else [cmds[i] for i in todo])
        if todo is not None:
            res: list = [None] * len(cmds)
            for i, e in refused.items():
                res[i] = e
            for i, r in zip(todo, got):
                res[i] = r
        else:
            res = got
        done = [rec for rec, r in zip(recs, res) if rec is not None and type(r) is list]
        self._write_batch(done, payload if len(done) == len(cmds) else None)
        return res

    def _write_batch(self, recs: list, payload: Optional[bytes] = None) -> None:
        """Journal ``recs`` as one record (a list of command records)."""
        if recs:
            self._write_bytes(record(payload if payload is not None else _encode(recs)),
                              len(recs))

    def _scheduled_snapshot(self) -> None:
        """A snapshot that is due: a failure (disk full, ...) must not fail the command
        that was applied and journaled; it is reported and tried again later."""
        try:
            self.snapshot()
        except (OSError, MemoryError, errors.RoutingError) as e:
            for tmp in self.directory.glob("snapshot-*.tmp"):
                try:
                    tmp.unlink()
                except OSError:
                    pass
            if self.snapshot_every is not None:
                self._log.snap_due = self.commands + self.snapshot_every
            message = (f"{self.directory}: a scheduled snapshot failed ({e}); the journal "
                       f"is intact, recovery replays more of it; trying again after "
                       f"{self.snapshot_every} commands")
            _log.warning("%s", message)
            try:
                warnings.warn(message, JournalWarning, stacklevel=4)
            except Warning:
                # warnings turned into errors (-W error) must not fail a command that is
                # applied and journaled: its caller would take it for refused
                pass

    def snapshot(self) -> Optional[Path]:
        """Write a snapshot now (also done every ``snapshot_every`` commands); keeps the two
        newest. Returns its path, or None when the engine cannot snapshot."""
        self._check()
        save = getattr(self._router, "_snapshot", None)
        if save is None:
            self._log.snap_due = (math.inf if self.snapshot_every is None
                                  else self.commands + self.snapshot_every)
            return None
        self._sync_range()
        payload = _ENC.encode({
            "format": "pyroute-snapshot", "version": FORMAT_VERSION,
            "config_digest": self._digest, "commands": self.commands, "offset": self._end,
            "journal_id": self._journal_id,
            "engine": getattr(self._engine_cls, "engine", "?"), "state": save()})
        path = self.directory / f"snapshot-{self.commands:012d}.pyrs"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(record(payload))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        base = f"snapshot-{0:012d}.pyrs"
        for old in sorted(self.directory.glob("snapshot-*.pyrs"))[:-2]:
            if not (self._base and old.name == base):   # attach's base stays
                old.unlink()
        self._log.snap_due = (math.inf if self.snapshot_every is None
                              else self.commands + self.snapshot_every)
        return path

    def sync(self) -> None:
        """Make every journaled command durable on disk now (``fsync="batch"`` does it
        every ``batch_interval`` in the background; ``"never"`` leaves it to the OS and
        ``close``)."""
        if self._fd >= 0 and self._log.end > self._synced:
            self._sync_range()

    def close(self) -> None:
        """Sync, cut the file to its records and close. The router's views still answer;
        commands do not."""
        if self._fd >= 0:
            self._usable = False
            if os.getpid() != self._pid or self._broken:
                # a forked child's copy (the journal is its parent's), or a router that
                # stopped (another may have the directory now): touch nothing
                self._release()
                return
            if self._syncer is not None:
                self._syncer.stop()
                self._syncer = None
            self.sync()
            self._unmap()
            os.ftruncate(self._fd, self._log.end)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.close(self._lock)
            self._lock = -1

    def _release(self) -> None:
        """Let go of the mapping, the file and the lock, writing nothing."""
        if self._syncer is not None:
            self._syncer.stop()
            self._syncer = None
        self._unmap()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def _unmap(self) -> None:
        """Let go of the mapping: the fast path's view first, then the map itself."""
        self._log.detach()
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mm is not None:
            self._mm.close()
            self._mm = None

    def __enter__(self) -> "DurableRouter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def router(self) -> Any:
        """The in-memory router (read it; commands must go through this object)."""
        return self._router

    @property
    def config(self) -> Any:
        return self._router.config

    def __getattr__(self, name: str) -> Any:
        # views and reads: operator, request, queue, stats, bans, accepting, explain,
        # next_timer, memory, check, _state
        if name.startswith("__") or name in protocol.BY_NAME:
            raise AttributeError(name)
        return getattr(self._router, name)


def _mutator(spec: protocol.Spec):
    """The command ``spec`` as a method that calls the router's and journals its record:
    generated from the command table (binding arguments by hand, or building a Command
    struct, costs more than the routing)."""
    name = spec.name
    head = protocol.signature_source(spec)
    args = ", ".join(spec.params)
    # the record is encoded before the router applies the command: what cannot be
    # journaled is refused before it happens
    src = (f"def {name}({head}):\n"
           f"    if now is None:\n        now = self._clock()\n"
           f"    try:\n"
           f"        payload = _encode(({spec.code}, {args}))\n"
           f"    except (TypeError, ValueError, OverflowError) as e:\n"
           f"        raise _unjournalable(e) from None\n"
           # room for the record is known before the command is applied: a small one
           # fits in the reserve that _usable vouches for; a large one is checked
           f"    if self._usable is not True or len(payload) > _BIG:\n"
           f"        self._check(len(payload) + 8)\n"
           f"    out = self._router.{name}({args})\n"
           f"    if not self._log.append(payload):\n"
           f"        self._log_payload(payload)\n"
           f"    return out\n")
    ns: dict = {"_encode": _encode, "_unjournalable": _unjournalable, "_BIG": _BIG}
    exec(src, ns)
    call = ns[name]
    call.__doc__ = f"``{name}`` of the Router, journaled (as ``{spec.type_name}``)."
    call.__qualname__ = f"DurableRouter.{name}"
    return call


def _lock(directory: Path) -> int:
    """An exclusive lock on ``directory`` itself for as long as the router is open: two
    routers on one journal would write over each other. The directory is locked, not a
    file in it, so deleting the ``lock`` file (which only tells the holder's pid) lets no
    second router in."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        try:
            holder = (directory / "lock").read_text(errors="replace").strip()[:32]
        except OSError:
            holder = "?"
        raise JournalError(f"{directory} is in use by another router (pid {holder or '?'}): "
                           f"close it first") from None
    try:
        tmp = directory / "lock.tmp"
        tmp.write_text(str(os.getpid()))
        os.replace(tmp, directory / "lock")
    except OSError:
        pass          # the pid is only for the message
    return fd


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


for _spec in protocol.COMMANDS:
    setattr(DurableRouter, _spec.name, _mutator(_spec))


def attach(router: Any, directory: str | os.PathLike, **kw: Any) -> DurableRouter:
    """Make an existing in-memory router durable: ``directory`` (new or empty) gets a
    journal and a snapshot of the router's current state, and the returned DurableRouter
    (a router restored from that snapshot; ``kw`` as for ``Router.open``) journals from
    there. The router passed in must not be used for commands afterwards."""
    directory = Path(directory)
    if (directory / JOURNAL).exists():
        raise JournalError(f"{directory} already holds a journal: open it with Router.open")
    if any(directory.glob("snapshot-*.pyrs")):
        raise JournalError(f"{directory} holds snapshots of another journal: use an empty "
                           f"directory")
    save = getattr(router, "_snapshot", None)
    if save is None or kw.get("explain"):
        raise errors.InvalidArgument(
            "attach needs a router it can snapshot, and explain=False (a router that "
            "explains is rebuilt by replaying its journal from the start: use Router.open)")
    directory.mkdir(parents=True, exist_ok=True)
    data, digest = config_digest(router.config)
    journal_id = secrets.token_hex(8)
    header = record(_ENC.encode({"format": "pyroute-journal", "version": FORMAT_VERSION,
                                 "config": data, "config_digest": digest,
                                 "engine": router.engine, "journal_id": journal_id,
                                 "base_snapshot": True}))
    snap = record(_ENC.encode({"format": "pyroute-snapshot", "version": FORMAT_VERSION,
                               "config_digest": digest, "commands": 0,
                               "offset": len(header), "engine": router.engine,
                               "journal_id": journal_id, "state": save()}))
    for name, blob in ((f"snapshot-{0:012d}.pyrs", snap), (JOURNAL, header)):
        tmp = directory / (name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
    _fsync_dir(directory)
    return DurableRouter(type(router), directory, router.config, **kw)


def _same_config(head: dict, digest: str) -> bool:
    """Whether the config a journal's header stores is, read by this pyroute, the config
    of ``digest``: a journal written before a config field existed (its header lacks the
    field, so its digest differs) opens with the field at its default."""
    import warnings
    data = head.get("config")
    if not isinstance(data, dict):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return config_digest(data)[1] == digest
    except errors.RoutingError:
        return False
