"""Read-only snapshots returned by ``router.operator``, ``router.request``, ``router.stats``."""

from __future__ import annotations

from typing import Optional

import msgspec

from .events import Id

STATUSES = ("offline", "away", "online")
REQUEST_STATES = ("queued", "offered", "active", "finished", "cancelled", "rejected")


class OperatorView(msgspec.Struct, frozen=True):
    id: Id
    status: str
    limit: int
    load: int                 # slots taken
    groups: tuple[str, ...]   # in membership order
    active: tuple[Id, ...]    # conversations held, in the order they were assigned
    wrap_up: int = 0          # slots held in wrap-up after a finish (counted in load)
    channel_limits: dict[str, int] = msgspec.field(default_factory=dict)  # per-channel caps
    skills: dict[str, int] = msgspec.field(default_factory=dict)          # tag -> level 1..5
    levels: dict[str, int] = msgspec.field(default_factory=dict)          # group -> tier (not 1)
    kind: str = "human"       # or "bot"
    reserved_for: Optional[Id] = None  # the waiting conversation it drains for (blending)
    holds: tuple[Id, ...] = ()          # its live holds (Router.hold), in the order placed


class RequestView(msgspec.Struct, frozen=True):
    id: Id
    state: str
    channel: str
    group: str                # its home group: the one it was submitted to, or the last
                              # one it was transferred or escalated to
    priority: int
    operator: Optional[Id]    # who holds (or held) it
    arrived_at: float
    eligible_groups: tuple[str, ...]   # home group first, then in the order overflow added
    category: Optional[str] = None     # set by categorize()
    declined: tuple[Id, ...] = ()      # operators who declined it or let its offer expire
    skills: dict[str, int] = msgspec.field(default_factory=dict)   # required (before relax)
    transfer_to: Optional[Id] = None   # a pending transfer: the operator it moves to when they can
    reserved: Optional[Id] = None      # the operator reserved for it while it waits
    switched_from: Optional[Id] = None   # the conversation the customer left for this one
    switched_to: Optional[Id] = None     # the conversation the customer moved to
    visitor: Optional[Id] = None       # the visitor who submitted it (to ban from it)
    position: Optional[int] = None     # queued: its place in its home group's queue of its
                                       # channel (1: next); else None
    expected_wait: Optional[float] = None   # queued: seconds it is expected to wait still
                                       # (None: nothing to go by); else None


class Outcomes(msgspec.Struct, frozen=True):
    """What happened to conversations since the router started, as defined once in
    docs/semantics.md ("Glossary of outcomes"), the same for the simulator's KPIs.
    Channel and total rows count each conversation once; group and line rows count each
    stay in a group (submitted, transferred or escalated to it) where it was handled."""

    answered: int = 0                        # assigned, or an offer accepted
    mean_wait: Optional[float] = None        # over answered: the wait before the answer, s
    service_level: Optional[float] = None    # answered within target_wait /
                                             # (answered + abandoned + rejected)
    abandoned: int = 0                       # left unanswered, not early, not switched
    cancelled_early: int = 0                 # left unanswered within the channel's early_cancel
    rejected: dict[str, int] = msgspec.field(default_factory=dict)   # by reason (misses)
    switched: int = 0                        # left unanswered for another channel
    submitted: int = 0                       # submits (admitted or not); groups: to the group
    p_abandon: Optional[float] = None        # abandoned / (answered + abandoned)


