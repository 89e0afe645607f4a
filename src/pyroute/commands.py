"""Commands: the router's methods as data, for ``router.apply`` and ``apply_many``.

Each struct is a row of the command table in :mod:`pyroute.protocol` (its method, journal
code and parameter order, service role).

Frozen, tagged msgspec Structs (``{"type": "Submit", ...}`` in JSON). ``now=None`` means
the router's clock.
"""

from __future__ import annotations

from typing import Optional, Union

import msgspec

from .events import Id


class _Command(msgspec.Struct, frozen=True, tag_field="type", tag=True, kw_only=True, gc=False,
               forbid_unknown_fields=True):
    pass


class Submit(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    channel: str
    group: str
    priority: int = 0
    visitor: Optional[Id] = None
    now: Optional[float] = None
    skills: Optional[dict[str, int]] = None
    prefer: Optional[Id] = None
    prefer_for: float = 0.0


class Finish(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    now: Optional[float] = None


class Cancel(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    now: Optional[float] = None
    switched_to: Optional[Id] = None


class AddOperator(_Command, frozen=True, tag=True, kw_only=True):
    operator: Id
    groups: tuple[str, ...]
    limit: int
    status: str = "offline"
    channel_limits: Optional[dict[str, int]] = None
    skills: Optional[dict[str, int]] = None
    levels: Optional[dict[str, int]] = None
    kind: str = "human"
    now: Optional[float] = None


class RemoveOperator(_Command, frozen=True, tag=True, kw_only=True):
    operator: Id
    requeue: bool = False
    now: Optional[float] = None


class SetStatus(_Command, frozen=True, tag=True, kw_only=True):
    operator: Id
    status: str
    requeue: bool = False
    now: Optional[float] = None


class SetGroups(_Command, frozen=True, tag=True, kw_only=True):
    operator: Id
    groups: tuple[str, ...]
    now: Optional[float] = None


class SetLimit(_Command, frozen=True, tag=True, kw_only=True):
    operator: Id
    limit: int
    now: Optional[float] = None


class Ban(_Command, frozen=True, tag=True, kw_only=True):
    visitor: Id
    until: Optional[float] = None
    reason: str = ""
    now: Optional[float] = None
    cancel_waiting: bool = True


class Unban(_Command, frozen=True, tag=True, kw_only=True):
    visitor: Id
    now: Optional[float] = None


class Transfer(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    group: Optional[str] = None
    operator: Optional[Id] = None
    now: Optional[float] = None
    if_busy: str = "wait"       # the operator cannot take it now: "wait" or "refuse"


class Escalate(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    now: Optional[float] = None


class Accept(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    operator: Optional[Id] = None
    now: Optional[float] = None


class Decline(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    operator: Optional[Id] = None
    now: Optional[float] = None


class Categorize(_Command, frozen=True, tag=True, kw_only=True):
    request: Id
    name: str
    now: Optional[float] = None


class Advance(_Command, frozen=True, tag=True, kw_only=True):
    now: Optional[float] = None


class Hold(_Command, frozen=True, tag=True, kw_only=True):
    group: str
    channel: str
    hold: Id
    seconds: float
    exclude: Optional[Id] = None
    now: Optional[float] = None


class ReleaseHold(_Command, frozen=True, tag=True, kw_only=True):
    hold: Id
    now: Optional[float] = None


Command = Union[Submit, Finish, Cancel, AddOperator, RemoveOperator, SetStatus, SetGroups,
                SetLimit, Transfer, Escalate, Accept, Decline, Ban, Unban, Categorize, Advance,
                Hold, ReleaseHold]
# The command table (codes, journal order, roles) is pyroute.protocol; a test checks that
# this union holds exactly its structs.
