"""Reading a journal offline: its header and its commands (``pyroute replay`` and tools)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from .codec import DECODER, from_record
from .format import JOURNAL, READABLE_VERSIONS, JournalError, read_records, valid_after


def read_journal(directory: str | os.PathLike) -> tuple[dict, list]:
    """The header and the commands of a journal, read-only (a torn last record is left
    out, not cut). For ``pyroute replay`` and tools."""
    path = Path(directory) / JOURNAL
    try:
        data = path.read_bytes()
    except OSError as e:
        raise JournalError(f"cannot read {path}: {e.strerror}") from None
    recs = list(read_records(data))
    if not recs or recs[0][2] is None:
        raise JournalError(f"{path}: no readable header")
    head = msgspec.msgpack.decode(recs[0][2])
    if not isinstance(head, dict) or head.get("format") != "pyroute-journal":
        raise JournalError(f"{path}: not a pyroute journal")
    if head.get("version") not in READABLE_VERSIONS:
        raise JournalError(f"{path}: journal format version {head.get('version')!r} is not "
                           f"readable by this pyroute")
    bad = [off for off, _, p in recs[1:] if p is None]
    if bad and valid_after(data, bad[0]) is not None:
        raise JournalError(f"{path}: record at byte {bad[0]} is corrupt but records follow "
                           f"it: the journal is damaged in the middle")
    try:
        cmds = []
        for _, _, p in recs[1:]:
            if p is None:
                continue
            rec = DECODER.decode(p)
            cmds += [from_record(r) for r in (rec if rec and isinstance(rec[0], list)
                                              else (rec,))]
    except (msgspec.DecodeError, ValueError, TypeError, IndexError) as e:
        raise JournalError(f"{path}: a record is not a command ({e})") from None
    return head, cmds
