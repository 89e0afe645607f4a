"""Durability: a journal of accepted commands, snapshots, recovery and replay.

* :mod:`.format` — framed records (length, CRC-32, payload), torn tails and damage;
* :mod:`.codec` — what a command record holds (the command table's codes and order);
* :mod:`.durable` — :class:`DurableRouter` (``Router.open``) and :func:`attach`;
* :mod:`.replay` — :func:`read_journal`, for ``pyroute replay`` and tools.

See docs/durability.md.
"""

from __future__ import annotations

from .codec import METHODS, OPS, PARAMS, as_record, from_record
from .durable import DurableRouter, Recovery, attach
from .format import (
    CHUNK, FORMAT_VERSION, FSYNC, GARBAGE_LIMIT, JOURNAL, MAX_RECORD, PAGE,
    READABLE_VERSIONS, JournalError, JournalWarning, config_digest, read_records, record,
    valid_after,
)
from .replay import read_journal

__all__ = [
    "DurableRouter", "Recovery", "attach", "read_journal", "JournalError", "JournalWarning",
    "OPS", "METHODS", "PARAMS", "as_record", "from_record", "config_digest", "record",
    "read_records", "valid_after", "JOURNAL", "FORMAT_VERSION", "READABLE_VERSIONS",
    "MAX_RECORD", "CHUNK", "PAGE", "FSYNC", "GARBAGE_LIMIT",
]
