"""The discrete-event loop of ``pyroute simulate``.

It drives the real Router — native by default, the reference engine on request — with
arrivals, handling, patience and shifts; every routing decision is the Router's own (there
is no second implementation of routing here). Time advances from event to event; before
each event the Router's own timers due by then are fired one due time at a time
(``next_timer``/``advance``), so overflow, tiers and offers happen at their exact moments.

Random streams are per traffic stream and per purpose (arrivals, handling, patience, early
cancels, routing choices), seeded from the scenario's seed: two configurations run with
the same seed see the same customers (common random numbers), which is what makes
``--compare`` meaningful.
"""

from __future__ import annotations

import heapq
import math
import random
import time as _time
from array import array
from pathlib import Path
from typing import Any, Callable, Optional

import msgspec

from .. import reference
from ..errors import ConfigError
from ..events import Accepted, Assigned, Offered, Queued, Rejected
from ..router import Router
from .report import Collector, Report
from .scenario import Arrival, Dist, Scenario, read_arrivals

# event kinds in the simulator's heap
ARRIVE, FINISH, PATIENCE, EARLY, STATUS, SAMPLE = range(6)
MAX_HOPS = 4   # transfers and escalations of one conversation, at most


def sampler(d: Optional[Dist], rng: random.Random) -> Optional[Callable[[], float]]:
    """A function drawing from ``d`` with ``rng`` (None for None)."""
    if d is None:
        return None
    if d.dist == "fixed":
        mean = d.mean
        return lambda: mean
    if d.dist == "exp":
        rate = 1.0 / d.mean
        ev = rng.expovariate
        return lambda: ev(rate)
    sigma2 = math.log(1.0 + (d.sd / d.mean) ** 2)
    mu, sigma = math.log(d.mean) - sigma2 / 2, math.sqrt(sigma2)
    ln = rng.lognormvariate
    return lambda: ln(mu, sigma)


def _rng(seed: int, stream: int, purpose: int) -> random.Random:
    return random.Random((seed * 1_000_003 + stream) * 16 + purpose)


class _Stream:
    """One traffic stream's generators (common random numbers: one RNG per purpose)."""

    __slots__ = ("t", "ch", "g", "prio", "skills", "handle", "patience", "early",
                 "early_u", "route_u", "bot_handle", "slowdown", "next_gap", "rows", "row",
                 "spec", "early_share", "early_window", "rec_handle", "rec_patience", "moves")


def simulate(scenario: Scenario, seed: Optional[int] = None, engine: str = "native",
             progress: bool = False, base: Path | None = None) -> Report:
    """Run ``scenario`` and return its :class:`Report`. ``seed`` overrides the scenario's;
    ``engine`` is ``"native"`` or ``"reference"``; ``progress`` shows a progress bar
    (on a terminal) for runs longer than a second. Recorded arrival files are read
    relative to ``base``. Raises ConfigError for a scenario the router refuses."""
    if engine not in ("native", "reference"):
        raise ConfigError(f"engine must be 'native' or 'reference', got {engine!r}")
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"simulate takes a Scenario (see load_scenario), got "
                          f"{type(scenario).__name__}")
    seed = scenario.seed if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    started = _time.perf_counter()
    cfg = msgspec.structs.replace(scenario.router, history=0)
    R = Router if engine == "native" else reference.Router
    router = R(cfg)
    sim = _Sim(scenario, router, seed, base or Path("."), progress)
    sim.run()
    return sim.col.report(scenario, seed, engine, _time.perf_counter() - started,
                          sim.n_calls)


