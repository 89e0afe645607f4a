"""The journal's file format: framed records, the torn-tail and damage checks.

A record is ``u32 length | u32 crc32(payload) | payload`` (little-endian). The journal is
a header record and then one record per accepted command (or per ``apply_many`` batch);
a snapshot file is one record. What the payloads hold is :mod:`pyroute.journal.codec`'s
business; docs/durability.md describes both.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
import zlib
from typing import Any, Iterator, Optional

import msgspec

from .. import errors
from ..config import compile_config

JOURNAL = "journal.pyrj"
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)
_HEAD = struct.Struct("<II")
MAX_RECORD = 64 * 1024 * 1024
CHUNK = 16 * 1024 * 1024      # the journal file grows by at least this much at a time
PAGE = mmap.ALLOCATIONGRANULARITY
FSYNC = ("always", "batch", "never")


class JournalError(errors.RoutingError):
    """A journal or snapshot cannot be used: corrupt in the middle, another format, or
    written for another config. The message says which file and what to do."""


class JournalWarning(UserWarning):
    """A torn or corrupt last record was cut off (the command was never acknowledged)."""


# Config fields added after journals were first written, per list of the config, with
# their defaults: at the default they are left out of the digest, so a journal written
# before they existed still opens with its own config (which reads them as the default).
LATER_DEFAULTS = {"channels": {"reserve": True}}


def config_digest(config: Any) -> tuple[dict, str]:
    """The config as builtins (what the header stores) and its SHA-256 digest."""
    cfg = compile_config(config).config
    data = msgspec.to_builtins(cfg)
    hashed = dict(data)
    for key, fields in LATER_DEFAULTS.items():
        hashed[key] = [{k: v for k, v in item.items() if k not in fields or v != fields[k]}
                       for item in data[key]]
    raw = msgspec.json.encode(hashed, order="sorted")
    return data, hashlib.sha256(raw).hexdigest()


def record(payload: bytes) -> bytes:
    """``payload`` framed as a record (length, checksum, payload)."""
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes, start: int = 0) -> Iterator[tuple[int, int, Optional[bytes]]]:
    """(offset, end, payload) for each record from ``start``; payload None for a torn or
    corrupt record (the iteration stops there)."""
    pos, n = start, len(data)
    while pos < n:
        if pos + 8 > n:
            if zero_from(data, pos) > pos:
                yield pos, n, None
            return
        length, crc = _HEAD.unpack_from(data, pos)
        if length == 0 and crc == 0:
            # the zero tail of a file that grows in chunks: the end, if nothing follows
            if zero_from(data, pos) > pos:
                yield pos, n, None
            return
        end = pos + 8 + length
        if length > MAX_RECORD or end > n:
            yield pos, n, None
            return
        payload = data[pos + 8:end]
        if zlib.crc32(payload) != crc:
            yield pos, end, None
            return
        yield pos, end, payload
        pos = end


_ZEROS = bytes(1 << 20)


def zero_from(data: bytes, start: int = 0) -> int:
    """Where the run of zero bytes that ends ``data`` begins (``len(data)`` if the last byte
    is not zero), at or after ``start``. Compares a MiB at a time from the end, so a
    journal's large zero tail costs memcmp time, not a Python loop per byte."""
    end = len(data)
    step = len(_ZEROS)
    while end - start >= step and data[end - step:end] == _ZEROS:
        end -= step
    lo = max(start, end - step)     # the last, partly zero, MiB
    return lo + len(data[lo:end].rstrip(b"\x00"))


GARBAGE_LIMIT = 1 << 20   # non-zero bytes after a bad record that can still be a torn tail


def valid_after(data: bytes, start: int) -> Optional[int]:
    """The offset of a valid command record anywhere after ``start`` (checksum and
    MessagePack both good), or None. After a crash, only zeros follow the record that was
    being written; a valid record after a bad one means the journal is damaged.

    A valid record may itself end in zero bytes (a Submit's last argument is often 0.0):
    records are looked for at every offset before the zero tail, and each may reach into
    it, so an intact last record is never mistaken for the tail."""
    n = len(data)
    stop = zero_from(data, start)
    if stop - start > GARBAGE_LIMIT:
        return start
    head = _HEAD.unpack_from
    for p in range(start + 1, min(stop, n - 8)):
        length, crc = head(data, p)
        if 0 < length <= n - p - 8 and zlib.crc32(data[p + 8:p + 8 + length]) == crc:
            try:
                rec = msgspec.msgpack.decode(data[p + 8:p + 8 + length])
            except (msgspec.DecodeError, RecursionError):
                continue
            if isinstance(rec, list) and rec and isinstance(rec[0], (int, list)):
                return p
    return None
