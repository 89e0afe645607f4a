"""Events: what the router tells its host. Every mutating call returns a list of them.

Events are frozen, tagged msgspec Structs, so they encode to JSON and MessagePack as they
are (``msgspec.json.encode(event)`` gives ``{"type": "Assigned", ...}``). Each carries the
conversation (``request``) or, for :class:`StatusChanged`, the ``operator``, and ``at``:
the time it happened — the call's ``now``, or a timer's due time for what a timer caused.
"""

from __future__ import annotations

from typing import Optional, Union

import msgspec

Id = Union[str, int]


class _Event(msgspec.Struct, frozen=True, tag_field="type", tag=True, gc=False):
    pass


class Assigned(_Event, frozen=True, tag=True):
    """``request`` went to ``operator`` through ``group``; it waited ``waited`` seconds."""

    request: Id
    operator: Id
    group: str
    channel: str
    at: float
    waited: float


class Offered(_Event, frozen=True, tag=True):
    """``request`` is offered to ``operator`` (who holds a slot for it) until
    ``expires_at``: ``accept`` makes it active, ``decline`` or the timeout sends it on."""

    request: Id
    operator: Id
    group: str
    channel: str
    at: float
    expires_at: float


class Accepted(_Event, frozen=True, tag=True):
    """``operator`` accepted the offer of ``request``; the customer waited ``waited``."""

    request: Id
    operator: Id
    at: float
    waited: float


class OfferExpired(_Event, frozen=True, tag=True):
    """``operator`` let the offer of ``request`` expire; it goes to someone else."""

    request: Id
    operator: Id
    at: float


class Queued(_Event, frozen=True, tag=True):
    """Nobody eligible had room: ``request`` waits (its home ``group`` and ``channel``).
    ``position``: its place in that group's queue of the channel (1: next).
    ``expected_wait``: the seconds it is expected to wait, from what the queue has seen
    (docs/semantics.md "Expected wait"); None while there is nothing to go by (no
    conversation of the queue served yet, or nobody of the group online)."""

    request: Id
    group: str
    channel: str
    at: float
    position: int = 0
    expected_wait: Optional[float] = None


class Overflowed(_Event, frozen=True, tag=True):
    """A rule of ``group`` made the waiting ``request`` eligible for the groups ``to``.

    ``reason`` is ``"after"``, ``"no_operators"`` or ``"queue_over"``.
    """

    request: Id
    group: str
    to: tuple[str, ...]
    reason: str
    at: float


class Finished(_Event, frozen=True, tag=True):
    """``operator`` finished ``request``; its slot is free."""

    request: Id
    operator: Id
    at: float


class Cancelled(_Event, frozen=True, tag=True):
    """The conversation ended unanswered, or the customer left an answered one.
    ``waited``: seconds since it last started waiting (its arrival, or the moment an
    answered conversation went back to a queue), up to now, or up to its answer if it was
    answered: the ``waited`` of its ``Assigned``/``Accepted``.

    ``early``: the customer left sooner than the channel's ``early_cancel`` after arrival
    (only for ``reason="customer"``). ``reason``: ``"customer"`` (the customer left:
    ``cancel``), ``"switched"`` (the customer took another channel: ``cancel(...,
    switched_to=new)``) or ``"banned"`` (the visitor was banned while it waited; counted
    as ``rejected["banned"]``, never abandoned or early).
    """

    request: Id
    at: float
    waited: float
    early: bool
    reason: str = "customer"


class Rejected(_Event, frozen=True, tag=True):
    """``request`` was not admitted at submit, and is kept in history (its id stays
    taken). ``reason``, checked in this order: ``"banned"`` (the visitor is banned),
    ``"hidden"`` (a hidden group takes only transfers and escalations), ``"channel"`` (the
    group does not take the conversation's channel, ``Group.channels``), ``"overloaded"``
    (the group's ``max_queue`` is reached for the channel and nobody could answer it now).
    See docs/semantics.md, "Admission control and bans"."""

    request: Id
    at: float
    reason: str


class Transferred(_Event, frozen=True, tag=True):
    """``request`` was transferred (or escalated) from ``from_operator`` (None if it was
    waiting) to ``group``, and to ``operator`` if one was named. What happens next (a new
    routing decision) follows as its own events."""

    request: Id
    at: float
    from_operator: Optional[Id]
    group: str
    operator: Optional[Id]
    escalated: bool


class TransferFailed(_Event, frozen=True, tag=True):
    """A transfer of ``request`` to ``operator`` did not happen: the conversation stays with
    ``from_operator`` (None if it was waiting). ``reason``: ``"timeout"`` (the operator
    could not take it within the group's ``transfer_timeout``), ``"unavailable"`` (the
    operator left online or was removed), ``"busy"`` (``if_busy="refuse"`` and the
    operator was full when the call's timers had fired), ``"withdrawn"`` (a transfer back
    to ``from_operator``, who has it, replaced the pending one)."""

    request: Id
    at: float
    operator: Id
    from_operator: Optional[Id]
    reason: str


class RetentionDue(_Event, frozen=True, tag=True):
    """``request`` has waited long enough for a retention step of its channel: the host
    should take ``action`` (``"hold_message"``, ``"offer_callback"``, ...). Fires once per
    step while the conversation waits for its first answer."""

    request: Id
    action: str
    at: float


class StatusChanged(_Event, frozen=True, tag=True):
    """``operator`` is now ``status``; ``reason`` is empty when the host asked for it."""

    operator: Id
    status: str
    at: float
    reason: str = ""


class Held(_Event, frozen=True, tag=True):
    """Hold ``hold`` keeps one ``channel`` conversation's worth of ``operator``'s slots
    (asked through ``group``) until ``until``, for a conversation the host is placing
    itself: ``release_hold`` once it has arrived (submitted preferring the operator), or
    the hold ends by itself at ``until``."""

    hold: Id
    operator: Id
    group: str
    channel: str
    at: float
    until: float


class HoldEnded(_Event, frozen=True, tag=True):
    """Hold ``hold`` on ``operator`` ended: ``reason`` is ``"released"``
    (``release_hold``), ``"expired"`` (its ``until`` came), ``"offline"`` (the operator
    left online) or ``"removed"``. Its slots are free again."""

    hold: Id
    operator: Id
    at: float
    reason: str


class HoldRefused(_Event, frozen=True, tag=True):
    """Nobody in ``group`` could take a ``channel`` conversation now (``pick`` names
    nobody): no hold was placed, and the id ``hold`` is not taken."""

    hold: Id
    group: str
    channel: str
    at: float


Event = Union[Assigned, Offered, Accepted, OfferExpired, Queued, Overflowed, Finished,
              Cancelled, Rejected, Transferred, RetentionDue, StatusChanged, TransferFailed,
              Held, HoldEnded, HoldRefused]
EVENT_TYPES = (Assigned, Offered, Accepted, OfferExpired, Queued, Overflowed, Finished,
               Cancelled, Rejected, Transferred, RetentionDue, StatusChanged, TransferFailed,
               Held, HoldEnded, HoldRefused)