class _Sim:
    def __init__(self, sc: Scenario, router: Any, seed: int, base: Path,
                 progress: bool) -> None:
        self.sc = sc
        self.router = router
        self.progress = progress
        cfg = sc.router
        self.ch_index = {c.name: i for i, c in enumerate(cfg.channels)}
        self.cnames = [c.name for c in cfg.channels]
        self.gnames = [g.name for g in cfg.groups]
        self.g_index = {g.name: i for i, g in enumerate(cfg.groups)}
        self.escalates = [-1 if g.escalate_to is None else self.g_index[g.escalate_to]
                          for g in cfg.groups]
        self.start = sc.warmup
        self.end = sc.warmup + sc.duration
        self.drain_until = self.end + max(sc.duration, 86400.0)
        self.heap: list = []
        self.seq = 0
        self.n_calls = 0
        # per operator
        self.op_bot: dict = {}
        self.op_held: dict = {}
        self.op_limit: dict = {}
        ops_order: list = []
        # per conversation (ids are ints): lists indexed by id
        self.r_arr = array("d")
        self.r_stream = array("i")
        self.r_handle = array("d")
        self.r_gen = array("i")         # bumped when it leaves an operator (stale FINISH)
        self.r_op: list = []            # operator holding it, or None
        self.r_at = array("d")          # when the current operator got it
        self.r_hops = array("b")
        self.r_group = array("i")       # its current home group (escalations move it)
        self.r_answered = array("b")
        self.r_live = array("b")
        self.col = Collector(sc, self.start, self.end)
        self.live_counted = 0
        self.streams: list[_Stream] = []
        for i, t in enumerate(sc.traffic):
            s = _Stream()
            s.spec = t
            s.ch = self.ch_index[t.channel]
            s.g = self.g_index[t.group]
            s.prio = t.priority
            s.skills = dict(t.skills) or None
            s.handle = sampler(t.handle, _rng(seed, i, 1))
            s.patience = sampler(t.patience, _rng(seed, i, 2))
            s.early_u = _rng(seed, i, 3).random
            s.route_u = _rng(seed, i, 4).random
            s.bot_handle = sampler(t.bot_handle, _rng(seed, i, 5))
            s.slowdown = t.slowdown
            s.moves = t.escalate > 0 or t.transfer > 0
            s.early_share = t.early_cancel_share
            s.early_window = cfg.channels[s.ch].early_cancel
            s.rows = None
            s.row = 0
            if t.recorded is not None:
                s.rows = read_arrivals(base / t.recorded)
            else:
                s.next_gap = _arrivals(t, _rng(seed, i, 0))
            self.streams.append(s)
        # operators: all added offline at 0, then their shifts and breaks as status events
        for crew in sc.operators:
            for k in range(1, crew.count + 1):
                oid = f"{crew.name}-{k}"
                self._call(router.add_operator, oid, list(crew.groups), crew.limit,
                           "offline", 0.0, dict(crew.channel_limits) or None,
                           dict(crew.skills) or None, dict(crew.levels) or None, crew.kind)
                self.op_bot[oid] = crew.kind == "bot"
                self.op_held[oid] = 0
                self.op_limit[oid] = crew.limit
                ops_order.append(oid)
                a, b = crew.shift if crew.shift is not None else (0.0, math.inf)
                self._push(a, STATUS, (oid, "online"))
                for x, y in crew.breaks:
                    if a <= x < b:
                        self._push(x, STATUS, (oid, "away"))
                        self._push(min(y, b), STATUS, (oid, "online"))
                if b < math.inf:
                    self._push(b, STATUS, (oid, "offline"))
        self.col.operators(ops_order, self.op_limit)
        for i, s in enumerate(self.streams):
            self._next_arrival(i, 0.0)
        t = 0.0
        while t <= self.end + sc.sample_every:
            self._push(t, SAMPLE, None)
            t += sc.sample_every
        self.n_req = 0

    # ------------------------------------------------------------------ plumbing
    def _push(self, t: float, kind: int, x: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, x))

    def _call(self, fn, *args):
        self.n_calls += 1
        return fn(*args)

    def _next_arrival(self, i: int, now: float) -> None:
        s = self.streams[i]
        if s.rows is not None:
            while s.row < len(s.rows) and s.rows[s.row].time < now:
                s.row += 1
            if s.row < len(s.rows) and s.rows[s.row].time < self.end:
                self._push(s.rows[s.row].time, ARRIVE, i)
            return
        t = s.next_gap(now)
        if t < self.end:
            self._push(t, ARRIVE, i)

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        heap = self.heap
        router = self.router
        next_timer = router.next_timer
        pop = heapq.heappop
        bar = _Progress(self.end, self.progress)
        tick = bar.tick if self.progress else None
        handlers = (self._arrive, self._finish, self._patience, self._early, self._status,
                    self._sample)
        end = self.end
        while heap:
            t = heap[0][0]
            nt = next_timer()
            if nt is not None and nt <= t:
                self.n_calls += 1
                self._events(router.advance(nt))
                continue
            if t > end and (self.live_counted == 0 or t > self.drain_until):
                break
            _, _, kind, x = pop(heap)
            handlers[kind](t, x)
            if tick is not None:
                tick(t)
        bar.close()
        for rid, op in enumerate(self.r_op):   # still held when the run stopped
            if op is not None:
                self.col.busy(op, self.r_at[rid], self.end)
        self.col.finish(self.end, self.live_counted)

    def _events(self, events: list) -> None:
        if not events:
            return
        for e in events:
            tp = type(e)
            if tp is Assigned:
                self._answer(e.request, e.operator, e.at)
            elif tp is Offered:   # the simulated operator accepts at once
                self.n_calls += 1
                for a in self.router.accept(e.request, None, e.at):
                    if type(a) is Accepted:
                        self._answer(a.request, a.operator, a.at)
                    else:
                        self._events([a])
            elif tp is Queued:
                pass

    def _answer(self, rid: int, op: Any, at: float) -> None:
        s = self.streams[self.r_stream[rid]]
        held = self.op_held[op] + 1
        self.op_held[op] = held
        self.r_op[rid] = op
        self.r_at[rid] = at
        if not self.r_answered[rid]:
            self.r_answered[rid] = 1
            self.col.answered(rid, at - self.r_arr[rid])
        if self.op_bot[op]:
            h = s.bot_handle()
        else:
            h = self.r_handle[rid]   # the customer's own handling time, for its first human
            if h < 0:
                h = s.handle()
            else:
                self.r_handle[rid] = -1.0
            if s.slowdown:
                h *= 1.0 + s.slowdown * (held - 1)
        self._push(at + h, FINISH, (rid, self.r_gen[rid]))

    def _release(self, rid: int, t: float) -> None:
        op = self.r_op[rid]
        if op is None:
            return
        self.op_held[op] -= 1
        self.col.busy(op, self.r_at[rid], t)
        self.r_op[rid] = None
        self.r_gen[rid] += 1

    def _done(self, rid: int) -> None:
        self.r_live[rid] = 0
        if self.col.is_counted(rid):
            self.live_counted -= 1

    # ------------------------------------------------------------------ handlers
    def _arrive(self, t: float, i: int) -> None:
        s = self.streams[i]
        rid = self.n_req
        self.n_req += 1
        ch, g, handle, patience = s.ch, s.g, None, None
        if s.rows is not None:
            row: Arrival = s.rows[s.row]
            s.row += 1
            ch, g = self.ch_index[row.channel], self.g_index[row.group]
            handle, patience = row.handle, row.patience
        if handle is None:
            handle = s.handle()
        if patience is None and s.patience is not None:
            patience = s.patience()
        early = s.early_u() < s.early_share if s.early_share else False
        self.r_arr.append(t)
        self.r_stream.append(i)
        self.r_handle.append(handle)
        self.r_gen.append(0)
        self.r_op.append(None)
        self.r_at.append(0.0)
        self.r_hops.append(0)
        self.r_group.append(g)
        self.r_answered.append(0)
        self.r_live.append(1)
        counted = self.col.arrival(rid, ch, g, t)
        if counted:
            self.live_counted += 1
        self.n_calls += 1
        events = self.router.submit(rid, self.cnames[ch], self.gnames[g], s.prio, None, t,
                                    s.skills)
        if type(events[-1]) is Rejected:
            self.col.rejected(rid, events[-1].reason)
            self._done(rid)
        else:
            self._events(events)
            if not self.r_answered[rid]:
                if patience is not None:
                    self._push(t + patience, PATIENCE, rid)
            if early:
                self._push(t + s.early_u() * s.early_window, EARLY, rid)
        self._next_arrival(i, t)

    def _finish(self, t: float, x: tuple) -> None:
        rid, gen = x
        if not self.r_live[rid] or self.r_gen[rid] != gen:
            return
        s = self.streams[self.r_stream[rid]]
        op = self.r_op[rid]
        router = self.router
        hops = self.r_hops[rid]
        action = "finish"
        if not s.moves and not self.op_bot[op]:
            u = 1.0
        else:
            u = s.route_u()
        if self.op_bot[op]:
            if u >= s.spec.bot_resolve:
                action = "escalate"
        elif hops < MAX_HOPS:
            if u < s.spec.escalate:
                action = "escalate"
            elif u < s.spec.escalate + s.spec.transfer:
                action = "transfer"
        g = self.r_group[rid]
        if action == "escalate" and self.escalates[g] < 0:
            action = "finish"
        self._release(rid, t)
        self.n_calls += 1
        if action == "finish":
            events = router.finish(rid, t)
            self._done(rid)
            self.col.finished(rid)
        elif action == "escalate":
            self.r_hops[rid] = hops + 1
            self.r_group[rid] = self.escalates[g]
            events = router.escalate(rid, t)
            self.col.moved(rid, "escalated")
        else:
            self.r_hops[rid] = hops + 1
            self.r_group[rid] = self.g_index[s.spec.transfer_to]
            events = router.transfer(rid, s.spec.transfer_to, None, t)
            self.col.moved(rid, "transferred")
        self._events(events)

    def _patience(self, t: float, rid: int) -> None:
        if self.r_live[rid] and not self.r_answered[rid]:
            self.n_calls += 1
            events = self.router.cancel(rid, t)
            self._done(rid)
            self.col.abandoned(rid, t - self.r_arr[rid])
            self._events(events)

    def _early(self, t: float, rid: int) -> None:
        if not self.r_live[rid]:
            return
        answered = self.r_answered[rid]
        self._release(rid, t)
        self.n_calls += 1
        events = self.router.cancel(rid, t)
        self._done(rid)
        self.col.early(rid, t - self.r_arr[rid], bool(answered))
        self._events(events)

    def _status(self, t: float, x: tuple) -> None:
        oid, status = x
        self.col.status(oid, status, t)
        self.n_calls += 1
        self._events(self.router.set_status(oid, status, t))

    def _sample(self, t: float, _: Any) -> None:
        if t > self.end:
            return
        self.col.sample(t, self.router.stats(t))


