"""The wire format: commands and events as JSON or MessagePack, and their JSON Schema.

Commands and events are tagged msgspec Structs, so each encodes as an object with a
``"type"`` field (``{"type": "Submit", "request": "c1", ...}``). A message may carry one
command, a list of them, or an envelope ``{"type": "Batch", "version": 1, "commands":
[...]}``; the version
is the wire format's (``WIRE_VERSION``), shared with the journal's records. ``pyroute
schema`` prints :func:`schema`.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

from . import errors
from .commands import Command
from .events import Event

WIRE_VERSION = 1
FORMATS = ("json", "msgpack")


class Envelope(msgspec.Struct, tag_field="type", tag="Batch", forbid_unknown_fields=True):
    """A batch of commands with the wire format's version:
    ``{"type": "Batch", "version": 1, "commands": [...]}``."""

    commands: list[Command]
    version: int = WIRE_VERSION


class EventEnvelope(msgspec.Struct, tag_field="type", tag="Events"):
    """``{"type": "Events", "version": 1, "events": [...]}``."""

    events: list[Event]
    version: int = WIRE_VERSION


_Message = Union[Envelope, list[Command], Command]
_DEC = {"json": msgspec.json.Decoder(_Message), "msgpack": msgspec.msgpack.Decoder(_Message)}
_ENC = {"json": msgspec.json.Encoder(), "msgpack": msgspec.msgpack.Encoder()}


def _fmt(format: str) -> str:
    if format not in FORMATS:
        raise errors.InvalidArgument(f"format must be 'json' or 'msgpack', got {format!r}")
    return format


def decode_commands(data: bytes | str, format: str = "json") -> list:
    """The commands of a message (one command, a list, or an envelope). Raises
    InvalidArgument naming the field path when the message is not valid, and for an
    envelope of a version this pyroute does not read."""
    try:
        msg = _DEC[_fmt(format)].decode(data)
    except msgspec.ValidationError as e:
        raise errors.InvalidArgument(f"invalid command message: {e}") from None
    except msgspec.DecodeError as e:
        raise errors.InvalidArgument(f"not valid {format}: {e}") from None
    if isinstance(msg, Envelope):
        if msg.version != WIRE_VERSION:
            raise errors.InvalidArgument(
                f"wire format version {msg.version} is not readable by this pyroute "
                f"(it reads {WIRE_VERSION})")
        return msg.commands
    return msg if isinstance(msg, list) else [msg]


def encode_commands(cmds: list, format: str = "json") -> bytes:
    return _ENC[_fmt(format)].encode(Envelope(list(cmds)))


def encode_events(events: list, format: str = "json") -> bytes:
    """Events as ``{"events": [...], "version": 1}``."""
    return _ENC[_fmt(format)].encode(EventEnvelope(list(events)))


def decode_events(data: bytes | str, format: str = "json") -> list:
    dec = msgspec.json if _fmt(format) == "json" else msgspec.msgpack
    try:
        return dec.decode(data, type=EventEnvelope).events
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise errors.InvalidArgument(f"invalid event message: {e}") from None


def schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of command messages and event messages."""
    (cmd, ev), defs = msgspec.json.schema_components([_Message, EventEnvelope],
                                                      ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"pyroute wire format, version {WIRE_VERSION}",
        "version": WIRE_VERSION,
        "$defs": defs,
        "properties": {"command_message": cmd, "event_message": ev},
    }
