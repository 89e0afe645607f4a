"""Packed batches: commands in and events out as fixed-size binary records, ids as int64.

``router.apply_packed(data)`` is ``apply_many`` for a host that speaks binary (a worker in
another language, the simulator): ``data`` holds :data:`COMMAND` records, the answer holds
:data:`EVENT` records. Nothing is lost on the way: an event the fixed record cannot carry
(any type but the hot seven, or one whose ids are not ints) travels as an *other* record,
the event's MessagePack (``msgspec.msgpack.encode(event)``) after its header. See
docs/packed.md for the layout, field by field.

This module is the format's one definition: the native engine writes the same bytes in C
(bindings/packing.pyx), and the reference engine, the durable router and the explaining
router answer through :func:`apply`, here. :func:`encode_commands` and
:func:`decode_events` are for hosts and tests.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Iterator, Optional

import msgspec

from . import errors
from ._common import CANCEL_REASONS, REJECT_REASONS
from .commands import Accept, Advance, Cancel, Escalate, Finish, Submit, Transfer
from .events import (Accepted, Assigned, Cancelled, Event, Finished, Offered, Queued,
                     Rejected)

#: A command: op, (pad), channel, group, (pad), priority, (pad), request, now. 32 bytes.
COMMAND = struct.Struct("<BxHHxxi4xqd")
#: An event: type, code, channel, group, (pad), aux, (pad), request, operator, at, value.
#: 48 bytes.
EVENT = struct.Struct("<BBhhxxi4xqqdd")

SUBMIT, FINISH, CANCEL, ADVANCE, ESCALATE, TRANSFER, ACCEPT = range(1, 8)
#: op code -> the command it stands for
OPS = {SUBMIT: Submit, FINISH: Finish, CANCEL: Cancel, ADVANCE: Advance,
       ESCALATE: Escalate, TRANSFER: Transfer, ACCEPT: Accept}

_CODE = {cmd: op for op, cmd in OPS.items()}

ASSIGNED, QUEUED, FINISHED, CANCELLED, REJECTED, OFFERED, ACCEPTED = range(1, 8)
OTHER = 255
INT64 = (-(1 << 63), (1 << 63) - 1)

_MSGPACK = msgspec.msgpack.Encoder()
_EVENTS = msgspec.msgpack.Decoder(Event)


def _names(config: Any) -> tuple[list[str], list[str]]:
    return [c.name for c in config.channels], [g.name for g in config.groups]


def _now(x: float) -> Optional[float]:
    return None if math.isnan(x) else x


# ---------------------------------------------------------------------- commands
def whole(data: Any) -> bytes:
    """``data`` (bytes or any buffer) as bytes of whole command records: a copy of a
    buffer, so that nothing can change it while it is applied. Raises InvalidArgument,
    before anything is applied, when it is not whole records."""
    if type(data) is not bytes:
        try:
            data = memoryview(data).cast("B").tobytes()
        except (TypeError, ValueError):
            raise errors.InvalidArgument(
                f"apply_packed takes bytes of {COMMAND.size}-byte command records, got "
                f"{type(data).__name__}") from None
    if len(data) % COMMAND.size:
        raise errors.InvalidArgument(
            f"apply_packed takes whole {COMMAND.size}-byte command records: got "
            f"{len(data)} bytes, {len(data) % COMMAND.size} past the last whole record")
    return data


def records(data: Any) -> list[tuple]:
    """The command records of ``data``, unpacked (:func:`whole` checks them)."""
    return list(COMMAND.iter_unpack(whole(data)))


def refused(op: int, channel: int, group: int, channels: list, groups: list
            ) -> Optional[errors.RoutingError]:
    """Why a command record names nothing the router knows (None when it is sound): the
    same error from both engines."""
    if op not in OPS:
        return errors.InvalidArgument(
            f"unknown packed op code {op}: 1 Submit, 2 Finish, 3 Cancel, 4 Advance, "
            f"5 Escalate, 6 Transfer, 7 Accept")
    if op == SUBMIT and channel >= len(channels):
        return errors.UnknownId(f"channel index {channel}: the config has {len(channels)} "
                                f"channels (0 to {len(channels) - 1})")
    if op in (SUBMIT, TRANSFER) and group >= len(groups):
        return errors.UnknownId(f"group index {group}: the config has {len(groups)} groups "
                                f"(0 to {len(groups) - 1})")
    return None


def command(rec: tuple, channels: list, groups: list) -> Any:
    """One unpacked record as its Command struct; raises what :func:`refused` says."""
    op, ch, g, prio, rid, now = rec
    bad = refused(op, ch, g, channels, groups)
    if bad is not None:
        raise bad
    t = _now(now)
    if op == SUBMIT:
        return Submit(request=rid, channel=channels[ch], group=groups[g], priority=prio,
                      now=t)
    if op == ADVANCE:
        return Advance(now=t)
    if op == TRANSFER:
        return Transfer(request=rid, group=groups[g], now=t)
    return OPS[op](request=rid, now=t)


def decode_commands(data: Any, config: Any) -> list:
    """The Command structs of packed ``data`` for a router of ``config``."""
    channels, groups = _names(config)
    return [command(rec, channels, groups) for rec in records(data)]


def encode_commands(cmds: Any, config: Any) -> bytes:
    """Commands as packed records. Packed commands carry int64 conversation ids and the
    common arguments only: a Submit with a visitor, skills or ``prefer``, a Cancel that
    switched, a Transfer to an operator or an Accept naming one is refused
    (InvalidArgument): send it through ``apply_many``."""
    channels, groups = _names(config)
    ci = {n: i for i, n in enumerate(channels)}
    gi = {n: i for i, n in enumerate(groups)}
    out = bytearray()
    for cmd in cmds:
        tp = type(cmd)
        now = _packed_now(cmd.now)
        if tp is Advance:
            out += COMMAND.pack(ADVANCE, 0, 0, 0, 0, now)
            continue
        if tp not in _CODE:
            raise errors.InvalidArgument(
                f"{tp.__name__} has no packed form (Submit, Finish, Cancel, Advance, "
                f"Escalate, Transfer to a group, Accept): use apply_many")
        rid = cmd.request
        if type(rid) is not int or not INT64[0] <= rid <= INT64[1]:
            raise errors.InvalidArgument(
                f"packed commands name conversations by int64 ids, got {rid!r}")
        if tp is Submit:
            if (cmd.visitor is not None or cmd.skills is not None or cmd.prefer is not None
                    or cmd.prefer_for):
                raise errors.InvalidArgument(
                    "a packed Submit has no visitor, skills or prefer: use apply_many")
            if cmd.channel not in ci:
                raise errors.unknown("channel", cmd.channel, ci)
            if cmd.group not in gi:
                raise errors.unknown("group", cmd.group, gi)
            if type(cmd.priority) is not int or not -(1 << 31) <= cmd.priority < (1 << 31):
                raise errors.InvalidArgument(f"priority must be an int32, got {cmd.priority!r}")
            out += COMMAND.pack(SUBMIT, ci[cmd.channel], gi[cmd.group], cmd.priority, rid, now)
        elif tp is Transfer:
            if cmd.operator is not None or cmd.if_busy != "wait" or cmd.group not in gi:
                raise errors.InvalidArgument(
                    "a packed Transfer goes to a group of the config (no operator, "
                    "if_busy='wait'): use apply_many")
            out += COMMAND.pack(TRANSFER, 0, gi[cmd.group], 0, rid, now)
        elif (tp is Cancel and cmd.switched_to is not None) or (
                tp is Accept and cmd.operator is not None):
            raise errors.InvalidArgument(
                f"a packed {tp.__name__} names no other conversation or operator: use "
                f"apply_many")
        else:
            out += COMMAND.pack(_CODE[tp], 0, 0, 0, rid, now)
    return bytes(out)


def _packed_now(now: Any) -> float:
    """A command's ``now`` as its record holds it: NaN for None (the router's clock)."""
    if now is None:
        return math.nan
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise errors.InvalidArgument(f"now must be a number of seconds or None, got {now!r}")
    t = float(now)
    if math.isnan(t):
        raise errors.InvalidArgument(
            "now is NaN: a packed record's NaN means the router's clock; pass None for that")
    return t


# ---------------------------------------------------------------------- events
def _int64(x: Any) -> bool:
    return type(x) is int and INT64[0] <= x <= INT64[1]


def encode_events(events: list, config: Any) -> bytes:
    """Events as packed records (what ``apply_packed`` returns)."""
    channels, groups = _names(config)
    ci = {n: i for i, n in enumerate(channels)}
    gi = {n: i for i, n in enumerate(groups)}
    out = bytearray()
    pack = EVENT.pack
    for ev in events:
        tp = type(ev)
        if tp is Assigned and _int64(ev.request) and _int64(ev.operator):
            out += pack(ASSIGNED, 0, ci[ev.channel], gi[ev.group], 0, ev.request, ev.operator,
                        ev.at, ev.waited)
        elif tp is Queued and _int64(ev.request):
            out += pack(QUEUED, 0, ci[ev.channel], gi[ev.group], ev.position, ev.request, 0,
                        ev.at, math.nan if ev.expected_wait is None else ev.expected_wait)
        elif tp is Finished and _int64(ev.request) and _int64(ev.operator):
            out += pack(FINISHED, 0, -1, -1, 0, ev.request, ev.operator, ev.at, 0.0)
        elif tp is Cancelled and _int64(ev.request):
            out += pack(CANCELLED, CANCEL_REASONS.index(ev.reason), -1, -1, int(ev.early),
                        ev.request, 0, ev.at, ev.waited)
        elif tp is Rejected and _int64(ev.request):
            out += pack(REJECTED, REJECT_REASONS.index(ev.reason), -1, -1, 0, ev.request, 0,
                        ev.at, 0.0)
        elif tp is Offered and _int64(ev.request) and _int64(ev.operator):
            out += pack(OFFERED, 0, ci[ev.channel], gi[ev.group], 0, ev.request, ev.operator,
                        ev.at, ev.expires_at)
        elif tp is Accepted and _int64(ev.request) and _int64(ev.operator):
            out += pack(ACCEPTED, 0, -1, -1, 0, ev.request, ev.operator, ev.at, ev.waited)
        else:
            out += other(ev)
    return bytes(out)


def other(ev: Any) -> bytes:
    """An event as an *other* record: the header (``aux`` the payload's length), then the
    event's MessagePack, zero-padded to a multiple of 8 bytes. An id MessagePack cannot
    hold (an int past 64 bits, a str with a lone surrogate: the methods accept both) is
    not lost: the payload is then the event in the wide form (``code`` 1, :func:`_wide`)."""
    code = 0
    try:
        body = _MSGPACK.encode(ev)
    except (OverflowError, UnicodeEncodeError):
        code = 1
        body = _MSGPACK.encode([type(ev).__name__,
                                [_wide(getattr(ev, f)) for f in ev.__struct_fields__]])
    return (EVENT.pack(OTHER, code, -1, -1, len(body), 0, 0, 0.0, 0.0) + body
            + bytes(-len(body) % 8))


def _wide(x: Any) -> Any:
    """A field of an event as MessagePack can hold it: in the wide form every array is a
    tag, ``["int", decimal]``, ``["str", utf-8 with surrogates]`` or ``["tuple", items]``."""
    if type(x) is int and not INT64[0] <= x < 2**64:
        return ["int", str(x)]
    if type(x) is str:
        try:
            x.encode()
        except UnicodeEncodeError:
            return ["str", x.encode("utf-8", "surrogatepass")]
        return x
    if type(x) is tuple:
        return ["tuple", [_wide(v) for v in x]]
    return x


def _narrow(x: Any) -> Any:
    if type(x) is not list:
        return x
    tag, v = x
    if tag == "int":
        return int(v)
    if tag == "str":
        return v.decode("utf-8", "surrogatepass")
    return tuple(_narrow(i) for i in v)


_EVENT_TYPES = {t.__name__: t for t in Event.__args__}  # type: ignore[attr-defined]


def other_event(payload: Any, code: int = 0) -> Any:
    """The event of an *other* record's payload (its ``aux`` bytes after the header);
    ``code`` is the record's (1: the wide form)."""
    if code == 1:
        name, fields = msgspec.msgpack.decode(payload)
        return _EVENT_TYPES[name](*[_narrow(f) for f in fields])
    return _EVENTS.decode(payload)


def iter_events(data: Any, config: Any) -> Iterator[Any]:
    channels, groups = _names(config)
    view = memoryview(data).cast("B")
    i, n = 0, len(view)
    while i < n:
        tp, code, ch, g, aux, rid, op, at, value = EVENT.unpack_from(view, i)
        i += EVENT.size
        if tp == ASSIGNED:
            yield Assigned(rid, op, groups[g], channels[ch], at, value)
        elif tp == QUEUED:
            yield Queued(rid, groups[g], channels[ch], at, aux, _now(value))
        elif tp == FINISHED:
            yield Finished(rid, op, at)
        elif tp == CANCELLED:
            yield Cancelled(rid, at, value, bool(aux), CANCEL_REASONS[code])
        elif tp == REJECTED:
            yield Rejected(rid, at, REJECT_REASONS[code])
        elif tp == OFFERED:
            yield Offered(rid, op, groups[g], channels[ch], at, value)
        elif tp == ACCEPTED:
            yield Accepted(rid, op, at, value)
        elif tp == OTHER:
            yield other_event(view[i:i + aux], code)
            i += aux + (-aux % 8)
        else:
            raise ValueError(f"not a packed event record (type {tp} at byte {i - EVENT.size})")


def decode_events(data: Any, config: Any) -> list:
    """The events of packed ``data`` (what ``apply_packed`` returned) as event Structs."""
    return list(iter_events(data, config))


# ---------------------------------------------------------------------- applying
def apply(router: Any, data: Any) -> bytes:
    """``apply_packed`` through ``router.apply_many``: for the reference engine and the
    wrappers (the durable router journals the batch as it journals ``apply_many``). A
    record that names nothing known fails as the command at its place would: the ones
    before it stay applied (BatchError with their events)."""
    config = router.config
    channels, groups = _names(config)
    cmds: list = []
    bad: Optional[tuple[int, errors.RoutingError]] = None
    for i, rec in enumerate(records(data)):
        try:
            cmds.append(command(rec, channels, groups))
        except errors.RoutingError as e:
            bad = (i, e)
            break
    out = router.apply_many(cmds)
    if bad is not None:
        raise errors.BatchError(bad[0], bad[1], out) from bad[1]
    return encode_events(out, config)