def _arrivals(t: Any, rng: random.Random) -> Callable[[float], float]:
    """The next arrival time after ``now`` of a Poisson stream (constant ``rate``, or 24
    hourly ``rates`` repeating daily, by thinning)."""
    ev, u = rng.expovariate, rng.random
    if t.rate is not None:
        rate = t.rate
        if rate == 0:
            return lambda now: math.inf
        return lambda now: now + ev(rate)
    rates = t.rates
    top = max(rates)
    if top == 0:
        return lambda now: math.inf

    def nxt(now: float) -> float:
        while True:
            now += ev(top)
            if u() * top < rates[int(now // 3600.0) % 24]:
                return now
    return nxt


class _Progress:
    """A rich progress bar in simulated time, shown only when the run takes over 1 s."""

    def __init__(self, end: float, enabled: bool) -> None:
        self.end = end
        self.enabled = enabled
        self.started = _time.perf_counter()
        self.bar = None
        self.count = 0

    def tick(self, t: float) -> None:
        if not self.enabled:
            return
        self.count += 1
        if self.count & 4095:
            return
        if self.bar is None:
            if _time.perf_counter() - self.started < 1.0:
                return
            from rich.progress import Progress
            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("simulating", total=self.end)
        self.bar.update(self.task, completed=min(t, self.end))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
