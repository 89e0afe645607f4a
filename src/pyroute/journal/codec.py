"""What a journal record holds: a command as the MessagePack array ``[code, *arguments]``.

The codes and the argument order are those of :mod:`pyroute.protocol`'s command table
(``Spec.code``, ``Spec.params``), never of an engine's signatures: an ``apply_many`` batch
is one record holding a list of such arrays. The Redis streams carry the same records.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .. import errors, protocol

#: Record codes: ``OPS[code]`` names the Router method of a record. Append only.
OPS: tuple[str, ...] = tuple(s.name for s in protocol.COMMANDS)
#: method name -> the command struct it journals as
METHODS: dict[str, type] = {s.name: s.struct for s in protocol.COMMANDS}
#: method name -> its parameters in record order
PARAMS: dict[str, tuple[str, ...]] = {s.name: s.params for s in protocol.COMMANDS}

ENCODER = msgspec.msgpack.Encoder()
DECODER = msgspec.msgpack.Decoder()
encode = ENCODER.encode

as_record = protocol.record
"""The journal record of a command: ``(code, *arguments)`` in parameter order."""


def from_record(values: Any) -> Any:
    """The Command struct of a decoded journal record."""
    return protocol.from_record(values)


def records_of(payload: bytes) -> list:
    """The command records in one journal record's payload (one, or a batch)."""
    rec = DECODER.decode(payload)
    return rec if rec and isinstance(rec[0], list) else [rec]


def unjournalable(e: Exception) -> errors.InvalidArgument:
    """The error for a command whose arguments MessagePack cannot carry."""
    return errors.InvalidArgument(
        f"this command cannot be journaled ({e}): ids and visitors must be str (valid "
        f"UTF-8) or int from -2**63 to 2**64 - 1, and times finite numbers")
