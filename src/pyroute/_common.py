"""What both engines share, where the routing semantics are not at stake: the seeded
generator of the ``random`` policy, argument checks and their messages (the native binding
tests the common cases in C and calls these for the rest and for the message), the
outcome rows and the assembly of ``stats()``, bans and categories."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from . import errors, statecodec
from .config import MAX_LIMIT, PRIORITY_LIMIT
from .events import EVENT_TYPES
from .views import STATUSES

if TYPE_CHECKING:
    from .views import Outcomes, Stats

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
RNG_STREAM = 0x632BE59BD9B4E019


def rng_init(seed: int, group: int) -> int:
    """Initial state of group ``group``'s stream for the ``random`` policy."""
    return (seed + RNG_STREAM * (group + 1)) & M64


def rng_next(state: int) -> tuple[int, float]:
    """splitmix64: returns the new state and a draw as an exact double in [0, 2**53)."""
    state = (state + GOLDEN) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    return state, float(z >> 11)


def check_id(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise errors._id_problem(what, value)


def exact_id(what: str, value: Any) -> Any:
    """A new id as a plain str or int (both engines keep these): a subclass is copied to
    its base type, so its own ``__hash__``/``__eq__`` never run once state has changed."""
    if type(value) is str or type(value) is int:
        return value
    check_id(what, value)
    return str.__str__(value) if isinstance(value, str) else int.__index__(value)


def check_now(now: object, last: float) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise errors.bad_time(now, last)
    try:
        t = float(now)
    except OverflowError:
        raise errors.bad_time(float("inf"), last) from None
    if not math.isfinite(t) or t < last:
        raise errors.bad_time(now, last)
    return t


def check_int(what: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an int from ``lo`` to ``hi``; InvalidArgument naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.InvalidArgument(
            f"{what} must be an int, got {type(value).__name__} {value!r}")
    if value < lo or value > hi:
        raise errors.InvalidArgument(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def check_limit(limit: object) -> int:
    return check_int("limit", limit, 0, MAX_LIMIT)


def check_priority(priority: object) -> int:
    return check_int("priority", priority, -PRIORITY_LIMIT, PRIORITY_LIMIT)


def check_channel_limits(limits: object, index: dict[str, int]) -> list[int]:
    """``{"email": 2}`` -> a cap per channel index (-1: none)."""
    caps = [-1] * len(index)
    if limits is None:
        return caps
    if not isinstance(limits, dict):
        raise errors.InvalidArgument(
            f"channel_limits must be a dict of channel name to a number of conversations, "
            f"got {type(limits).__name__} {limits!r}")
    for name, n in limits.items():
        ci = index.get(name) if isinstance(name, str) else None
        if ci is None:
            raise errors.unknown("channel", name, index)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_LIMIT:
            raise errors.InvalidArgument(
                f"channel_limits[{name!r}] must be an int between 0 and {MAX_LIMIT}, got {n!r}")
        caps[ci] = n
    return caps


class SkillTags:
    """Skill names -> bit positions (at most 64 per router), shared by both engines.
    Names are registered in the order first seen: config relax rules, then calls."""

    __slots__ = ("index", "names")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def check(self, skills: object, what: str) -> list:
        """Validate ``{"en": 2}``; returns [(name, level)] without registering anything."""
        from .config import MAX_LEVEL, MAX_SKILLS
        if skills is None:
            return []
        if not isinstance(skills, dict):
            raise errors.InvalidArgument(
                f"{what} must be a dict of skill name to level, got {type(skills).__name__} "
                f"{skills!r}")
        out = []
        new = 0
        for name, level in skills.items():
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                raise errors.InvalidArgument(
                    f"skill names are non-empty str of at most 100 characters, got {name!r}")
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
                raise errors.InvalidArgument(
                    f"{what}[{name!r}] must be a level from 1 to {MAX_LEVEL}, got {level!r}")
            if name not in self.index:
                new += 1
            out.append((name, level))
        if len(self.names) + new > MAX_SKILLS:
            raise errors.InvalidArgument(
                f"at most {MAX_SKILLS} distinct skills per router; {what} would add {new} to "
                f"the {len(self.names)} in use")
        return out

    def register(self, pairs: list) -> dict[int, int]:
        out = {}
        for name, level in pairs:
            i = self.index.get(name)
            if i is None:
                i = self.index[name] = len(self.names)
                self.names.append(name)
            out[i] = level
        return out


def check_levels(levels: object, groups: list[int], index: dict[str, int]) -> dict[int, int]:
    """``{"tier2": 2}`` for groups the operator belongs to -> {group index: level}."""
    from .config import MAX_LEVEL
    if levels is None:
        return {}
    if not isinstance(levels, dict):
        raise errors.InvalidArgument(
            f"levels must be a dict of group name to level, got {type(levels).__name__} "
            f"{levels!r}")
    out = {}
    for name, level in levels.items():
        gi = index.get(name) if isinstance(name, str) else None
        if gi is None:
            raise errors.unknown("group", name, index)
        if gi not in groups:
            raise errors.InvalidArgument(
                f"levels names group {name!r}, which the operator is not in; add it to groups")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
            raise errors.InvalidArgument(
                f"levels[{name!r}] must be a level from 1 to {MAX_LEVEL}, got {level!r}")
        out[gi] = level
    return out


def check_status(status: object) -> int:
    if isinstance(status, str) and status in STATUSES:
        return STATUSES.index(status)
    raise errors.InvalidArgument(
        f"status must be one of {', '.join(map(repr, STATUSES))}, got {status!r}")


def check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise errors.InvalidArgument(f"{name} must be True or False, got {value!r}")
    return value


def check_groups(groups: object, index: dict[str, int]) -> list[int]:
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (list, tuple)):
        raise errors.InvalidArgument(
            f"groups must be a list of group names, got {type(groups).__name__} {groups!r}")
    out: list[int] = []
    for g in groups:
        if not isinstance(g, str):
            raise errors.InvalidArgument(f"group names are str, got {type(g).__name__} {g!r}")
        gi = index.get(g)
        if gi is None:
            raise errors.unknown("group", g, index)
        if gi in out:
            raise errors.InvalidArgument(f"group {g!r} is listed twice in groups")
        out.append(gi)
    return out


def check_prefer_for(prefer_for: object) -> float:
    if (isinstance(prefer_for, bool) or not isinstance(prefer_for, (int, float))
            or not 0 <= prefer_for <= 1e9):
        raise errors.InvalidArgument(
            f"prefer_for must be a number of seconds from 0 to 1e9, got {prefer_for!r}")
    return float(prefer_for)


def check_hold_seconds(seconds: object) -> float:
    """A hold's length: a finite number of seconds > 0 (at most 1e9)."""
    if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
            or not 0 < seconds <= 1e9):
        raise errors.InvalidArgument(
            f"a hold's seconds must be a number greater than 0 and at most 1e9, "
            f"got {seconds!r}")
    return float(seconds)


#: why a hold ended (HoldEnded.reason), in the native core's code order
HOLD_REASONS = ("released", "expired", "offline", "removed")

KINDS = ("human", "bot")


def check_kind(kind: object) -> int:
    if isinstance(kind, str) and kind in KINDS:
        return KINDS.index(kind)
    raise errors.InvalidArgument(f"kind must be 'human' or 'bot', got {kind!r}")


def check_visitor(visitor: object) -> None:
    if visitor is not None and (isinstance(visitor, bool) or not isinstance(visitor, (str, int))):
        raise errors.InvalidArgument(
            f"visitor must be a str, an int or None, got {type(visitor).__name__} {visitor!r}")


def channel_refused(cc: Any, request: object, ch: int, g: Optional[int], verb: str,
                    operator: object = None) -> str:
    """The InvalidState message for a transfer or escalation to a group (or to an
    operator none of whose groups) takes the conversation's channel (Group.channels)."""
    channel = cc.channel_names[ch]
    takers = [name for name, row in zip(cc.group_names, cc.takes) if row[ch]]
    where = (f"group {cc.group_names[g]!r} does not take" if g is not None
             else f"operator {operator!r} is in no group that takes")
    return (f"cannot {verb} conversation {request!r}: {where} channel {channel!r}; "
            f"groups that take {channel!r}: {', '.join(repr(x) for x in takers)}")


# outcome counters, per channel and per group: one row of N_OUT numbers each (the glossary
# of docs/semantics.md, "Glossary of outcomes"). Channel rows count each conversation once;
# group rows count each stay in a group (a submit, a transfer or an escalation into it).
(OUT_ANSWERED, OUT_WAIT, OUT_WITHIN, OUT_ABANDONED, OUT_EARLY, OUT_SWITCHED, OUT_SUBMITTED,
 OUT_REJECTED) = range(8)
REJECT_REASONS = ("hidden", "banned", "overloaded", "channel")
N_OUT = OUT_REJECTED + len(REJECT_REASONS)
# why a conversation was cancelled (Cancelled.reason), by code
CANCEL_REASONS = ("customer", "switched", "banned")
CANCEL_CUSTOMER, CANCEL_SWITCHED, CANCEL_BANNED = 0, 1, 2


def cancel_slot(reason: int, early: bool) -> int:
    """The outcome counter a cancel of a conversation not answered (in that row) adds to:
    an early cancel or an abandonment for the customer's own leaving, ``switched`` for a
    channel switch, and ``rejected["banned"]`` for a visitor banned while waiting."""
    if reason == CANCEL_SWITCHED:
        return OUT_SWITCHED
    if reason == CANCEL_BANNED:
        return OUT_REJECTED + REJECT_REASONS.index("banned")
    return OUT_EARLY if early else OUT_ABANDONED


def outcomes(row) -> "Outcomes":
    """The Outcomes view of one row of counters (both engines keep the same rows)."""
    from .views import Outcomes
    answered = int(row[OUT_ANSWERED])
    abandoned = int(row[OUT_ABANDONED])
    rejected = sum(int(row[OUT_REJECTED + i]) for i in range(len(REJECT_REASONS)))
    seen = answered + abandoned + rejected     # early cancels and switches are left out
    queued = answered + abandoned
    return Outcomes(
        answered=answered,
        mean_wait=row[OUT_WAIT] / answered if answered else None,
        service_level=row[OUT_WITHIN] / seen if seen else None,
        abandoned=abandoned,
        cancelled_early=int(row[OUT_EARLY]),
        rejected={name: int(row[OUT_REJECTED + i]) for i, name in enumerate(REJECT_REASONS)
                  if row[OUT_REJECTED + i]},
        switched=int(row[OUT_SWITCHED]),
        submitted=int(row[OUT_SUBMITTED]),
        p_abandon=abandoned / queued if queued else None)


def total_row(rows) -> list:
    """The sum of outcome rows (the totals of all channels)."""
    return [sum(r[i] for r in rows) for i in range(N_OUT)]


def build_stats(t: float, cc: Any, online: int, free: int, n_ops: int,
                c_waiting: Sequence[int], c_active: Sequence[int], c_rows: Sequence,
                c_wait: Sequence[Optional[float]], g_waiting: Sequence[int],
                g_active: Sequence[int], g_online: Sequence[int], g_free: Sequence[int],
                g_rows: Sequence, g_wait: Sequence[Optional[float]],
                categories: Any, live: Optional["Live"] = None, *,
                c_reserved: Optional[Sequence[int]] = None,
                g_reserved: Optional[Sequence[int]] = None,
                c_held: Optional[Sequence[int]] = None,
                g_held: Optional[Sequence[int]] = None) -> "Stats":
    """The Stats view from an engine's counters (both engines keep the same counters and
    differ only in how they find the longest waits ``c_wait``/``g_wait`` and the figures
    of ``live``). O(C + G)."""
    from .views import ChannelStats, GroupStats, Stats, TotalStats
    c_res = c_reserved or [0] * len(cc.channel_names)
    g_res = g_reserved or [0] * len(cc.group_names)
    c_hld = c_held or [0] * len(cc.channel_names)
    g_hld = g_held or [0] * len(cc.group_names)
    lv = live if live is not None else Live(len(cc.channel_names), len(cc.group_names))
    cats = categories.counts if isinstance(categories, Categories) else categories
    c_cats = categories.by_channel if isinstance(categories, Categories) else {}
    g_cats = categories.by_group if isinstance(categories, Categories) else {}

    def mean(n: int, arrivals: float) -> Optional[float]:
        return t - arrivals / n if n else None

    chans = {name: ChannelStats(
        c_waiting[c], c_active[c], online, free, outcomes(c_rows[c]), c_wait[c],
        lv.c_over[c], mean(c_waiting[c], lv.c_arrivals[c]), lv.c_can_take[c], lv.bots_online,
        lv.bot_free, lv.c_bot_can_take[c], dict(c_cats.get(c, {})),
        c_waiting[c] + c_active[c], reserved=c_res[c], held=c_hld[c])
        for c, name in enumerate(cc.channel_names)}
    groups = {name: GroupStats(
        g_waiting[g], g_active[g], g_online[g], g_free[g], outcomes(g_rows[g]), g_wait[g],
        lv.g_over[g], mean(g_waiting[g], lv.g_arrivals[g]), lv.g_bots_online[g],
        lv.g_bot_free[g], dict(g_cats.get(g, {})), g_waiting[g] + g_active[g],
        reserved=g_res[g], held=g_hld[g])
        for g, name in enumerate(cc.group_names)}
    waits = [w for w in c_wait if w is not None]
    n_waiting = sum(c_waiting)
    total = TotalStats(n_waiting, sum(c_active), online, free, n_ops,
                       outcomes(total_row(c_rows)), max(waits) if waits else None,
                       sum(lv.c_over), mean(n_waiting, math.fsum(lv.c_arrivals)),
                       lv.bots_online, lv.bot_free, n_waiting + sum(c_active),
                       reserved=sum(c_res), held=sum(c_hld))
    by_line: dict = {}
    for g, grp in enumerate(cc.config.groups):
        by_line.setdefault(grp.line, []).append(g_rows[g])
    lines = {line: outcomes(total_row(rows)) for line, rows in sorted(by_line.items())}
    return Stats(t, total, chans, groups, dict(cats), lines)


class Live:
    """The live figures of ``stats()`` that an engine finds for itself: over target and
    the sum of arrival times of the waiting (per channel and group), and what the online
    operators can take (per channel: honouring cost and caps; bots apart)."""

    __slots__ = ("c_over", "g_over", "c_arrivals", "g_arrivals", "c_can_take",
                 "c_bot_can_take", "g_bots_online", "g_bot_free", "bots_online", "bot_free")

    def __init__(self, C: int, G: int) -> None:
        self.c_over = [0] * C
        self.g_over = [0] * G
        self.c_arrivals = [0.0] * C
        self.g_arrivals = [0.0] * G
        self.c_can_take = [0] * C
        self.c_bot_can_take = [0] * C
        self.g_bots_online = [0] * G
        self.g_bot_free = [0] * G
        self.bots_online = 0
        self.bot_free = 0


def close_sum(kept: float, arrivals: list) -> bool:
    """A sum of arrival times kept incrementally against the exact one (the rounding of
    its adds and removes), for check()."""
    exact = math.fsum(arrivals)
    scale = abs(exact) + len(arrivals) * max(map(abs, arrivals), default=0.0)
    return abs(kept - exact) <= 1e-9 * scale + 1e-9


def can_take(free: int, charge: int, cap: int, held: int) -> int:
    """How many more conversations of a channel one operator can take now: ``free`` slots
    (0 in wrap-up or not online), ``charge`` slots each (at least 1; a call costs all the
    operator's slots, so it needs an empty operator), at most ``cap - held`` (cap < 0:
    none)."""
    k = free // max(charge, 1)
    if cap >= 0:
        k = min(k, cap - held)
    return max(k, 0)


class Switches:
    """Channel switches, shared by both engines (a dict; not on the routing path): the
    conversation a customer left for another (``cancel(old, switched_to=new)``), kept
    while either of the two is live or in history."""

    __slots__ = ("to", "from_")

    def __init__(self) -> None:
        self.to: dict = {}      # old -> new
        self.from_: dict = {}   # new -> old

    def check(self, old: Any, new: Any, known: Callable[[Any], bool]) -> Any:
        """``new`` as a plain id, or the error that says what to fix."""
        if isinstance(new, bool) or not isinstance(new, (str, int)):
            raise errors.InvalidArgument(
                f"switched_to must be the id (a str or an int) of the conversation the "
                f"customer moved to, got {type(new).__name__} {new!r}")
        if new == old:
            raise errors.InvalidArgument(
                f"conversation {old!r} cannot switch to itself; submit the new conversation "
                f"(call-back, request) under its own id first")
        if not known(new):
            raise errors.UnknownId(
                f"switched_to names conversation {new!r}, which is not known: submit the new "
                f"conversation (call-back, request) first, then cancel {old!r} with "
                f"switched_to={new!r}")
        if new in self.from_:
            raise errors.InvalidState(
                f"conversation {new!r} is already the switch of {self.from_[new]!r}")
        return exact_id("conversation", new)

    def link(self, old: Any, new: Any) -> None:
        self.to[old] = new
        self.from_[new] = old

    def forget(self, rid: Any) -> None:
        """``rid`` left (history, or ended with ``history=0``): its own side of a link
        goes, so a reused id carries none; the other conversation keeps naming it."""
        if self.to or self.from_:
            self.to.pop(rid, None)
            self.from_.pop(rid, None)

    def state(self) -> tuple:
        return (sorted(self.to.items(), key=repr), sorted(self.from_.items(), key=repr))


MAX_CATEGORIES = 10_000


class Categories:
    """Conversation categories, shared by both engines: the names in the order first used
    and how many conversations carry each (ended ones included)."""

    __slots__ = ("counts", "by_channel", "by_group")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.by_channel: dict[int, dict[str, int]] = {}   # channel index -> counts
        self.by_group: dict[int, dict[str, int]] = {}     # home group index -> counts

    @staticmethod
    def check(name: object) -> str:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise errors.InvalidArgument(
                f"a category is a non-empty str of at most 200 characters, got {name!r}")
        return name

    def room(self, name: str) -> None:
        if name not in self.counts and len(self.counts) >= MAX_CATEGORIES:
            raise errors.InvalidArgument(
                f"too many categories in use ({MAX_CATEGORIES}); reuse existing names")

    def move(self, old: Optional[str], new: str, channel: int = -1, group: int = -1) -> None:
        """A conversation (of ``channel``, submitted to ``group``) tagged ``new`` instead
        of ``old``."""
        if old == new:
            return
        for counts in (self.counts, self.by_channel.setdefault(channel, {}),
                       self.by_group.setdefault(group, {})):
            if old is not None:
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
            counts[new] = counts.get(new, 0) + 1


def iterate_commands(cmds: object):
    try:
        return iter(cmds)  # type: ignore[call-overload]
    except TypeError:
        raise errors.InvalidArgument(
            f"a batch (apply_many, apply_each) takes an iterable of command structs, got "
            f"{type(cmds).__name__}"
        ) from None


class Bans:
    """Banned visitors, shared by both engines (a dict; not on the routing path).

    A ban holds while ``now < until`` (``until=None``: until lifted). Expired bans are
    dropped when they are next looked at.
    """

    __slots__ = ("_bans",)

    def __init__(self) -> None:
        self._bans: dict = {}   # visitor -> (since, until, reason), in the order set

    @staticmethod
    def check(visitor: object, until: object, reason: object, now: float) -> Optional[float]:
        if visitor is None:
            raise errors.InvalidArgument("ban needs a visitor id (a str or an int), got None")
        if isinstance(visitor, bool) or not isinstance(visitor, (str, int)):
            raise errors.InvalidArgument(
                f"visitor must be a str or an int, got {type(visitor).__name__} {visitor!r}")
        if not isinstance(reason, str):
            raise errors.InvalidArgument(
                f"reason must be a str, got {type(reason).__name__} {reason!r}")
        if until is None:
            return None
        if isinstance(until, bool) or not isinstance(until, (int, float)):
            raise errors.InvalidArgument(
                f"until must be a time in seconds or None, got {type(until).__name__} {until!r}")
        try:
            u = float(until)
        except OverflowError:
            u = math.inf
        if not math.isfinite(u) or u <= now:
            raise errors.InvalidArgument(
                f"until must be a finite time later than now ({now!r}), got {until!r}; "
                f"leave it out for a ban that lasts until it is lifted")
        return u

    def ban(self, visitor: object, until: Optional[float], reason: str, now: float) -> None:
        self._bans.pop(visitor, None)
        self._bans[visitor] = (now, until, reason)

    def active(self, visitor: object, now: float) -> bool:
        b = self._bans.get(visitor)
        if b is None:
            return False
        if b[1] is not None and now >= b[1]:
            del self._bans[visitor]
            return False
        return True

    def require(self, visitor: object) -> None:
        if isinstance(visitor, bool) or not isinstance(visitor, (str, int)):
            raise errors.InvalidArgument(
                f"visitor must be a str or an int, got {type(visitor).__name__} {visitor!r}")

    def unban(self, visitor: object, now: float) -> None:
        b = self._bans.get(visitor)
        if b is None or (b[1] is not None and now >= b[1]):
            raise errors.UnknownId(f"visitor {visitor!r} is not banned")
        del self._bans[visitor]

    def is_banned(self, visitor: object, now: float) -> bool:
        """Like ``active`` but changes nothing (for reads)."""
        b = self._bans.get(visitor)
        return b is not None and (b[1] is None or now < b[1])

    def views(self, now: float) -> list:
        from .views import BanView
        return [BanView(v, since, until, reason) for v, (since, until, reason)
                in self._bans.items() if until is None or now < until]

    def state(self) -> list:
        return [(v, since, until, reason) for v, (since, until, reason) in self._bans.items()]


def untold_expiry(pending: list, request: Any, operator: Any) -> bool:
    """Whether the events not returned yet say that ``request``'s offer (to ``operator``,
    if given) expired: an accept or decline of it then returns those events (the offer
    the caller answered is gone), as it did when calls were checked before their timers
    fired — so journals written then replay alike."""
    from .events import OfferExpired
    return any(type(e) is OfferExpired and e.request == request
               and (operator is None or e.operator == operator) for e in pending)


def untold_assigned(pending: list, operator: Any) -> set:
    """Conversations the events not returned yet give to ``operator``: an operator being
    removed is not refused for holding them (they go back to the queue)."""
    from .events import Assigned
    return {e.request for e in pending if type(e) is Assigned and e.operator == operator}


# plain state: allowed in snapshots (events: those fired and not returned yet)
statecodec.register(SkillTags, Categories, Bans, Switches, *EVENT_TYPES)