class ChannelStats(msgspec.Struct, frozen=True):
    waiting: int
    in_progress: int
    online: int       # online operators who can take this channel
    free_slots: int   # free slots of those operators
    outcomes: Outcomes = Outcomes()
    longest_wait: Optional[float] = None   # seconds the longest-waiting one has waited
    over_target: int = 0                   # waiting longer than the channel's target_wait
    mean_wait: Optional[float] = None      # mean seconds waited so far by those waiting
    can_take: int = 0         # more conversations of this channel the online could take now
    bots_online: int = 0      # of ``online``: operators with kind="bot"
    bot_free_slots: int = 0   # of ``free_slots``: the bots'
    bot_can_take: int = 0     # of ``can_take``: the bots'
    categories: dict[str, int] = msgspec.field(default_factory=dict)  # of this channel's
    unresolved: int = 0       # still waiting or in progress at ``at``
    reserved: int = 0   # waiting conversations of the channel with an operator reserved
    held: int = 0       # live holds of this channel (Router.hold): slots kept for arrivals


class GroupStats(msgspec.Struct, frozen=True):
    waiting: int      # conversations in this group's queues (overflowed ones count in each)
    in_progress: int  # conversations assigned through this group
    online: int
    free_slots: int
    outcomes: Outcomes = Outcomes()   # answered through the group; abandoned, rejected by home
    longest_wait: Optional[float] = None
    over_target: int = 0               # in its queues, longer than their channel's target
    mean_wait: Optional[float] = None  # of those in its queues (since their arrival)
    bots_online: int = 0
    bot_free_slots: int = 0
    categories: dict[str, int] = msgspec.field(default_factory=dict)  # submitted to it
    unresolved: int = 0                # waiting in its queues or in progress through it
    reserved: int = 0   # members reserved for a waiting conversation (draining for it)
    held: int = 0       # live holds placed through this group (Router.hold)


class TotalStats(msgspec.Struct, frozen=True):
    waiting: int
    in_progress: int
    online: int
    free_slots: int
    operators: int
    outcomes: Outcomes = Outcomes()
    longest_wait: Optional[float] = None
    over_target: int = 0
    mean_wait: Optional[float] = None
    bots_online: int = 0
    bot_free_slots: int = 0
    unresolved: int = 0
    reserved: int = 0   # operators reserved for a waiting conversation
    held: int = 0       # live holds (Router.hold)


class Stats(msgspec.Struct, frozen=True):
    at: float
    total: TotalStats
    channels: dict[str, ChannelStats]
    groups: dict[str, GroupStats]
    categories: dict[str, int] = msgspec.field(default_factory=dict)  # conversations per category
    lines: dict[int, Outcomes] = msgspec.field(default_factory=dict)  # line -> its groups' sum

class BanView(msgspec.Struct, frozen=True):
    visitor: Id
    since: float              # when the ban was (last) set
    until: Optional[float]    # None: until lifted
    reason: str


class Candidate(msgspec.Struct, frozen=True):
    """One operator looked at by a routing decision (see :class:`Explanation`)."""

    operator: Id
    group: str            # the eligible group it was looked at through
    verdict: str          # "chosen", "eligible", or why it could not take the conversation:
                          # "offline", "away", "wrap_up", "declined", "full", "channel_limit",
                          # "reserved", "tier", "skills", "held" (reserved for
                          # another conversation that ranks above this one)
    free_slots: int       # at the moment of the decision
    detail: str = ""      # the same, for a person


class Explanation(msgspec.Struct, frozen=True):
    """The last routing decision for one conversation, returned by ``router.explain(id)``."""

    request: Id
    at: float
    decision: str         # "assigned", "offered", "queued" or "rejected"
    rule: str             # what decided, see docs/semantics.md ("Explanations")
    reason: str           # one sentence for a person
    operator: Optional[Id] = None   # who got it (assigned, offered)
    group: Optional[str] = None     # the group it went through
    step: Optional[int] = None      # that group's place in eligible_groups: 0 home, 1.. overflow
    policy: Optional[str] = None    # that group's policy
    eligible_groups: tuple[str, ...] = ()
    relaxed: tuple[str, ...] = ()   # skills no longer required at ``at`` (Group.relax)
    candidates: tuple[Candidate, ...] = ()   # members of the eligible groups, in group order
    reserved: Optional[Id] = None   # queued: the operator reserved for it (draining for it)
