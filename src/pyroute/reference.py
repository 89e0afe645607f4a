"""The pure-Python reference engine: the same semantics as the native ``pyroute.Router``,
written plainly with ``heapq``, ``dict`` and ``sortedcontainers``.

It is the oracle of the differential tests (the same commands through both engines must
give the same events and the same state, byte for byte) and the baseline of every
benchmark. ``docs/semantics.md`` states the rules it implements; where this file and the
native core disagree, one of them has a bug.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
import time
from typing import Any, Callable, Optional

import msgspec
from sortedcontainers import SortedList

from . import _explain, _ewt, errors, packed, protocol, statecodec
from ._explain import EXPLAIN_OFF
from ._common import (
    check_flag, check_groups, check_id, exact_id, check_limit, check_now, check_priority, check_status,
    KINDS, SkillTags, check_channel_limits, check_kind, check_levels, check_prefer_for, check_hold_seconds, N_OUT, OUT_ABANDONED, OUT_ANSWERED, OUT_EARLY, OUT_REJECTED, OUT_WAIT, OUT_WITHIN,
    OUT_SUBMITTED, OUT_SWITCHED, CANCEL_BANNED, CANCEL_CUSTOMER, CANCEL_REASONS,
    CANCEL_SWITCHED, Switches, cancel_slot, channel_refused,
    REJECT_REASONS, Bans, Categories, build_stats, check_visitor, iterate_commands, rng_init,
    untold_assigned, untold_expiry, Live, can_take, close_sum,
    rng_next,
)
from .config import (
    POLICIES, RULE_AFTER, RULE_NO_OPERATORS, RULE_REASONS, compile_config,
)
from .events import (
    Accepted, Assigned, Cancelled, Finished, Offered, OfferExpired, Overflowed, Queued, Rejected,
    RetentionDue, StatusChanged, TransferFailed, Transferred, Held, HoldEnded, HoldRefused,
)
from .views import (
    Candidate, Explanation, STATUSES, OperatorView, RequestView, Stats,
)

OFFLINE, AWAY, ONLINE = 0, 1, 2
# timer kinds, by the group field: >= 0 an overflow rule of that group
RETENTION, WRAP_UP, OFFER, RECHECK, TRANSFER, HOLD = -1, -2, -3, -4, -5, -6
IF_BUSY = ("wait", "refuse")
QUEUED, OFFERED, ACTIVE = 0, 1, 2
STATE_NAMES = ("queued", "offered", "active")

(EVEN, LONGEST_IDLE, ROUND_ROBIN, LEAST_RATIO, FEWEST_HANDLED, ORDERED, RANDOM) = range(7)
assert POLICIES[RANDOM] == "random"


class _Member:
    __slots__ = ("join", "rr", "rand", "key", "level")

    def __init__(self, join: int, rand: float) -> None:
        self.join = join
        self.level = 1       # tier in this group (Group.level_step)
        self.rr = 0          # tick of the last assignment through this group
        self.rand = rand     # the random policy's draw
        self.key: Optional[tuple] = None   # current key in the group's operator list


class _Op:
    __slots__ = ("id", "status", "limit", "load", "reg", "groups", "members", "last_assign",
                 "idle", "handled", "active", "wrap", "missed", "ch_limit", "ch_count",
                 "skills", "kind", "incoming", "res", "holds")

    def __init__(self, id: Any, limit: int, reg: int) -> None:
        self.id = id
        self.status = OFFLINE
        self.limit = limit
        self.load = 0
        self.reg = reg
        self.groups: list[int] = []           # membership order
        self.members: dict[int, _Member] = {}
        self.last_assign = 0
        self.idle = 0
        self.handled = 0
        self.active: dict[Any, None] = {}     # ordered: assignment order
        self.wrap = 0                         # slots in wrap-up (part of load)
        self.missed = 0                       # offers expired in a row
        self.ch_limit: list[int] = []         # per channel: conversations at most (-1: any)
        self.ch_count: list[int] = []         # per channel: conversations held
        self.skills: dict[int, int] = {}      # skill bit -> level
        self.kind = 0                         # index into KINDS
        self.incoming: dict[Any, None] = {}   # pending transfers to it, in the order asked
        self.res: Any = None                  # the conversation it is reserved for
        self.holds: dict[Any, None] = {}      # its live holds, in the order placed


class _Req:
    __slots__ = ("id", "seq", "ch", "home", "prio", "arrival", "k", "state", "op", "via",
                 "assigned_at", "elig", "queued_in", "gen", "category", "answered",
                 "ret_next", "offers", "excluded", "charge", "skills", "prefer",
                 "prefer_until", "visitor", "xfer_to", "xfer_group", "xfer_n", "ret_wait",
                 "hold", "res", "wait_since", "leg_answered", "sticky")

    def __init__(self, id, seq, ch, home, prio, arrival, k) -> None:
        self.id = id
        self.seq = seq
        self.ch = ch
        self.home = home
        self.prio = prio
        self.arrival = arrival
        self.k = k
        self.state = QUEUED
        self.op: Any = None
        self.via = -1
        self.assigned_at = 0.0
        self.elig = [home]         # eligible groups, in the order they were added
        self.queued_in: list[int] = []
        self.gen = 1               # bumped each time it (re)enters the queue
        self.category: Optional[str] = None
        self.answered = False      # became active (assigned, or an offer accepted)
        self.ret_next = 0          # the next retention step
        self.offers = 0            # offers made, numbering the offer timers
        self.excluded: list = []   # operators who declined or let an offer expire
        self.charge = 0            # slots it takes from its operator
        self.skills: dict[int, int] = {}   # required: skill bit -> level
        self.prefer: Any = None    # the operator it waits for, until prefer_until
        self.prefer_until = 0.0
        self.visitor: Any = None   # who submitted it (RequestView.visitor, bans)
        self.sticky = False        # submitted to a sticky group: its finish is remembered
        self.xfer_to: Any = None   # a pending transfer: the operator it is to move to
        self.xfer_group = -1       # and the group it moves into
        self.xfer_n = 0            # transfers made pending, numbering their timeout timers
        self.ret_wait = 0          # waits after an answer, numbering the retention timers
        self.hold = False          # queued, of a channel that reserves (Channel.reserve)
        self.res: Any = None       # the operator reserved for it (while hold)
        self.wait_since = arrival  # when it last started waiting (arrival, or an answered
                                   # conversation's requeue, transfer or escalation)
        self.leg_answered = False  # answered since it entered its current home group


statecodec.register(_Member, _Op, _Req, RequestView, Explanation, Candidate)
# attributes a snapshot leaves out: the clock, and what a router is built with
_FROM_CONFIG = frozenset(("_clock", "config", "_cc", "_rules"))


class Router:
    """Pure-Python router with the native engine's constructor, methods and semantics."""

    engine = "reference"

    def __init__(self, config: Any, *, clock: Callable[[], float] = time.monotonic,
                 explain: bool = False) -> None:
        cc = compile_config(config)
        if not callable(clock):
            raise errors.InvalidArgument(f"clock must be callable, got {clock!r}")
        check_flag("explain", explain)
        # request id -> its last Explanation, only when asked for (explain=True)
        self._explained: Optional[dict] = {} if explain else None
        self.config = cc.config
        self._cc = cc
        self._clock = clock
        cfg = cc.config
        self._C = C = len(cfg.channels)
        self._G = G = len(cfg.groups)
        # the lowered config (pyroute.config.Compiled, shared with the native engine)
        self._tw = list(cc.target_wait)
        self._early = list(cc.early_cancel)
        self._wrap_ch = list(cc.channel_wrap_up)
        self._cost = list(cc.cost)
        self._reserve = list(cc.reserve)
        self._tags = SkillTags()
        self._relax = [[(after, frozenset(self._tags.register(
            self._tags.check({n: 1 for n in drop}, "relax")))) for after, drop in rx]
            for rx in cc.relax]
        self._level_step = list(cc.level_step)
        self._sticky = list(cc.sticky_for)
        self._last_op: dict = {}   # visitor -> (operator, when its conversation ended)
        self._escalate = list(cc.escalate)
        self._transfer_timeout = list(cc.transfer_timeout)
        self._wrap_g = list(cc.group_wrap_up)
        self._accept = list(cc.accept_timeout)
        self._max_missed = list(cc.max_missed)
        self._retention = list(cc.retention)
        self._policy = list(cc.policies)
        self._hidden = list(cc.hidden)
        self._max_queue = list(cc.max_queue)
        self._max_ewt = list(cc.max_expected_wait)
        self._group_takes = [list(row) for row in cc.takes]   # per group, per channel
        self._bans = Bans()
        self._categories = Categories()
        self._switches = Switches()
        self._rules = cc.rules
        self._deadline = cfg.order == "deadline"
        self._aging = float(cfg.aging)
        # per-queue constant added to a request's key when comparing across queues
        self._off = [list(row) for row in cc.offset]
        self._now = float("-inf")
        self._pending: list = []   # events of timers fired but not returned yet
        self._fired = float("-inf")   # due time of the last timer fired
        self._seq = 0
        self._reg = 0
        self._join = 0
        self._tick = 0
        self._tseq = 0
        self._rng = [rng_init(cfg.seed, g) for g in range(G)]
        self._ops: dict[Any, _Op] = {}
        self._reqs: dict[Any, _Req] = {}
        self._history: dict[Any, RequestView] = {}
        self._history_order: deque = deque()
        self._queues = [SortedList() for _ in range(G * C)]
        self._qst = [_ewt.new_record() for _ in range(G * C)]   # what each queue learns
        self._opsets = [SortedList() for _ in range(G)]
        self._timers: list[tuple] = []
        self._g_waiting = [0] * G
        self._g_online = [0] * G
        self._g_free = [0] * G
        self._g_active = [0] * G
        self._c_waiting = [0] * C
        self._c_arr = [0.0] * C     # sum of the arrival times of the waiting, per channel
        self._g_arr = [0.0] * G     # and of those in each group's queues
        self._c_active = [0] * C
        self._c_out = [[0.0] * N_OUT for _ in range(C)]
        self._g_out = [[0.0] * N_OUT for _ in range(G)]
        self._online = 0
        self._free = 0
        self._unres = 0            # conversations with hold and no operator reserved
        # live holds (Router.hold): id -> (operator, group, channel, charge, until, number)
        self._holds: dict[Any, tuple] = {}
        self._hseq = 0             # holds placed, numbering their expiry timers

    @classmethod
    def open(cls, directory: Any, config: Any, *, fsync: str = "batch",
             snapshot_every: Any = 100_000, **kw: Any) -> Any:
        """A durable router on ``directory``: see ``pyroute.Router.open``."""
        from .journal import DurableRouter
        return DurableRouter(cls, directory, config, fsync=fsync,
                             snapshot_every=snapshot_every, **kw)

    def _snapshot(self) -> bytes:
        """The whole state as bytes (for DurableRouter snapshots), data only
        (:mod:`pyroute.statecodec`); the clock and what the config gives are left out."""
        return statecodec.dumps({k: v for k, v in self.__dict__.items()
                                 if k not in _FROM_CONFIG})

    @classmethod
    def _restore(cls, config: Any, data: bytes, explain: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> "Router":
        """A router in the state ``_snapshot`` saved (for the same config). Raises
        ValueError for data that is not such a snapshot."""
        state = statecodec.loads(data)
        if not isinstance(state, dict) or "_reqs" not in state:
            raise ValueError("not a reference engine snapshot")
        if (state.get("_explained") is not None) != bool(explain):
            raise ValueError("snapshot taken with another explain setting")
        router = cls(config, clock=clock, explain=explain)
        unknown = set(state) - set(router.__dict__)
        if unknown:
            raise ValueError(f"not a reference engine snapshot (fields {sorted(unknown)})")
        missing = set(router.__dict__) - set(state) - _FROM_CONFIG
        if missing:   # taken by an older version: the journal replays instead
            raise ValueError(f"snapshot of another version (no {sorted(missing)})")
        router.__dict__.update(state)
        return router

    @classmethod
    def from_toml(cls, path, **kw) -> "Router":
        from .config import RouterConfig
        return cls(RouterConfig.from_toml(path), **kw)

    # ------------------------------------------------------------------ helpers: time
    @property
    def now(self) -> float:
        """The router's time: the latest ``now`` a call has passed (-inf before any)."""
        return self._now

    def _read_time(self, now: Any) -> float:
        """``now`` checked, for a read that fires nothing."""
        if now is None:
            now = self._clock()
        return check_now(now, self._now)

    def _time(self, now: Any) -> float:
        """``now`` checked, and the router brought to it before anything else: the timers
        due by ``now`` fire (their events are held for the call's return, or for the next
        call's if this one is refused) and the clock moves to ``now``."""
        t = self._read_time(now)
        if self._timers and self._timers[0][0] <= t:
            self._fire(t, self._pending)
            self._now = self._fired   # on to ``now`` once the call is accepted
        return t

    def _fire(self, now: float, out: list) -> None:
        if self._pending and out is not self._pending:
            out += self._pending     # fired earlier (a read, a refused call): told first
            self._pending = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, rid, seq, gen, g, ri = heapq.heappop(timers)
            self._fired = due
            if g == WRAP_UP:
                op = self._ops.get(rid)
                if op is not None and op.reg == seq:
                    self._end_wrap_up(op, ri, due, out)
                continue
            if g == HOLD:
                h = self._holds.get(rid)
                if h is not None and h[5] == seq:
                    self._end_hold(rid, "expired", due, out)
                continue
            r = self._reqs.get(rid)
            if r is None or r.seq != seq:
                continue
            if g == RECHECK:
                if r.state == QUEUED and r.gen == gen:
                    if not self._place(r, r.elig, due, out):
                        self._reserve_for(r, due)
            elif g == RETENTION:
                if r.state != ACTIVE and r.ret_wait == gen and r.ret_next == ri:
                    r.ret_next += 1
                    out.append(RetentionDue(rid, self._retention[r.ch][ri][1], due))
            elif g == OFFER:
                if r.state == OFFERED and r.offers == gen:
                    self._expire_offer(r, due, out)
            elif g == TRANSFER:
                if r.xfer_to is not None and r.xfer_n == gen:
                    self._fail_transfer(r, due, out, "timeout")
            elif r.gen == gen and r.state == QUEUED:
                self._apply_rule(r, g, ri, due, out)
        self._now = now

    # ------------------------------------------------------------------ helpers: operators
    def _key(self, op: _Op, g: int) -> tuple:
        p = self._policy[g]
        m = op.members[g]
        if p == EVEN:
            x = float(-(op.limit - op.load))
        elif p == LONGEST_IDLE:
            x = float(op.idle)
        elif p == ROUND_ROBIN:
            x = float(m.rr)
        elif p == LEAST_RATIO:
            x = op.load / op.limit
        elif p == FEWEST_HANDLED:
            x = float(op.handled)
        elif p == ORDERED:
            x = float(m.join)
        else:
            x = m.rand
        return (x, op.last_assign, op.reg, op.id)

    def _charge(self, op: _Op, c: int) -> int:
        """Slots a conversation of channel ``c`` takes from ``op`` (all of them for "all")."""
        cost = self._cost[c]
        return op.limit if cost < 0 else cost

    def _fits_channel(self, op: _Op, c: int) -> bool:
        cap = op.ch_limit[c]
        return (op.limit - op.load >= max(self._charge(op, c), 1)
                and (cap < 0 or op.ch_count[c] < cap))

    def _fits(self, op: _Op, r: _Req, g: int, now: float) -> bool:
        """Whether ``op``, through group ``g``, may take ``r`` at ``now``: its channel fits,
        it has not declined it, it has the skills still required, and its tier is due."""
        if not self._fits_channel(op, r.ch):
            return False
        return self._fits_rules(op, r, g, now)

    def _fits_rules(self, op: _Op, r: _Req, g: int, now: float) -> bool:
        """``_fits`` apart from the channel: no decline, preference, tier, skills."""
        if op.id in r.excluded:
            return False
        if r.prefer is not None and now < r.prefer_until and op.id != r.prefer:
            return False
        step = self._level_step[g]
        if step is not None and r.arrival + (op.members[g].level - 1) * step > now:
            return False
        if r.skills:
            dropped: set = set()
            for after, drop in self._relax[r.home]:
                if r.arrival + after <= now:
                    dropped |= drop
            for t, level in r.skills.items():
                if t not in dropped and op.skills.get(t, 0) < level:
                    return False
        return True

    # ------------------------------------------------------------------ helpers: reservations
    def _could(self, op: _Op, r: _Req, g: int, now: float) -> bool:
        """Whether ``op`` could take ``r`` through ``g`` once it has drained: ``_fits``
        apart from its free slots and its count on the channel (a cap of 0: never)."""
        return (op.ch_limit[r.ch] != 0 and max(self._charge(op, r.ch), 1) <= op.limit
                and self._fits_rules(op, r, g, now))

    def _rank(self, op: _Op, r: _Req) -> tuple:
        """Where ``r`` stands among the work ``op`` may take: its least key across the
        groups of ``op`` it is eligible for, then submission order."""
        best = float("inf")
        for g in r.elig:
            if g in op.members:
                k = r.k + self._off[g][r.ch]
                if k < best:
                    best = k
        return (best, r.seq)

    def _held(self, op: _Op, r: _Req) -> bool:
        """Whether ``op``'s reservation holds it back from ``r``: it is reserved for
        another conversation that ranks above ``r``."""
        res = op.res
        return (res is not None and res != r.id
                and self._rank(op, r) > self._rank(op, self._reqs[res]))

    def _reserve_for(self, r: _Req, now: float) -> None:
        """``r`` waits and nobody can fit it: reserve, of the online operators not reserved
        yet who could take it once drained, the one who drains soonest (fewest slots still
        to free, then longest since its last assignment, then registration order)."""
        if not r.hold or r.res is not None:
            return
        best = None
        best_key = None
        for op in self._ops.values():
            if op.status != ONLINE or op.res is not None:
                continue
            if not any(g in op.members and self._could(op, r, g, now) for g in r.elig):
                continue
            key = (max(self._charge(op, r.ch), 1) + op.load - op.limit, op.last_assign,
                   op.reg)
            if best_key is None or key < best_key:
                best, best_key = op, key
        if best is not None:
            r.res = best.id
            best.res = r.id
            self._unres -= 1
        if self._explained is not None:
            _explain.reserved(self, r, best)

    def _unhold(self, r: _Req) -> Optional[_Op]:
        """``r`` leaves the queue: its reservation ends; returns the operator it held."""
        if not r.hold:
            return None
        r.hold = False
        if r.res is None:
            self._unres -= 1
            return None
        op = self._ops[r.res]
        op.res = None
        r.res = None
        return op

    def _reserve_again(self, op: _Op, now: float) -> None:
        """``op`` left online: its conversation reserves the next operator at once."""
        r = self._unreserve(op)
        if r is not None:
            self._reserve_for(r, now)

    def _unreserve(self, op: _Op) -> Optional[_Req]:
        """``op`` can no longer drain for its conversation (or is moved): the reservation
        ends; returns the conversation, which then reserves again (``_reserve_for``)."""
        if op.res is None:
            return None
        r = self._reqs[op.res]
        op.res = None
        r.res = None
        self._unres += 1
        return r

    def _claim(self, op: _Op, now: float) -> None:
        """An operator not reserved, who could drain for a conversation that has no
        operator reserved, makes that conversation reserve (the best-ranked for it first;
        the one who drains soonest is reserved, which may be another)."""
        C = self._C
        queues = self._queues
        while op.res is None:
            best = None
            best_rank = None
            for g in op.groups:
                for c in range(C):
                    if not self._reserve[c]:
                        continue
                    for _, _, rid in queues[g * C + c]:
                        r = self._reqs[rid]
                        if r.res is None and self._could(op, r, g, now):
                            rk = self._rank(op, r)
                            if best_rank is None or rk < best_rank:
                                best, best_rank = r, rk
            if best is None:
                return
            self._reserve_for(best, now)

    def _detach(self, op: _Op) -> None:
        """Take the operator's contribution out of every group it belongs to."""
        on = op.status == ONLINE
        free = max(0, op.limit - op.load) if on else 0
        for g in op.groups:
            m = op.members[g]
            if m.key is not None:
                self._opsets[g].remove(m.key)
                m.key = None
            if on:
                self._g_online[g] -= 1
                self._g_free[g] -= free
        if on:
            self._online -= 1
            self._free -= free

    def _attach(self, op: _Op) -> None:
        on = op.status == ONLINE
        free = max(0, op.limit - op.load) if on else 0
        for g in op.groups:
            m = op.members[g]
            if on:
                self._g_online[g] += 1
                self._g_free[g] += free
                if op.load < op.limit:
                    m.key = self._key(op, g)
                    self._opsets[g].add(m.key)
        if on:
            self._online += 1
            self._free += free

    def _new_member(self, g: int) -> _Member:
        self._join += 1
        rand = 0.0
        if self._policy[g] == RANDOM:
            self._rng[g], rand = rng_next(self._rng[g])
        return _Member(self._join, rand)

    # ------------------------------------------------------------------ helpers: queues
    def _enqueue(self, r: _Req, g: int, now: float) -> None:
        q = g * self._C + r.ch
        _ewt.touch(self._qst[q], len(self._queues[q]), self._g_online[g], now)
        self._queues[q].add((r.k, r.seq, r.id))
        if not r.queued_in:
            self._c_waiting[r.ch] += 1
            self._c_arr[r.ch] += r.arrival
        r.queued_in.append(g)
        self._g_waiting[g] += 1
        self._g_arr[g] += r.arrival

    def _dequeue(self, r: _Req, now: float, served: bool) -> None:
        for g in r.queued_in:
            q = g * self._C + r.ch
            _ewt.touch(self._qst[q], len(self._queues[q]), self._g_online[g], now)
            self._queues[q].remove((r.k, r.seq, r.id))
            _ewt.departed(self._qst[q], served)
            self._g_waiting[g] -= 1
            self._g_arr[g] = self._g_arr[g] - r.arrival if self._g_waiting[g] else 0.0
        if r.queued_in:
            self._c_waiting[r.ch] -= 1
            self._c_arr[r.ch] = self._c_arr[r.ch] - r.arrival if self._c_waiting[r.ch] else 0.0
        r.queued_in = []

    def _assign(self, r: _Req, op: _Op, g: int, now: float, out: list,
                how: str = "placed") -> None:
        if self._explained is not None:
            _explain.decided(self, r, "assigned" if self._accept[g] is None else "offered",
                             now, op, g, how)
        freed = self._unhold(r)
        self._dequeue(r, now, True)
        self._detach(op)
        self._tick += 1
        r.charge = self._charge(op, r.ch)
        op.load += r.charge
        op.ch_count[r.ch] += 1
        op.handled += 1
        op.last_assign = self._tick
        op.idle = self._tick
        m = op.members[g]
        m.rr = self._tick
        if self._policy[g] == RANDOM:
            self._rng[g], m.rand = rng_next(self._rng[g])
        self._attach(op)
        op.active[r.id] = None
        r.op = op.id
        r.via = g
        r.assigned_at = now
        self._g_active[g] += 1
        self._c_active[r.ch] += 1
        timeout = self._accept[g]
        if timeout is None:
            r.state = ACTIVE
            self._answered(r, g, now)
            out.append(Assigned(r.id, op.id, self._cc.group_names[g],
                                self._cc.channel_names[r.ch], now, now - r.wait_since))
            if freed is not None:   # the operator it held is fed again
                self._fill(freed, now, out)
            return
        r.state = OFFERED
        r.offers += 1
        self._tseq += 1
        heapq.heappush(self._timers, (now + timeout, self._tseq, r.id, r.seq, r.offers, OFFER, 0))
        out.append(Offered(r.id, op.id, self._cc.group_names[g], self._cc.channel_names[r.ch],
                           now, now + timeout))
        if freed is not None:
            self._fill(freed, now, out)

    def _answered(self, r: _Req, g: int, now: float) -> None:
        """Count an answer: once per conversation in its channel's row (the wait from
        arrival), once per stay in a group in the row of the group that answered it (the
        wait since it last started waiting)."""
        if not r.answered:
            r.answered = True
            self._count_answer(self._c_out[r.ch], now - r.arrival, r.ch)
        if not r.leg_answered:
            r.leg_answered = True
            self._count_answer(self._g_out[g], now - r.wait_since, r.ch)

    def _count_answer(self, row: list, waited: float, ch: int) -> None:
        row[OUT_ANSWERED] += 1
        row[OUT_WAIT] += waited
        if waited <= self._tw[ch]:
            row[OUT_WITHIN] += 1

    def _release(self, r: _Req) -> _Op:
        op = self._ops[r.op]
        self._detach(op)
        self._tick += 1
        op.load -= r.charge
        op.ch_count[r.ch] -= 1
        op.idle = self._tick
        self._attach(op)
        del op.active[r.id]
        self._g_active[r.via] -= 1
        self._c_active[r.ch] -= 1
        return op

    def _end_wrap_up(self, op: _Op, slots: int, now: float, out: list) -> None:
        self._detach(op)
        self._tick += 1
        op.wrap -= slots
        op.load -= slots
        op.idle = self._tick
        self._attach(op)
        self._fill(op, now, out)

    # ------------------------------------------------------------------ helpers: holds
    def _end_hold(self, hid: Any, reason: str, now: float, out: list) -> None:
        """End a live hold: its slots are free again (``HoldEnded``). Released or expired
        while its operator is online, the slot goes first to the waiting conversations that
        prefer that operator (the one the hold was for), then as any freed slot."""
        opid, g, c, charge, _until, _n = self._holds.pop(hid)
        op = self._ops[opid]
        del op.holds[hid]
        self._detach(op)
        op.load -= charge
        op.ch_count[c] -= 1
        self._attach(op)
        out.append(HoldEnded(hid, opid, now, reason))
        if op.status == ONLINE:
            self._take_preferring(op, now, out)
            self._fill(op, now, out)

    def _end_holds(self, op: _Op, reason: str, now: float, out: list) -> None:
        """The operator left online or is removed: its holds end."""
        for hid in list(op.holds):
            self._end_hold(hid, reason, now, out)

    def _take_preferring(self, op: _Op, now: float, out: list) -> None:
        """A freed held slot: the waiting conversations that prefer ``op`` (submitted with
        ``prefer``, within ``prefer_for``) take it first, best in queue order first, as
        ``place`` would give them to ``op``. O(waiting in the operator's groups)."""
        C = self._C
        queues = self._queues
        while op.status == ONLINE and op.load < op.limit:
            best = None
            best_key = None
            for g in op.groups:
                off = self._off[g]
                for c in range(C):
                    if not queues[g * C + c] or not self._fits_channel(op, c):
                        continue
                    for k, seq, rid in queues[g * C + c]:
                        r = self._reqs[rid]
                        if (r.prefer == op.id and r.home == g and now <= r.prefer_until
                                and self._fits(op, r, g, now) and not self._held(op, r)):
                            key = (k + off[c], seq)
                            if best_key is None or key < best_key:
                                best_key = key
                                best = (r, g)
                            break
            if best is None:
                return
            self._assign(best[0], op, best[1], now, out, "preferred")

    def _place(self, r: _Req, groups: list[int], now: float, out: list) -> bool:
        if r.prefer is not None and now <= r.prefer_until and r.home in groups:
            op = self._ops.get(r.prefer)
            if (op is not None and r.home in op.members and op.members[r.home].key is not None
                    and self._fits(op, r, r.home, now) and not self._held(op, r)):
                self._assign(r, op, r.home, now, out, "preferred")
                return True
            if now < r.prefer_until:
                return False
        for g in groups:
            for key in self._opsets[g]:
                op = self._ops[key[3]]
                if self._fits(op, r, g, now) and not self._held(op, r):
                    self._assign(r, op, g, now, out)
                    return True
        return False

    def _fill(self, op: _Op, now: float, out: list) -> None:
        if op.incoming:
            self._take_transfers(op, now, out)
        C = self._C
        queues = self._queues
        while op.status == ONLINE:
            if op.res is None and self._unres:
                self._claim(op, now)
            if op.load >= op.limit:
                return
            best = None
            best_key = None
            for g in op.groups:
                off = self._off[g]
                for c in range(C):
                    if not queues[g * C + c] or not self._fits_channel(op, c):
                        continue
                    for k, seq, rid in queues[g * C + c]:
                        if not self._fits(op, self._reqs[rid], g, now):
                            continue
                        key = (k + off[c], seq)
                        if best_key is None or key < best_key:
                            best_key = key
                            best = (rid, g)
                        break
            if best is None:
                return
            if op.res is not None and best[0] != op.res:
                x = self._reqs[best[0]]
                if self._rank(op, x) > self._rank(op, self._reqs[op.res]):
                    return   # held for a conversation that ranks above all it could take
            self._assign(self._reqs[best[0]], op, best[1], now, out, "pulled")

    # ------------------------------------------------------------------ helpers: overflow
    def _expand(self, r: _Req, start: list[int], now: float, out: list,
                timers: list) -> list[int]:
        """Evaluate the rules of ``start`` and of every group they add; return the added."""
        added: list[int] = []
        work = list(start)
        i = 0
        while i < len(work):
            g = work[i]
            i += 1
            for ri, rule in enumerate(self._rules[g]):
                if rule.kind == RULE_AFTER:
                    due = r.arrival + rule.value
                    fire = due <= now
                    if not fire:
                        timers.append((due, g, ri))
                elif rule.kind == RULE_NO_OPERATORS:
                    fire = self._g_online[g] == 0
                else:
                    fire = self._g_waiting[g] >= rule.value
                if fire:
                    new = self._add_groups(r, g, ri, now, out)
                    added += new
                    work += new
        return added

    def _add_groups(self, r: _Req, g: int, ri: int, now: float, out: list) -> list[int]:
        rule = self._rules[g][ri]
        new = [t for t in rule.to if t not in r.elig and self._group_takes[t][r.ch]]
        if new:
            r.elig += new
            names = self._cc.group_names
            out.append(Overflowed(r.id, names[g], tuple(names[t] for t in new),
                                  RULE_REASONS[rule.kind], now))
        return new

    def _rechecks(self, r: _Req, groups: list[int], relax: bool, now: float) -> list:
        """Times at which more operators become eligible for a waiting ``r``: its skill
        requirements relax (home group), or the next tier of a group comes due."""
        out = []
        if relax and r.prefer is not None and r.prefer_until > now:
            out.append((r.prefer_until, RECHECK, 0))
        if relax and r.skills:
            out += [(r.arrival + after, RECHECK, 0) for after, _ in self._relax[r.home]
                    if r.arrival + after > now]
        for g in groups:
            step = self._level_step[g]
            if step is not None:
                out += [(r.arrival + (level - 1) * step, RECHECK, 0)
                        for level in range(2, 6) if r.arrival + (level - 1) * step > now]
        return out

    def _push_timers(self, r: _Req, timers: list) -> None:
        for due, g, ri in timers:
            self._tseq += 1
            heapq.heappush(self._timers, (due, self._tseq, r.id, r.seq, r.gen, g, ri))

    def _apply_rule(self, r: _Req, g: int, ri: int, now: float, out: list) -> None:
        """Apply one rule to a queued request; route it among the groups it gains."""
        new = self._add_groups(r, g, ri, now, out)
        if not new:
            return
        timers: list = []
        added = new + self._expand(r, new, now, out, timers)
        if not self._place(r, added, now, out):
            if self._explained is not None:
                _explain.decided(self, r, "queued", now)
            for t in added:
                self._enqueue(r, t, now)
            self._push_timers(r, timers)
            self._push_timers(r, self._rechecks(r, added, False, now))
            self._reserve_for(r, now)

    def _route_new(self, r: _Req, now: float, out: list) -> None:
        """Route a request entering the queue (submitted or requeued)."""
        timers: list = []
        self._expand(r, list(r.elig), now, out, timers)
        if not self._place(r, r.elig, now, out):
            if self._explained is not None:
                _explain.decided(self, r, "queued", now)
            for g in r.elig:
                self._enqueue(r, g, now)
            self._push_timers(r, timers)
            self._push_timers(r, self._rechecks(r, r.elig, True, now))
            if self._reserve[r.ch]:   # fits nobody: it may reserve an operator
                r.hold = True
                self._unres += 1
                self._reserve_for(r, now)
            pos, ewt = self._waiting_at(r, now)
            out.append(Queued(r.id, self._cc.group_names[r.home],
                              self._cc.channel_names[r.ch], now, pos or 0, ewt))

    def _sweep(self, groups: list[int], now: float, out: list) -> None:
        """``when_no_operators`` rules of groups that just lost their last online operator."""
        C = self._C
        for g in groups:
            if self._g_online[g] != 0:
                continue
            rules = [ri for ri, rule in enumerate(self._rules[g])
                     if rule.kind == RULE_NO_OPERATORS]
            if not rules:
                continue
            waiting = sorted((self._reqs[rid] for c in range(C)
                              for (_, _, rid) in self._queues[g * C + c]),
                             key=lambda r: r.seq)
            for r in waiting:
                for ri in rules:
                    if r.state == QUEUED:
                        self._apply_rule(r, g, ri, now, out)

    def _requeue_all(self, op: _Op, now: float, out: list, offers_only: bool = False) -> None:
        for r in sorted((self._reqs[rid] for rid in op.active), key=lambda r: r.seq):
            if not offers_only or r.state == OFFERED:
                self._requeue(r, now, out)

    def _requeue(self, r: _Req, now: float, out: list) -> None:
        """Send an offered or active conversation back to the queue at its place."""
        was_active = r.state == ACTIVE
        if r.xfer_to is not None:
            self._drop_transfer(r)
        if r.state == ACTIVE:
            r.wait_since = now   # an answered conversation starts waiting again
        self._release(r)
        r.state = QUEUED
        r.op = None
        r.via = -1
        r.gen += 1
        self._route_new(r, now, out)
        if was_active:
            self._wait_again(r, now)

    def _push_retention(self, r: _Req, start: float) -> None:
        """The channel's retention steps, counted from ``start`` (numbered by the wait)."""
        for i, (after, _) in enumerate(self._retention[r.ch]):
            self._tseq += 1
            heapq.heappush(self._timers, (start + after, self._tseq, r.id, r.seq, r.ret_wait,
                                          RETENTION, i))

    def _wait_again(self, r: _Req, now: float) -> None:
        """An answered conversation that was just routed anew: if it waits again (queued,
        or offered), its retention steps start again from ``now``."""
        if r.state != ACTIVE and self._retention[r.ch]:
            r.ret_wait += 1
            r.ret_next = 0
            self._push_retention(r, now)

    # ------------------------------------------------------------------ helpers: transfers
    def _takes(self, op: _Op, r: _Req) -> bool:
        """Whether ``op`` can take ``r`` by a transfer now: online, in a group, room for its
        channel (cost and cap), and it never declined it. Skills and tiers do not count: the
        sender chose the colleague."""
        return (op.status == ONLINE and op.id not in r.excluded
                and any(self._group_takes[g][r.ch] for g in op.groups)
                and self._fits_channel(op, r.ch))

    def _taking_group(self, op: _Op, g: int, ch: int) -> int:
        """``g`` if ``op`` is in it, else ``op``'s first group that takes channel ``ch``."""
        if g in op.members:
            return g
        return next(x for x in op.groups if self._group_takes[x][ch])

    def _drop_transfer(self, r: _Req) -> None:
        """End a pending transfer (the sender finished, cancelled or moved it)."""
        del self._ops[r.xfer_to].incoming[r.id]
        r.xfer_to = None
        r.xfer_group = -1

    def _fail_transfer(self, r: _Req, now: float, out: list, reason: str) -> None:
        target = r.xfer_to
        self._drop_transfer(r)
        out.append(TransferFailed(r.id, now, target, r.op, reason))

    def _fail_incoming(self, op: _Op, now: float, out: list) -> None:
        """The target left online (or is removed): its pending transfers fail."""
        for rid in list(op.incoming):
            self._fail_transfer(self._reqs[rid], now, out, "unavailable")

    def _take_transfers(self, op: _Op, now: float, out: list) -> None:
        """An operator with room takes the conversations transferred to it, in the order the
        transfers were asked, before any waiting work."""
        while op.incoming and op.status == ONLINE and op.load < op.limit:
            for rid in op.incoming:
                r = self._reqs[rid]
                if self._takes(op, r):
                    break
            else:
                return
            g = r.xfer_group
            self._drop_transfer(r)
            self._hand_over(r, op, g, now, out)

    def _hand_over(self, r: _Req, op: _Op, g: int, now: float, out: list) -> None:
        """Move ``r`` to ``op`` (who can take it) through group ``g`` (its first group if it
        is no longer in ``g``): ``Transferred``, then ``Assigned`` or ``Offered``."""
        if g not in op.members:
            g = self._taking_group(op, g, r.ch)
        was_active = r.state == ACTIVE
        held_by, _ = self._restart_in(r, g, now, unhold=False)
        r.prefer = None
        r.prefer_until = 0.0
        out.append(Transferred(r.id, now, held_by, self._cc.group_names[g], op.id, False))
        self._assign(r, op, g, now, out, "preferred")
        if was_active:
            self._wait_again(r, now)
        if held_by is not None:
            self._fill(self._ops[held_by], now, out)   # the sender's freed slot

    def _expire_offer(self, r: _Req, now: float, out: list) -> None:
        op = self._ops[r.op]
        g = r.via
        out.append(OfferExpired(r.id, op.id, now))
        r.excluded.append(op.id)
        self._requeue(r, now, out)
        op.missed += 1
        limit = self._max_missed[g]
        if limit is not None and op.missed >= limit and op.status == ONLINE:
            self._change_status(op, AWAY, now, out, "missed_offers")
            self._reserve_again(op, now)
            self._end_holds(op, "offline", now, out)
            self._fail_incoming(op, now, out)
            self._leave_online(op, now, out, False)
        else:
            self._fill(op, now, out)   # the freed slot takes what else waits for it

    def _change_status(self, op: _Op, st: int, now: float, out: list, reason: str) -> None:
        self._detach(op)
        op.status = st
        if st == ONLINE:
            self._tick += 1
            op.idle = self._tick
        self._attach(op)
        out.append(StatusChanged(op.id, STATUSES[st], now, reason))

    def _leave_online(self, op: _Op, now: float, out: list, requeue: bool) -> None:
        """After an operator left online: its offers go back (all its conversations with
        ``requeue``), then its groups' no-operator rules."""
        self._requeue_all(op, now, out, offers_only=not requeue)
        self._sweep(op.groups, now, out)

    def _to_history(self, r: _Req, state: str, operator: Any) -> None:
        del self._reqs[r.id]
        self._remember(self._view(r, state, operator))

    def _remember(self, view: RequestView) -> None:
        if self.config.history == 0:
            if self._explained is not None:
                self._explained.pop(view.id, None)
            self._switches.forget(view.id)
            return
        self._history[view.id] = view
        self._history_order.append(view.id)
        if len(self._history_order) > self.config.history:
            gone = self._history_order.popleft()
            del self._history[gone]
            if self._explained is not None:
                self._explained.pop(gone, None)
            self._switches.forget(gone)

    def _linked(self, view: RequestView) -> RequestView:
        """A kept view with the channel switches as they are now (a switch may name an
        ended conversation after it ended)."""
        sw = self._switches
        if not (sw.to or sw.from_):
            return view
        f, t = sw.from_.get(view.id), sw.to.get(view.id)
        if f == view.switched_from and t == view.switched_to:
            return view
        return msgspec.structs.replace(view, switched_from=f, switched_to=t)

    def _view(self, r: _Req, state: str, operator: Any) -> RequestView:
        names = self._cc.group_names
        pos, ewt = self._waiting_at(r, self._now) if r.state == QUEUED else (None, None)
        return RequestView(r.id, state, self._cc.channel_names[r.ch], names[r.home], r.prio,
                           operator, r.arrival, tuple(names[g] for g in r.elig), r.category,
                           tuple(r.excluded),
                           {self._tags.names[t]: n for t, n in sorted(r.skills.items())},
                           r.xfer_to if state in STATE_NAMES else None,
                           r.res,
                           self._switches.from_.get(r.id), self._switches.to.get(r.id),
                           r.visitor, pos, ewt)

    def _waiting_at(self, r: _Req, now: float) -> tuple:
        """A queued conversation's place in its home group's queue of its channel (1: next)
        and its expected wait from ``now``; (None, None) when it is not in that queue."""
        if r.home not in r.queued_in:
            return None, None
        q = r.home * self._C + r.ch
        pos = self._queues[q].bisect_left((r.k, r.seq)) + 1
        return pos, self._predict(q, pos, now)

    def _predict(self, q: int, pos: int, now: float) -> Optional[float]:
        return _ewt.predict(self._qst[q], len(self._queues[q]), self._g_online[q // self._C],
                            pos, now)

    def _newcomer_wait(self, g: int, c: int, now: float) -> Optional[float]:
        """The wait predicted for a conversation of channel ``c`` submitted to ``g`` now:
        0 when someone could answer it at once, else the prediction for the back of the
        queue (None: nothing to go by)."""
        if self._pick(g, c, None) is not None:
            return 0.0
        q = g * self._C + c
        return self._predict(q, len(self._queues[q]) + 1, now)

    def expected_wait(self, group: str, channel: str, now: Optional[float] = None
                      ) -> Optional[float]:
        """Seconds a conversation of ``channel`` submitted to ``group`` now would wait
        before an answer: 0.0 when someone could answer it at once, None when there is
        nothing to go by (no conversation of that queue served yet, nobody of the group
        online) or the group does not take it (hidden, or not its channel). Changes
        nothing, fires no timers."""
        t = self._read_time(now)
        gi, ci = self._group_channel(group, channel)
        if self._hidden[gi] or not self._group_takes[gi][ci]:
            return None
        return self._newcomer_wait(gi, ci, t)

    def _get_op(self, opid: Any) -> _Op:
        check_id("operator", opid)
        op = self._ops.get(opid)
        if op is None:
            raise errors.unknown("operator", opid)
        return op

    def _get_live(self, rid: Any, verb: str) -> _Req:
        check_id("conversation", rid)
        r = self._reqs.get(rid)
        if r is None:
            if rid in self._history:
                raise errors.InvalidState(
                    f"cannot {verb} conversation {rid!r}: it is already "
                    f"{self._history[rid].state}")
            raise errors.unknown("conversation", rid)
        return r

    # ------------------------------------------------------------------ commands
    def submit(self, request: Any, channel: str, group: str, priority: int = 0,
               visitor: Any = None, now: Optional[float] = None,
               skills: Optional[dict] = None, prefer: Any = None,
               prefer_for: float = 0.0) -> list:
        """Route a new conversation: ``Assigned``, or ``Queued`` (after any ``Overflowed``)."""
        t = self._time(now)   # first: a clock may call back into the router
        request = exact_id("conversation", request)
        if request in self._history:
            raise errors.ended(request, self._history[request].state, self.config.history)
        if request in self._reqs:
            raise errors.duplicate("conversation", request)
        ci = self._cc.channel_index.get(channel) if isinstance(channel, str) else None
        if ci is None:
            raise errors.unknown("channel", channel, self._cc.channel_index)
        gi = self._cc.group_index.get(group) if isinstance(group, str) else None
        if gi is None:
            raise errors.unknown("group", group, self._cc.group_index)
        check_priority(priority)
        check_visitor(visitor)
        if visitor is not None:
            visitor = exact_id("visitor", visitor)
        wanted = self._tags.check(skills, "skills")
        if prefer is not None:
            check_id("operator", prefer)
            if prefer not in self._ops:
                raise errors.unknown("operator", prefer)
        wait = check_prefer_for(prefer_for)
        out: list = []
        self._fire(t, out)
        required = self._tags.register(wanted)   # by any submit that passes the checks
        reason = None
        if visitor is not None and self._bans.active(visitor, t):
            reason = "banned"
        elif self._hidden[gi]:
            reason = "hidden"
        elif not self._group_takes[gi][ci]:
            reason = "channel"
        elif self._overloaded(gi, ci, t):
            reason = "overloaded"
        self._c_out[ci][OUT_SUBMITTED] += 1
        self._g_out[gi][OUT_SUBMITTED] += 1
        if reason is not None:
            k = OUT_REJECTED + REJECT_REASONS.index(reason)
            self._c_out[ci][k] += 1
            self._g_out[gi][k] += 1
            if self._explained is not None:
                _explain.rejected(self, request, reason, t, group)
            self._remember(RequestView(request, "rejected", channel, group, priority, None, t,
                                       (group,), visitor=visitor))
            out.append(Rejected(request, t, reason))
            return out
        self._seq += 1
        k = t if self._deadline else self._aging * t - priority
        r = _Req(request, self._seq, ci, gi, priority, t, k)
        r.skills = required
        r.visitor = visitor
        sticky = self._sticky[gi]
        if visitor is not None and sticky is not None:
            r.sticky = True
            last = self._last_op.get(visitor)
            if prefer is None and last is not None and t - last[1] <= sticky:
                prefer, wait = last[0], 0.0
        op = self._ops.get(prefer) if prefer is not None else None
        if op is not None and op.status == ONLINE and gi in op.members:
            r.prefer = prefer
            r.prefer_until = t + wait
        self._reqs[request] = r
        self._route_new(r, t, out)
        if not r.answered:   # retention steps, while it waits for its first answer
            self._push_retention(r, r.arrival)
        return out

    def finish(self, request: Any, now: Optional[float] = None) -> list:
        """The operator is done: ``Finished``, then whatever the freed slot pulls in."""
        t = self._time(now)   # first: a clock may call back into the router
        r = self._get_live(request, "finish")
        if r.state == QUEUED:
            raise errors.InvalidState(
                f"cannot finish conversation {request!r}: it is still queued "
                f"(cancel it if the customer left)")
        if r.state == OFFERED:
            raise errors.InvalidState(
                f"cannot finish conversation {request!r}: it is offered to {r.op!r} and "
                f"not accepted yet")
        out: list = []
        self._fire(t, out)
        if r.xfer_to is not None:
            self._drop_transfer(r)
        wrap = self._wrap_g[r.via]
        if wrap is None:
            wrap = self._wrap_ch[r.ch]
        if wrap > 0:
            op = self._ops[r.op]
            self._detach(op)
            self._tick += 1
            op.wrap += r.charge   # the slots stay taken: load unchanged
            op.ch_count[r.ch] -= 1
            op.idle = self._tick
            self._attach(op)
            del op.active[r.id]
            self._g_active[r.via] -= 1
            self._c_active[r.ch] -= 1
            self._tseq += 1
            heapq.heappush(self._timers, (t + wrap, self._tseq, op.id, op.reg, 0, WRAP_UP,
                                          r.charge))
        else:
            op = self._release(r)
        self._to_history(r, "finished", op.id)
        if r.sticky:
            self._last_op.pop(r.visitor, None)
            self._last_op[r.visitor] = (op.id, t)
        out.append(Finished(request, op.id, t))
        self._fill(op, t, out)
        return out

    def cancel(self, request: Any, now: Optional[float] = None,
               switched_to: Any = None) -> list:
        """The customer left: ``Cancelled``; an answered one frees its operator's slot.
        ``switched_to``: the conversation (already submitted) the customer moved to, for
        a channel switch (a call-back, a request): ``Cancelled(reason="switched")``."""
        t = self._time(now)   # first: a clock may call back into the router
        r = self._get_live(request, "cancel")
        reason = CANCEL_CUSTOMER
        if switched_to is not None:
            switched_to = self._switches.check(
                request, switched_to, lambda x: x in self._reqs or x in self._history)
            reason = CANCEL_SWITCHED
        out: list = []
        self._fire(t, out)
        if switched_to is not None:
            self._switches.link(request, switched_to)
        op, freed = self._cancel(r, t, out, reason)
        if op is not None:
            self._fill(op, t, out)
        if freed is not None:   # the operator it held is fed again
            self._fill(freed, t, out)
        return out

    def _cancel(self, r: _Req, t: float, out: list, reason: int) -> tuple:
        """End ``r`` as cancelled (``reason``: an index into CANCEL_REASONS); returns the
        operator whose slot it freed and the operator reserved for it (either may be None;
        the caller lets them fill). The counter it adds to is ``cancel_slot``'s."""
        if r.xfer_to is not None:
            self._drop_transfer(r)
        op = freed = None
        if r.state == QUEUED:
            freed = self._unhold(r)
            self._dequeue(r, t, False)
            waited = t - r.wait_since
        else:
            op = self._release(r)
            waited = (r.assigned_at if r.state == ACTIVE else t) - r.wait_since
        self._to_history(r, "cancelled", op.id if op else None)
        early = reason == CANCEL_CUSTOMER and (t - r.arrival) < self._early[r.ch]
        slot = cancel_slot(reason, early)
        if not r.answered:
            self._c_out[r.ch][slot] += 1
        if not r.leg_answered:
            self._g_out[r.home][slot] += 1
        out.append(Cancelled(r.id, t, waited, early, CANCEL_REASONS[reason]))
        return op, freed

    def add_operator(self, operator: Any, groups: list[str], limit: int,
                     status: str = "offline", now: Optional[float] = None,
                     channel_limits: Optional[dict] = None, skills: Optional[dict] = None,
                     levels: Optional[dict] = None, kind: str = "human") -> list:
        """Register an operator (offline unless ``status`` says otherwise);
        ``channel_limits`` caps its conversations per channel (``{"email": 2}``)."""
        t = self._time(now)   # first: a clock may call back into the router
        operator = exact_id("operator", operator)
        if operator in self._ops:
            raise errors.duplicate("operator", operator)
        gs = check_groups(groups, self._cc.group_index)
        check_limit(limit)
        st = check_status(status)
        caps = check_channel_limits(channel_limits, self._cc.channel_index)
        has = self._tags.check(skills, "skills")
        tiers = check_levels(levels, gs, self._cc.group_index)
        kind_i = check_kind(kind)
        out: list = []
        self._fire(t, out)
        self._reg += 1
        op = _Op(operator, limit, self._reg)
        op.ch_limit = caps
        op.ch_count = [0] * self._C
        op.skills = self._tags.register(has)
        op.kind = kind_i
        for g in gs:
            op.members[g] = self._new_member(g)
            op.members[g].level = tiers.get(g, 1)
        op.groups = gs
        op.status = st
        if st == ONLINE:
            self._tick += 1
            op.idle = self._tick
        self._ops[operator] = op
        self._attach(op)
        self._fill(op, t, out)
        return out

    def remove_operator(self, operator: Any, now: Optional[float] = None,
                        requeue: bool = False) -> list:
        """Remove an operator; one who holds conversations needs ``requeue=True``."""
        t = self._time(now)   # first: a clock may call back into the router
        op = self._get_op(operator)
        check_flag("requeue", requeue)
        untold = untold_assigned(self._pending, op.id)
        held = sum(1 for rid in op.active if self._reqs[rid].state == ACTIVE
                   and rid not in untold)
        if held and not requeue:
            raise errors.InvalidState(
                f"operator {operator!r} still holds {held} conversation(s): finish them "
                f"first, or pass requeue=True to send them back to the queue")
        out: list = []
        self._fire(t, out)
        was_online = op.status == ONLINE
        self._detach(op)
        op.status = OFFLINE
        self._attach(op)
        self._reserve_again(op, t)
        self._end_holds(op, "removed", t, out)
        self._fail_incoming(op, t, out)
        self._requeue_all(op, t, out)   # offers, and anything a timer assigned just now
        self._detach(op)
        del self._ops[operator]
        if was_online:
            self._sweep(op.groups, t, out)
        return out

    def set_status(self, operator: Any, status: str, now: Optional[float] = None,
                   requeue: bool = False) -> list:
        """``online``, ``away`` or ``offline``. Leaving ``online`` keeps the operator's
        conversations unless ``requeue=True`` (ignored when going online)."""
        t = self._time(now)   # first: a clock may call back into the router
        op = self._get_op(operator)
        st = check_status(status)
        check_flag("requeue", requeue)
        out: list = []
        self._fire(t, out)
        old = op.status
        if old != st:
            self._change_status(op, st, t, out, "")
            self._reserve_again(op, t)
        if old == ONLINE and st != ONLINE:
            self._end_holds(op, "offline", t, out)
            self._fail_incoming(op, t, out)
        if st != ONLINE and (requeue or old == ONLINE):
            self._requeue_all(op, t, out, offers_only=not requeue)
        if old == ONLINE and st != ONLINE:
            self._sweep(op.groups, t, out)
        self._fill(op, t, out)
        return out

    def set_groups(self, operator: Any, groups: list[str], now: Optional[float] = None) -> list:
        """Move an operator: replace its groups. Kept groups keep their place; waiting
        conversations of the new groups can go to the operator at once."""
        t = self._time(now)   # first: a clock may call back into the router
        op = self._get_op(operator)
        gs = check_groups(groups, self._cc.group_index)
        out: list = []
        self._fire(t, out)
        held = self._unreserve(op)   # moved: its conversation reserves again after the move
        self._detach(op)
        old = op.groups
        kept = [g for g in old if g in gs]
        members = {g: op.members[g] for g in kept}
        for g in gs:
            if g not in members:
                members[g] = self._new_member(g)
        op.groups = kept + [g for g in gs if g not in kept]
        op.members = members
        self._attach(op)
        if held is not None:
            self._reserve_for(held, t)
        if op.status == ONLINE:
            self._sweep([g for g in old if g not in members], t, out)
        self._fill(op, t, out)
        return out

    def set_limit(self, operator: Any, limit: int, now: Optional[float] = None) -> list:
        """Change how many conversations the operator may hold. Lowering it below the
        current load takes nothing away; no new work arrives until the load is below."""
        t = self._time(now)   # first: a clock may call back into the router
        op = self._get_op(operator)
        check_limit(limit)
        out: list = []
        self._fire(t, out)
        held = self._unreserve(op)   # its conversation reserves again, under the new limit
        self._detach(op)
        op.limit = limit
        self._attach(op)
        if held is not None:
            self._reserve_for(held, t)
        self._fill(op, t, out)
        return out

    def ban(self, visitor: Any, until: Optional[float] = None, reason: str = "",
            now: Optional[float] = None, cancel_waiting: bool = True) -> list:
        """Ban a visitor until ``until`` (``None``: until lifted): its submits are
        ``Rejected(reason="banned")``, and (unless ``cancel_waiting=False``) its waiting
        conversations, queued or offered, end as ``Cancelled(reason="banned")``; its
        active ones stay with their operators. Banning again replaces the ban."""
        t = self._time(now)
        u = Bans.check(visitor, until, reason, t)
        check_flag("cancel_waiting", cancel_waiting)
        visitor = exact_id("visitor", visitor)
        out: list = []
        self._fire(t, out)
        self._bans.ban(visitor, u, reason, t)
        if cancel_waiting:
            waiting = sorted((r for r in self._reqs.values()
                              if r.visitor == visitor and r.state != ACTIVE), key=lambda r: r.seq)
            freed = [self._cancel(r, t, out, CANCEL_BANNED) for r in waiting]
            for op, held in freed:   # every waiting one is gone before a freed slot takes more
                target = op if op is not None else held   # an offered one holds nobody
                if target is not None:
                    self._fill(target, t, out)
        return out

    def unban(self, visitor: Any, now: Optional[float] = None) -> list:
        """Lift a ban. Raises UnknownId when the visitor is not banned."""
        t = self._time(now)
        self._bans.require(visitor)
        if not self._bans.is_banned(visitor, t):
            raise errors.UnknownId(f"visitor {visitor!r} is not banned")
        out: list = []
        self._fire(t, out)
        self._bans.unban(visitor, t)
        return out

    def bans(self, now: Optional[float] = None) -> list:
        """The bans in force at ``now``, in the order they were set. Fires no timers."""
        t = self._read_time(now)
        return self._bans.views(t)

    def accepting(self, group: str, channel: str, now: Optional[float] = None,
                  visitor: Any = None) -> bool:
        """Whether a submit to ``group`` on ``channel`` (by ``visitor``) would be admitted:
        for a chat widget to hide itself when the floor is overloaded. Fires no timers."""
        t = self._read_time(now)
        gi = self._cc.group_index.get(group) if isinstance(group, str) else None
        if gi is None:
            raise errors.unknown("group", group, self._cc.group_index)
        if not isinstance(channel, str) or channel not in self._cc.channel_index:
            raise errors.unknown("channel", channel, self._cc.channel_index)
        ci = self._cc.channel_index[channel]
        check_visitor(visitor)
        if self._hidden[gi] or not self._group_takes[gi][ci]:
            return False
        if self._overloaded(gi, ci, t):
            return False
        if not any(self._able(g, ci) for g in self._reach(gi, ci)):
            return False   # nobody online who could take it: the offline form
        return not (visitor is not None and self._bans.is_banned(visitor, t))

    def _restart_in(self, r: _Req, g: int, now: float, unhold: bool) -> tuple:
        """A transfer's first half: ``r`` leaves its operator (or its queues) and begins a
        new stay with ``g`` alone as its eligible groups; returns the operator it left and
        (with ``unhold``) the one its reservation held (else ``_assign`` ends it)."""
        held_by = freed = None
        if r.state == ACTIVE:
            r.wait_since = now   # an answered conversation's new wait starts now
        r.leg_answered = False   # a new stay, counted in the group that takes it
        if r.state == QUEUED:
            if unhold:
                freed = self._unhold(r)
            self._dequeue(r, now, False)
        else:
            held_by = r.op
            self._release(r)
        r.state = QUEUED
        r.op = None
        r.via = -1
        r.gen += 1
        r.home = g
        r.elig = [g]
        return held_by, freed

    def _move(self, r: _Req, g: int, target: Any, now: float, out: list,
              escalated: bool) -> None:
        """Transfer: the conversation leaves its operator (if any) and is routed anew in
        group ``g`` (reserved for ``target`` for the group's transfer_timeout)."""
        was_active = r.state == ACTIVE
        held_by, freed = self._restart_in(r, g, now, unhold=True)
        r.prefer = target
        r.prefer_until = now + self._transfer_timeout[g] if target is not None else 0.0
        out.append(Transferred(r.id, now, held_by, self._cc.group_names[g], target, escalated))
        self._route_new(r, now, out)
        if was_active:
            self._wait_again(r, now)
        if held_by is not None:
            self._fill(self._ops[held_by], now, out)   # the sender's freed slot
        if freed is not None:   # the operator it held is fed again
            self._fill(freed, now, out)

    def transfer(self, request: Any, group: Optional[str] = None, operator: Any = None,
                 now: Optional[float] = None, if_busy: str = "wait") -> list:
        """Hand a conversation to another group, or to an operator. An operator who can take
        it gets it at once; one who cannot: with ``if_busy="wait"`` an active conversation
        stays with its sender until they can (``TransferFailed`` after the group's
        transfer_timeout), a waiting one waits for them alone that long; with
        ``if_busy="refuse"`` the call raises InvalidState. ``Transferred``, then the new
        routing decision. The conversation keeps its arrival time. Raises UnknownId,
        InvalidArgument, InvalidState."""
        t = self._time(now)
        r = self._get_live(request, "transfer")
        if (group is None) == (operator is None):
            raise errors.InvalidArgument("transfer needs exactly one of group= or operator=")
        if if_busy not in IF_BUSY:
            raise errors.InvalidArgument(
                f"if_busy must be \"wait\" or \"refuse\", got {if_busy!r}")
        op = None
        if group is not None:
            gi = self._cc.group_index.get(group) if isinstance(group, str) else None
            if gi is None:
                raise errors.unknown("group", group, self._cc.group_index)
            if not self._group_takes[gi][r.ch]:
                raise errors.InvalidState(
                    channel_refused(self._cc, request, r.ch, gi, "transfer"))
        else:
            op = self._get_op(operator)
            if op.status != ONLINE:
                raise errors.InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are "
                    f"{STATUSES[op.status]}; transfer to a group instead")
            if not op.groups:
                raise errors.InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are in no group")
            if r.op == operator and r.state != QUEUED:
                if r.xfer_to is None or r.xfer_to == operator:
                    raise errors.InvalidState(
                        f"conversation {request!r} is already with operator {operator!r}")
                # back to the one who has it: the pending transfer is withdrawn
                out = []
                self._fire(t, out)
                if (r.op == operator and r.state != QUEUED and r.xfer_to is not None
                        and r.xfer_to != operator):
                    self._fail_transfer(r, t, out, "withdrawn")
                return out
            if r.home in op.members:
                gi = r.home
            else:
                gi = next((g for g in op.groups if self._group_takes[g][r.ch]), -1)
                if gi < 0:
                    raise errors.InvalidState(
                        channel_refused(self._cc, request, r.ch, None, "transfer",
                                        operator))
            if if_busy == "refuse" and not self._takes(op, r):
                raise errors.InvalidState(self._busy(request, op, r))
        out: list = []
        self._fire(t, out)
        if r.xfer_to is not None:     # a new transfer replaces the pending one
            self._drop_transfer(r)
        if op is None:
            self._move(r, gi, None, t, out, False)
        else:
            self._to_operator(r, op, gi, t, out, if_busy)
        return out

    def _busy(self, request: Any, op: _Op, r: _Req) -> str:
        cap = op.ch_limit[r.ch]
        if op.id in r.excluded:
            why = "they declined it or let its offer expire"
        elif cap >= 0 and op.ch_count[r.ch] >= cap:
            why = (f"they hold {op.ch_count[r.ch]} of their {cap} "
                   f"{self._cc.channel_names[r.ch]!r} conversation(s)")
        else:
            why = (f"they are full ({op.load}/{op.limit} slots taken, it needs "
                   f"{max(self._charge(op, r.ch), 1)})")
        return (f"cannot transfer {request!r} to operator {op.id!r}: {why}; try again "
                f"later, or pass if_busy=\"wait\" to leave it with its operator until they can")

    def _to_operator(self, r: _Req, op: _Op, g: int, now: float, out: list,
                     if_busy: str) -> None:
        """Transfer to an operator, after the call's timers fired (which may have changed
        what the checks saw)."""
        if op.status != ONLINE or not op.groups:
            out.append(TransferFailed(r.id, now, op.id, r.op, "unavailable"))
            return
        if r.op == op.id and r.state != QUEUED:
            return                    # a timer gave it to them already
        if g not in op.members:
            g = self._taking_group(op, g, r.ch)
        if self._takes(op, r):
            self._hand_over(r, op, g, now, out)
        elif if_busy == "refuse":
            out.append(TransferFailed(r.id, now, op.id, r.op, "busy"))
        elif r.state == ACTIVE:       # it stays with its operator until the target can
            r.xfer_to = op.id
            r.xfer_group = g
            r.xfer_n += 1
            op.incoming[r.id] = None
            self._tseq += 1
            heapq.heappush(self._timers, (now + self._transfer_timeout[g], self._tseq, r.id,
                                          r.seq, r.xfer_n, TRANSFER, 0))
        else:                         # a waiting customer waits for the target alone
            self._move(r, g, op.id, now, out, False)

    def escalate(self, request: Any, now: Optional[float] = None) -> list:
        """Transfer a conversation to its group's ``escalate_to`` group (the next line).
        Raises InvalidState past the last line."""
        t = self._time(now)
        r = self._get_live(request, "escalate")
        target = self._escalate[r.home]
        if target < 0:
            raise errors.InvalidState(
                f"cannot escalate {request!r}: group {self._cc.group_names[r.home]!r} has no "
                f"escalate_to (it is the last line)")
        if not self._group_takes[target][r.ch]:
            raise errors.InvalidState(
                channel_refused(self._cc, request, r.ch, target, "escalate"))
        out: list = []
        self._fire(t, out)
        if r.xfer_to is not None:
            self._drop_transfer(r)
        self._move(r, target, None, t, out, True)
        return out

    def _offer(self, request: Any, operator: Any, verb: str) -> _Req:
        r = self._get_live(request, verb)
        if r.state != OFFERED:
            raise errors.InvalidState(
                f"cannot {verb} conversation {request!r}: it is {STATE_NAMES[r.state]}, "
                f"not offered")
        if operator is not None:
            check_id("operator", operator)
            if operator != r.op:
                raise errors.InvalidState(
                    f"cannot {verb} conversation {request!r} as {operator!r}: it is offered "
                    f"to {r.op!r}")
        return r

    def accept(self, request: Any, operator: Any = None, now: Optional[float] = None) -> list:
        """The operator takes the offered conversation: ``Accepted``. If the offer expired
        by ``now``, the returned events say so (``OfferExpired``) and there is no
        ``Accepted``. Raises InvalidState when it is not offered (to ``operator``)."""
        return self._answer_offer(request, operator, now, True)

    def decline(self, request: Any, operator: Any = None, now: Optional[float] = None) -> list:
        """The operator turns the offer down: the conversation goes back to its place and
        on to someone else (never again to this operator)."""
        return self._answer_offer(request, operator, now, False)

    def _answer_offer(self, request: Any, operator: Any, now: Optional[float],
                      accept: bool) -> list:
        t = self._time(now)   # first: a clock may call back into the router
        verb = "accept" if accept else "decline"
        self._get_live(request, verb)
        if operator is not None:
            check_id("operator", operator)
        if untold_expiry(self._pending, request, operator):
            out: list = []
            self._fire(t, out)
            return out        # the offer expired by now: the events say what happened
        r = self._offer(request, operator, verb)
        out = []
        self._fire(t, out)
        op = self._ops[r.op]
        op.missed = 0
        if accept:
            r.state = ACTIVE
            self._answered(r, r.via, t)
            r.assigned_at = t
            out.append(Accepted(request, op.id, t, t - r.wait_since))
        else:
            r.excluded.append(op.id)
            self._requeue(r, t, out)
            self._fill(op, t, out)   # the freed slot takes what else waits for it
        return out

    def categorize(self, request: Any, name: str, now: Optional[float] = None) -> list:
        """Tag a conversation, live or kept in history, with a category (``"non_target"``
        is just a name); tagging again replaces it. Raises UnknownId, InvalidArgument."""
        t = self._time(now)
        check_id("conversation", request)
        Categories.check(name)
        r = self._reqs.get(request)
        v = self._history.get(request) if r is None else None
        if r is None and v is None:
            raise errors.unknown("conversation", request)
        self._categories.room(name)
        out: list = []
        self._fire(t, out)
        if r is not None:
            self._categories.move(r.category, name, r.ch, r.home)
            r.category = name
        else:
            self._categories.move(v.category, name, self._cc.channel_index[v.channel],
                                  self._cc.group_index[v.group])
            self._history[request] = msgspec.structs.replace(v, category=name)
        return out

    def _overloaded(self, g: int, c: int, now: float) -> bool:
        """Nobody in the group could answer a conversation of channel ``c`` at once
        (``pick`` finds nobody) and max_queue is reached in its queue of that channel, or
        the wait predicted for a newcomer is longer than max_expected_wait."""
        mq = self._max_queue[g]
        me = self._max_ewt[g]
        if mq is None and me is None:
            return False
        if mq is not None and len(self._queues[g * self._C + c]) >= mq:
            return self._pick(g, c, None) is None
        if me is None:
            return False
        w = self._newcomer_wait(g, c, now)   # 0 when someone could answer it now
        return w is not None and w > me

    def _able(self, g: int, c: int) -> bool:
        """Someone online in group ``g`` could take a conversation of channel ``c`` (a
        limit above 0 and no cap of 0 for it), free or not."""
        for op in self._ops.values():
            if (op.status == ONLINE and g in op.members and op.limit > 0
                    and op.ch_limit[c] != 0):
                return True
        return False

    def _reach(self, g: int, c: int) -> list[int]:
        """The groups a conversation of channel ``c`` submitted to ``g`` now would be
        eligible for at once: ``g`` and what its rules (and theirs) add at submit."""
        out = [g]
        i = 0
        while i < len(out):
            h = out[i]
            i += 1
            for rule in self._rules[h]:
                if rule.kind == RULE_AFTER:
                    fire = rule.value <= 0
                elif rule.kind == RULE_NO_OPERATORS:
                    fire = self._g_online[h] == 0
                else:
                    fire = self._g_waiting[h] >= rule.value
                if fire:
                    out += [t for t in rule.to if t not in out and self._group_takes[t][c]]
        return out

    def hold(self, group: str, channel: str, hold: Any, seconds: float,
             exclude: Any = None, now: Optional[float] = None) -> list:
        """Hold a slot for a conversation the host places itself: the operator ``pick``
        would name keeps one ``channel`` conversation's worth of slots for ``seconds``
        (``Held``), or ``HoldRefused`` when nobody could take one. See docs/semantics.md,
        "Holds"."""
        t = self._time(now)   # first: a clock may call back into the router
        gi, ci = self._group_channel(group, channel)
        hold = exact_id("hold", hold)
        if exclude is not None:
            check_id("operator", exclude)
        if hold in self._holds:
            raise errors.duplicate("hold", hold)
        secs = check_hold_seconds(seconds)
        out: list = []
        self._fire(t, out)
        opid = self._pick(gi, ci, exclude)
        if opid is None:
            out.append(HoldRefused(hold, group, channel, t))
            return out
        op = self._ops[opid]
        charge = self._charge(op, ci)
        self._detach(op)
        op.load += charge
        op.ch_count[ci] += 1
        self._attach(op)
        self._hseq += 1
        until = t + secs
        self._holds[hold] = (opid, gi, ci, charge, until, self._hseq)
        op.holds[hold] = None
        self._tseq += 1
        heapq.heappush(self._timers, (until, self._tseq, hold, self._hseq, 0, HOLD, 0))
        out.append(Held(hold, opid, group, channel, t, until))
        return out

    def release_hold(self, hold: Any, now: Optional[float] = None) -> list:
        """End a hold (the conversation it was for has arrived, or will not come):
        ``HoldEnded(reason="released")``, then what the freed slot takes — first the
        waiting conversations that prefer the operator. Raises UnknownId for a hold that
        is not live."""
        t = self._time(now)   # first: a clock may call back into the router
        check_id("hold", hold)
        if hold not in self._holds:
            raise errors.unknown("hold", hold)
        out: list = []
        self._fire(t, out)
        self._end_hold(hold, "released", t, out)
        return out

    def _group_channel(self, group: Any, channel: Any) -> tuple:
        gi = self._cc.group_index.get(group) if isinstance(group, str) else None
        if gi is None:
            raise errors.unknown("group", group, self._cc.group_index)
        ci = self._cc.channel_index.get(channel) if isinstance(channel, str) else None
        if ci is None:
            raise errors.unknown("channel", channel, self._cc.channel_index)
        return gi, ci

    def advance(self, now: Optional[float] = None) -> list:
        """Fire the timers due by ``now`` (overflow after a wait)."""
        t = self._time(now)
        out: list = []
        self._fire(t, out)
        return out

    def apply(self, cmd: Any) -> list:
        """Apply one Command struct; same result as the matching method (the command
        table's dispatch, shared with every wrapper)."""
        return protocol.apply(self, cmd)

    def apply_many(self, cmds: Any) -> list:
        """Apply commands in order. On a failure raise :class:`BatchError` carrying the
        events of the commands applied before it (they stay applied)."""
        out: list = []
        for i, cmd in enumerate(iterate_commands(cmds)):
            try:
                out += self.apply(cmd)
            except errors.RoutingError as e:
                raise errors.BatchError(i, e, out) from e
        return out

    def apply_packed(self, data: Any) -> bytes:
        """``apply_many`` in binary (pyroute.packed, docs/packed.md): packed command
        records in, packed event records out; the same bytes as the native engine's."""
        return packed.apply(self, data)

    def apply_each(self, cmds: Any) -> list:
        """Apply commands in order, each on its own: one item a command, its events or
        the exception that refused it (not raised; the ones after it go on). See the
        native engine's ``apply_each``."""
        res: list = []
        for cmd in iterate_commands(cmds):
            try:
                res.append(self.apply(cmd))
            except (errors.RoutingError, TypeError, ValueError, OverflowError,
                    RecursionError) as e:
                res.append(e)
        return res

    # ------------------------------------------------------------------ views
    def operator(self, operator: Any) -> OperatorView:
        """A snapshot of one operator. O(groups + load)."""
        op = self._get_op(operator)
        names = self._cc.group_names
        cn = self._cc.channel_names
        return OperatorView(op.id, STATUSES[op.status], op.limit, op.load,
                            tuple(names[g] for g in op.groups), tuple(op.active), op.wrap,
                            {cn[c]: n for c, n in enumerate(op.ch_limit) if n >= 0},
                            {self._tags.names[t]: n for t, n in sorted(op.skills.items())},
                            {names[g]: op.members[g].level for g in op.groups
                             if op.members[g].level != 1}, KINDS[op.kind], op.res,
                            tuple(op.holds))

    def request(self, request: Any) -> RequestView:
        """A snapshot of one conversation, live or kept in history. O(eligible groups)."""
        check_id("conversation", request)
        r = self._reqs.get(request)
        if r is not None:
            return self._view(r, STATE_NAMES[r.state], r.op)
        v = self._history.get(request)
        if v is None:
            raise errors.unknown("conversation", request)
        return self._linked(v)

    def pick(self, group: str, channel: str, exclude: Any = None) -> Any:
        """The operator ``group``'s policy would give a new conversation of ``channel``
        now (online, room for the channel, level 1 where the group has tiers), skipping
        ``exclude``; None when nobody could. Changes nothing, fires no timers."""
        gi, ci = self._group_channel(group, channel)
        if exclude is not None:
            check_id("operator", exclude)
        return self._pick(gi, ci, exclude)

    def _pick(self, gi: int, ci: int, exclude: Any) -> Any:
        if not self._group_takes[gi][ci]:
            return None
        tiers = self._level_step[gi] is not None
        for key in self._opsets[gi]:
            op = self._ops[key[3]]
            if (op.id != exclude and self._fits_channel(op, ci)
                    and (not tiers or op.members[gi].level <= 1)):
                if op.res is not None:   # held unless a new one would rank above its own
                    k = self._now if self._deadline else self._aging * self._now
                    if not k + self._off[gi][ci] < self._rank(op, self._reqs[op.res])[0]:
                        continue
                return op.id
        return None

    def next_timer(self) -> Optional[float]:
        """The due time of the earliest timer set, or ``None`` (a lower bound: a timer whose
        conversation has left still counts until reached). O(1)."""
        return self._timers[0][0] if self._timers else None

    def explain(self, request: Any) -> Explanation:
        """The last routing decision for a conversation (live or kept in history): the
        operators of its eligible groups as the decision saw them, and the rule that decided.
        Needs ``Router(config, explain=True)``; raises InvalidState otherwise, UnknownId for
        an id it does not know. O(1); recording costs O(members of the eligible groups) per
        decision, and nothing with ``explain=False``."""
        check_id("conversation", request)
        if self._explained is None:
            raise errors.InvalidState(EXPLAIN_OFF)
        e = self._explained.get(request)
        if e is None:
            raise errors.unknown("conversation", request)
        return e

    def queue(self, group: str, channel: Optional[str] = None) -> list:
        """Waiting conversation ids of a group (one channel, or all merged) in the order an
        operator of that group alone would take them. O(n log n)."""
        gi = self._cc.group_index.get(group) if isinstance(group, str) else None
        if gi is None:
            raise errors.unknown("group", group, self._cc.group_index)
        C = self._C
        if channel is not None:
            ci = self._cc.channel_index.get(channel) if isinstance(channel, str) else None
            if ci is None:
                raise errors.unknown("channel", channel, self._cc.channel_index)
            return [rid for (_, _, rid) in self._queues[gi * C + ci]]
        items = [(k + self._off[gi][c], seq, rid) for c in range(C)
                 for (k, seq, rid) in self._queues[gi * C + c]]
        items.sort(key=lambda x: (x[0], x[1]))
        return [rid for (_, _, rid) in items]

    def stats(self, now: Optional[float] = None) -> Stats:
        """Monitoring counters at ``now``, kept incrementally: O(channels + groups). The
        router is brought to ``now`` first, as ``advance(now)`` would: the timers due fire
        and the events they cause come first in the next call's return."""
        t = self._time(now)
        self._now = t      # read at now: the router is at now, as advance(now) leaves it
        c_first: dict = {}
        g_first: dict = {}
        live = Live(self._C, self._G)
        for r in self._reqs.values():     # the oracle scans; the native core keeps indexes
            if r.state == QUEUED:
                if r.arrival < c_first.get(r.ch, float("inf")):
                    c_first[r.ch] = r.arrival
                over = t - r.arrival > self._tw[r.ch]
                live.c_over[r.ch] += over
                for g in r.queued_in:
                    if r.arrival < g_first.get(g, float("inf")):
                        g_first[g] = r.arrival
                    live.g_over[g] += over
        live.c_arrivals = list(self._c_arr)
        live.g_arrivals = list(self._g_arr)
        for op in self._ops.values():     # O(operators x (channels + groups))
            if op.status != ONLINE:
                continue
            bot = op.kind == 1
            free = max(0, op.limit - op.load)
            for c in range(self._C):
                if not any(self._group_takes[g][c] for g in op.groups):
                    continue   # none of its groups takes the channel
                k = can_take(free, self._charge(op, c), op.ch_limit[c], op.ch_count[c])
                live.c_can_take[c] += k
                if bot:
                    live.c_bot_can_take[c] += k
            if bot:
                live.bots_online += 1
                live.bot_free += free
                for g in op.groups:
                    live.g_bots_online[g] += 1
                    live.g_bot_free[g] += free

        c_res = [0] * self._C
        g_res = [0] * self._G
        for op in self._ops.values():
            if op.res is not None:
                c_res[self._reqs[op.res].ch] += 1
                for g in op.groups:
                    g_res[g] += 1
        c_held = [0] * self._C
        g_held = [0] * self._G
        for (_op, g, c, _charge, _until, _n) in self._holds.values():
            c_held[c] += 1
            g_held[g] += 1
        return build_stats(
            t, self._cc, self._online, self._free, len(self._ops),
            self._c_waiting, self._c_active, self._c_out,
            [t - c_first[c] if c in c_first else None for c in range(self._C)],
            self._g_waiting, self._g_active, self._g_online, self._g_free, self._g_out,
            [t - g_first[g] if g in g_first else None for g in range(self._G)],
            self._categories, live, c_reserved=c_res, g_reserved=g_res,
            c_held=c_held, g_held=g_held)

    # ------------------------------------------------------------------ introspection
    def _state(self) -> dict:
        """The full state in a canonical form; equal for both engines after equal calls."""
        gn, cn = self._cc.group_names, self._cc.channel_names
        ops = []
        for op in sorted(self._ops.values(), key=lambda o: o.reg):
            ops.append((op.id, STATUSES[op.status], op.limit, op.load, op.wrap, op.missed,
                        tuple(op.ch_limit), tuple(op.ch_count), sorted(op.skills.items()), op.kind,
                        op.reg,
                        op.last_assign, op.idle, op.handled, tuple(op.active),
                        tuple((gn[g], op.members[g].join, op.members[g].rr, op.members[g].rand,
                               op.members[g].level) for g in op.groups), tuple(op.incoming),
                        op.res, tuple(op.holds)))
        reqs = []
        for r in sorted(self._reqs.values(), key=lambda r: r.seq):
            reqs.append((r.id, STATE_NAMES[r.state], cn[r.ch], gn[r.home],
                         r.prio, r.arrival, r.k, r.seq, r.gen, r.op,
                         gn[r.via] if r.via >= 0 else None,
                         r.assigned_at if r.state != QUEUED else None,
                         tuple(gn[g] for g in r.elig), tuple(gn[g] for g in r.queued_in),
                         r.category, r.answered, r.ret_next, r.offers, tuple(r.excluded),
                         r.charge, sorted(r.skills.items()), r.prefer,
                         r.prefer_until if r.prefer is not None else None,
                         r.xfer_to, gn[r.xfer_group] if r.xfer_to is not None else None,
                         r.xfer_n, r.ret_wait, r.hold, r.res,
                         r.wait_since, r.leg_answered, r.visitor))
        queues = {f"{gn[g]}/{cn[c]}": [rid for (_, _, rid) in self._queues[g * self._C + c]]
                  for g in range(self._G) for c in range(self._C)
                  if self._queues[g * self._C + c]}
        opsets = {gn[g]: [key[3] for key in self._opsets[g]] for g in range(self._G)
                  if self._opsets[g]}
        timers = []
        for (due, _, rid, seq, gen, g, ri) in sorted(self._timers, key=lambda t: t[:2]):
            if g == WRAP_UP:
                live = rid in self._ops and self._ops[rid].reg == seq
                kind = "wrap_up"
            elif g == HOLD:
                live = rid in self._holds and self._holds[rid][5] == seq
                kind = "hold"
            else:
                live = rid in self._reqs and self._reqs[rid].seq == seq
                kind = ("overflow" if g >= 0 else "transfer" if g == TRANSFER
                        else "retention")
            timers.append((due, kind, rid if live else None, seq, gen,
                           gn[g] if g >= 0 else None, ri))
        return {
            "now": self._now, "seq": self._seq, "reg": self._reg, "join": self._join,
            "tick": self._tick, "rng": list(self._rng),
            "operators": ops, "requests": reqs, "queues": queues, "opsets": opsets,
            "timers": timers, "history": [self._linked(v) for v in self._history.values()],
            "switches": self._switches.state(),
            "bans": self._bans.state(), "categories": dict(self._categories.counts),
            "outcomes": ([list(x) for x in self._c_out], [list(x) for x in self._g_out]),
            "skills": list(self._tags.names),
            "sticky": [(v, op, at) for v, (op, at) in self._last_op.items()],
            "pending": list(self._pending),
            "holds": [(hid, op, gn[g], cn[c], charge, until, n)
                      for hid, (op, g, c, charge, until, n) in self._holds.items()],
            "hseq": self._hseq,
            "ewt": [tuple(st) for st in self._qst],
            "live": (list(self._c_arr), list(self._g_arr),
                     {c: dict(x) for c, x in self._categories.by_channel.items() if x},
                     {g: dict(x) for g, x in self._categories.by_group.items() if x}),
            "counters": (list(self._g_waiting), list(self._g_online), list(self._g_free),
                         list(self._g_active), list(self._c_waiting), list(self._c_active),
                         self._online, self._free, self._unres),
        }

    def check(self) -> None:
        """Verify internal consistency; raises AssertionError with what is wrong."""
        C, G = self._C, self._G
        for q, st in enumerate(self._qst):
            if not (len(st) == 7 and all(0.0 <= v < math.inf for v in st[1:])):
                raise AssertionError(f"queue {q}: expected-wait record {st}")
        g_wait = [0] * G
        c_wait = [0] * C
        for r in self._reqs.values():
            for g in r.elig:
                if not self._group_takes[g][r.ch]:
                    raise AssertionError(f"{r.id!r} eligible for group {g}, which does not "
                                         f"take its channel {r.ch}")
            if r.state == QUEUED:
                if not (r.queued_in and sorted(r.queued_in) == sorted(r.elig)):
                    raise AssertionError(f"{r.id!r} queued in {r.queued_in} but eligible for {r.elig}")
                for g in r.queued_in:
                    if not ((r.k, r.seq, r.id) in self._queues[g * C + r.ch]):
                        raise AssertionError('(r.k, r.seq, r.id) in self._queues[g * C + r.ch]')
                    g_wait[g] += 1
                c_wait[r.ch] += 1
                if not (r.op is None):
                    raise AssertionError('r.op is None')
            else:
                if not (not r.queued_in and r.op in self._ops):
                    raise AssertionError('not r.queued_in and r.op in self._ops')
                if not (r.id in self._ops[r.op].active):
                    raise AssertionError('r.id in self._ops[r.op].active')
        for i, q in enumerate(self._queues):
            for (_, _, rid) in q:
                if not (self._reqs[rid].state == QUEUED):
                    raise AssertionError('self._reqs[rid].state == QUEUED')
        if not (g_wait == self._g_waiting):
            raise AssertionError((g_wait, self._g_waiting))
        if not (c_wait == self._c_waiting):
            raise AssertionError('c_wait == self._c_waiting')
        open_ = [0] * C
        for r in self._reqs.values():
            if not r.answered:
                open_[r.ch] += 1
        for c in range(C):
            row = self._c_out[c]
            decided = (row[OUT_ANSWERED] + row[OUT_ABANDONED] + row[OUT_EARLY]
                       + row[OUT_SWITCHED] + sum(row[OUT_REJECTED:]))
            if decided + open_[c] != row[OUT_SUBMITTED]:
                raise AssertionError(
                    f"channel {self._cc.channel_names[c]!r}: answered + abandoned + early + "
                    f"switched + rejected ({decided}) + open ({open_[c]}) != submitted "
                    f"({row[OUT_SUBMITTED]})")
        queued = [r for r in self._reqs.values() if r.state == QUEUED]
        for kept, exact in [(self._c_arr[c], [r.arrival for r in queued if r.ch == c])
                            for c in range(C)] + [
                (self._g_arr[g], [r.arrival for r in queued if g in r.queued_in])
                for g in range(G)]:
            if not close_sum(kept, exact):
                raise AssertionError(f"sum of waiting arrivals {kept} != {math.fsum(exact)}")
        if sum(len(op.holds) for op in self._ops.values()) != len(self._holds):
            raise AssertionError("every live hold is on exactly one operator's list")
        g_on = [0] * G
        g_free = [0] * G
        for op in self._ops.values():
            held = [self._reqs[rid] for rid in op.active]
            holds = [self._holds[hid] for hid in op.holds]
            if any(h[0] != op.id for h in holds):
                raise AssertionError(f"operator {op.id!r}: a hold of another operator")
            if holds and op.status != ONLINE:
                raise AssertionError(f"operator {op.id!r}: holds while not online")
            if op.ch_count != [sum(1 for x in held if x.ch == c)
                               + sum(1 for h in holds if h[2] == c) for c in range(C)]:
                raise AssertionError(f"operator {op.id!r}: channel counts")
            if not (op.load == sum(x.charge for x in held) + op.wrap
                    + sum(h[3] for h in holds)):
                raise AssertionError('op.load == conversations + wrap-up + holds')
            for rid in op.active:
                if not (self._reqs[rid].op == op.id):
                    raise AssertionError('self._reqs[rid].op == op.id')
            for g in op.groups:
                m = op.members[g]
                eligible = op.status == ONLINE and op.load < op.limit
                if not ((m.key is not None) == eligible):
                    raise AssertionError('(m.key is not None) == eligible')
                if eligible:
                    if not (m.key == self._key(op, g) and m.key in self._opsets[g]):
                        raise AssertionError('m.key == self._key(op, g) and m.key in self._opsets[g]')
                if op.status == ONLINE:
                    g_on[g] += 1
                    g_free[g] += max(0, op.limit - op.load)
        if not (g_on == self._g_online and g_free == self._g_free):
            raise AssertionError('g_on == self._g_online and g_free == self._g_free')
        for r in self._reqs.values():
            if r.xfer_to is None:
                continue
            target = self._ops.get(r.xfer_to)
            if not (r.state == ACTIVE and target is not None and r.op != r.xfer_to
                    and r.id in target.incoming and target.status == ONLINE):
                raise AssertionError(f"pending transfer of {r.id!r} to {r.xfer_to!r}: "
                                     f"state {STATE_NAMES[r.state]}, held by {r.op!r}")
            if self._takes(target, r):
                raise AssertionError(f"{r.xfer_to!r} could take {r.id!r}, transferred to them")
        for op in self._ops.values():
            for rid in op.incoming:
                if rid not in self._reqs or self._reqs[rid].xfer_to != op.id:
                    raise AssertionError(f"operator {op.id!r}: incoming {rid!r} not theirs")
            for c, cap in enumerate(op.ch_limit):
                if cap >= 0 and op.ch_count[c] > cap:
                    raise AssertionError(f"operator {op.id!r}: over its cap for channel {c}")
        in_sets = sum(1 for op in self._ops.values() for g in op.groups
                      if op.members[g].key is not None)
        if sum(len(s) for s in self._opsets) != in_sets:
            raise AssertionError("operator sets hold operators without room")
        self._check_reservations()

    def _check_reservations(self) -> None:
        """Reservations pair one queued conversation with one online operator who could
        take it once drained; a conversation without one has nobody left who could; and
        work conservation: no queued conversation fits an operator its reservation does
        not hold back."""
        now = self._now
        unres = 0
        for r in self._reqs.values():
            if r.hold != (r.state == QUEUED and self._reserve[r.ch]):
                raise AssertionError(f"{r.id!r}: hold {r.hold} but {STATE_NAMES[r.state]}")
            if not r.hold:
                if r.res is not None:
                    raise AssertionError(f"{r.id!r} reserves {r.res!r} without waiting")
                continue
            if r.res is None:
                unres += 1
                for op in self._ops.values():
                    if op.status == ONLINE and op.res is None and any(
                            g in op.members and self._could(op, r, g, now) for g in r.elig):
                        raise AssertionError(f"{r.id!r} reserves nobody but {op.id!r} could drain")
            elif self._ops[r.res].res != r.id:
                raise AssertionError(f"{r.id!r} reserves {r.res!r}, which is not reserved for it")
        if unres != self._unres:
            raise AssertionError(("conversations with no operator reserved", unres, self._unres))
        for op in self._ops.values():
            if op.res is None:
                continue
            r = self._reqs.get(op.res)
            if r is None or r.res != op.id or op.status != ONLINE or not any(
                    g in op.members and self._could(op, r, g, now) for g in r.elig):
                raise AssertionError(f"operator {op.id!r} reserved for {op.res!r} in vain")
        for r in self._reqs.values():
            if r.state != QUEUED:
                continue
            for op in self._ops.values():
                if op.status != ONLINE:
                    continue
                for g in r.elig:
                    if (g in op.members and self._fits(op, r, g, now)
                            and not self._held(op, r)):
                        raise AssertionError(
                            f"{r.id!r} waits while {op.id!r} could take it through "
                            f"{self._cc.group_names[g]!r}")
