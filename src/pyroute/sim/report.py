"""What a simulation reports, and how it counts (definitions in docs/scenario.md).

Counting covers the conversations that *arrive* between ``warmup`` and ``warmup +
duration``; the run goes on after that, without new arrivals, until each of them is
answered, abandoned or cancelled (``unresolved`` counts any left when the run gives up, one
simulated day later). Occupancy and the per-operator load count time inside the window.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Optional

import msgspec

# per-row counters (channel rows, group rows, the total row)
(OFFERED, ANSWERED, WITHIN, WAITED, WAIT_ANS, WAIT_ALL, ABANDONED, EARLY, REJECTED,
 ESCALATED, TRANSFERRED, N_ROW) = range(12)


class KPIs(msgspec.Struct, frozen=True, kw_only=True):
    """Key figures for one channel, one group (by the group conversations were submitted
    to) or overall. Rates are shares of ``offered`` unless named otherwise; waits are in
    seconds. ``None`` where there is nothing to divide by."""

    offered: int
    answered: int
    abandoned: int                 # left the queue (patience) before being answered
    cancelled_early: int           # cancelled within the channel's early_cancel seconds
    rejected: int                  # refused at the door (banned, hidden, overloaded)
    unresolved: int                # still waiting when the run stopped
    escalated: int
    transferred: int
    p_wait: Optional[float]        # share of offered not answered at once
    mean_wait: Optional[float]     # time in queue over all offered (abandoners' included)
    asa: Optional[float]           # average speed of answer: mean wait of the answered
    p_abandon: Optional[float]
    service_level: Optional[float]            # answered within target_wait / offered
    service_level_answered: Optional[float]   # answered within target_wait / answered
    occupancy: Optional[float]     # busy slot-time / online slot-time of the operators
    target_wait: Optional[float]   # the channel's (None on groups and overall)
    wait_p50: Optional[float] = None
    wait_p90: Optional[float] = None
    wait_p99: Optional[float] = None


class Batch(msgspec.Struct, frozen=True):
    """Overall figures of the conversations that arrived in one equal slice of the window
    (batch means: the spread of these gives the confidence intervals)."""

    offered: int
    p_wait: Optional[float]
    mean_wait: Optional[float]
    asa: Optional[float]
    p_abandon: Optional[float]
    service_level: Optional[float]


class Interval(msgspec.Struct, frozen=True):
    """A 99% confidence interval from batch means: ``mean`` ± ``half_width``."""

    mean: float
    half_width: float


# two-sided 99% Student t quantiles by degrees of freedom (batches - 1)
_T99 = {4: 4.604, 9: 3.250, 14: 2.977, 19: 2.861, 29: 2.756, 39: 2.708, 49: 2.680}


class OperatorLoad(msgspec.Struct, frozen=True):
    handled: int           # conversations it was given in the window
    utilisation: float     # busy slot-time / (limit x online time) in the window
    online: float          # seconds online in the window


class Spread(msgspec.Struct, frozen=True):
    """How evenly the load fell on human operators (their utilisation)."""

    max_minus_min: Optional[float]
    jain: Optional[float]          # (sum u)^2 / (n sum u^2): 1 is perfectly even


class QueueSeries(msgspec.Struct, frozen=True):
    times: list[float]
    total: list[int]
    channels: dict[str, list[int]]
    groups: dict[str, list[int]]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """``pyroute.sim.simulate``'s result: ``overall``, ``channels`` and ``groups`` KPIs."""

    name: str
    seed: int
    engine: str
    warmup: float
    duration: float
    overall: KPIs
    channels: dict[str, KPIs]
    groups: dict[str, KPIs]
    spread: Spread
    operators: dict[str, OperatorLoad]
    queue: QueueSeries
    wait_histogram: tuple[list[float], list[int]]   # bin edges (s), counts of answered
    batches: list[Batch]     # overall figures per slice of the window, in time order
    conversations: int       # all arrivals simulated (warm-up and drain included)
    router_calls: int
    wall_seconds: float

    def interval(self, kpi: str) -> Optional[Interval]:
        """The 99% confidence interval of an overall KPI (``p_wait``, ``mean_wait``,
        ``asa``, ``p_abandon``, ``service_level``) by batch means over ``batches``."""
        xs = [getattr(b, kpi) for b in self.batches]
        xs = [x for x in xs if x is not None]
        n = len(xs)
        if n < 2:
            return None
        m = sum(xs) / n
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
        t = _T99.get(n - 1) or _T99[max(k for k in _T99 if k <= n - 1)] if n > 5 else 4.604
        return Interval(m, t * sd / math.sqrt(n))


class Collector:
    """Counts what the simulation loop tells it."""

    def __init__(self, sc: Any, start: float, end: float) -> None:
        cfg = sc.router
        self.start, self.end = start, end
        self.cnames = [c.name for c in cfg.channels]
        self.gnames = [g.name for g in cfg.groups]
        self.target = [float(c.target_wait) for c in cfg.channels]
        C, G = len(self.cnames), len(self.gnames)
        self.rows = [[0.0] * N_ROW for _ in range(C + G + 1)]
        self.n_batches = 20
        self.batch_len = (end - start) / self.n_batches
        self.brows = [[0.0] * N_ROW for _ in range(self.n_batches)]
        self.r_batch = array("i")
        self.C, self.G = C, G
        self.r_ch = array("i")
        self.r_g = array("i")
        self.r_arr = array("d")
        self.r_counted = array("b")
        self.waits: list[array] = [array("d") for _ in range(C + G + 1)]
        self.op_busy: dict = {}
        self.op_handled: dict = {}
        self.op_online: dict = {}
        self.op_since: dict = {}
        self.op_groups: dict = {}
        self.op_limit: dict = {}
        self.samples: list = []
        self.rejected_by: dict = {}
        self.unresolved = 0
        for crew in sc.operators:
            for k in range(1, crew.count + 1):
                oid = f"{crew.name}-{k}"
                self.op_groups[oid] = [self.gnames.index(g) for g in crew.groups]
                if crew.kind == "bot":
                    self.op_groups[oid] = None   # bots: not in occupancy and spread

    def operators(self, order: list, limits: dict) -> None:
        for oid in order:
            self.op_busy[oid] = 0.0
            self.op_handled[oid] = 0
            self.op_online[oid] = 0.0
            self.op_limit[oid] = limits[oid]

    def _rows(self, rid: int) -> tuple[list, list, list, list]:
        return (self.rows[self.r_ch[rid]], self.rows[self.C + self.r_g[rid]],
                self.rows[self.C + self.G], self.brows[self.r_batch[rid]])

    def arrival(self, rid: int, ch: int, g: int, t: float) -> bool:
        self.r_ch.append(ch)
        self.r_g.append(g)
        self.r_arr.append(t)
        counted = self.start <= t < self.end
        self.r_counted.append(counted)
        self.r_batch.append(min(self.n_batches - 1, int((t - self.start) / self.batch_len))
                            if counted else 0)
        if counted:
            for row in self._rows(rid):
                row[OFFERED] += 1
        return counted

    def is_counted(self, rid: int) -> bool:
        return bool(self.r_counted[rid])

    def answered(self, rid: int, wait: float) -> None:
        if not self.r_counted[rid]:
            return
        ch, g = self.r_ch[rid], self.C + self.r_g[rid]
        within = wait <= self.target[ch]
        waited = wait > 0
        rows = self.rows
        for row in (rows[ch], rows[g], rows[-1], self.brows[self.r_batch[rid]]):
            row[ANSWERED] += 1
            row[WAIT_ANS] += wait
            row[WAIT_ALL] += wait
            if within:
                row[WITHIN] += 1
            if waited:
                row[WAITED] += 1
        waits = self.waits
        waits[ch].append(wait)
        waits[g].append(wait)
        waits[-1].append(wait)

    def _left(self, rid: int, wait: float, kind: int) -> None:
        if not self.r_counted[rid]:
            return
        for row in self._rows(rid):
            row[kind] += 1
            row[WAIT_ALL] += wait
            row[WAITED] += 1

    def abandoned(self, rid: int, wait: float) -> None:
        self._left(rid, wait, ABANDONED)

    def early(self, rid: int, wait: float, answered: bool) -> None:
        if not self.r_counted[rid]:
            return
        if answered:
            for row in self._rows(rid):
                row[EARLY] += 1
        else:
            self._left(rid, wait, EARLY)

    def rejected(self, rid: int, reason: str) -> None:
        if not self.r_counted[rid]:
            return
        self.rejected_by[reason] = self.rejected_by.get(reason, 0) + 1
        for row in self._rows(rid):
            row[REJECTED] += 1
            row[WAITED] += 1

    def moved(self, rid: int, how: str) -> None:
        if not self.r_counted[rid]:
            return
        k = ESCALATED if how == "escalated" else TRANSFERRED
        for row in self._rows(rid):
            row[k] += 1

    def finished(self, rid: int) -> None:
        pass

    def busy(self, op: Any, a: float, b: float) -> None:
        if a >= self.start and a < self.end:
            self.op_handled[op] += 1
        lo, hi = max(a, self.start), min(b, self.end)
        if hi > lo:
            self.op_busy[op] += hi - lo

    def status(self, op: Any, status: str, t: float) -> None:
        since = self.op_since.pop(op, None)
        if since is not None:
            lo, hi = max(since, self.start), min(t, self.end)
            if hi > lo:
                self.op_online[op] += hi - lo
        if status == "online":
            self.op_since[op] = t

    def sample(self, t: float, stats: Any) -> None:
        self.samples.append((t, stats.total.waiting,
                             [stats.channels[c].waiting for c in self.cnames],
                             [stats.groups[g].waiting for g in self.gnames]))

    def finish(self, end: float, live_counted: int) -> None:
        for op in list(self.op_since):
            self.status(op, "offline", end)
        self.unresolved = live_counted

    # ------------------------------------------------------------------ the report
    def _occupancy(self, groups: Optional[set]) -> Optional[float]:
        busy = cap = 0.0
        for op, gs in self.op_groups.items():
            if gs is None or (groups is not None and not groups.intersection(gs)):
                continue
            busy += self.op_busy[op]
            cap += self.op_limit[op] * self.op_online[op]
        return busy / cap if cap > 0 else None

    def _kpis(self, k: int, target: Optional[float], occupancy: Optional[float],
              unresolved: int) -> KPIs:
        row = self.rows[k]
        off, ans = int(row[OFFERED]), int(row[ANSWERED])
        waits = sorted(self.waits[k])

        def pct(q: float) -> Optional[float]:
            return waits[min(len(waits) - 1, int(q * len(waits)))] if waits else None

        def div(a: float, b: float) -> Optional[float]:
            return a / b if b else None
        resolved_waits = off - int(row[REJECTED])
        return KPIs(
            offered=off, answered=ans, abandoned=int(row[ABANDONED]),
            cancelled_early=int(row[EARLY]), rejected=int(row[REJECTED]),
            unresolved=unresolved, escalated=int(row[ESCALATED]),
            transferred=int(row[TRANSFERRED]),
            p_wait=div(row[WAITED] + unresolved, off),
            mean_wait=div(row[WAIT_ALL], resolved_waits - unresolved),
            asa=div(row[WAIT_ANS], ans), p_abandon=div(row[ABANDONED], off),
            service_level=div(row[WITHIN], off),
            service_level_answered=div(row[WITHIN], ans),
            occupancy=occupancy, target_wait=target,
            wait_p50=pct(0.5), wait_p90=pct(0.9), wait_p99=pct(0.99))

    def report(self, sc: Any, seed: int, engine: str, wall: float, calls: int) -> Report:
        C, G = self.C, self.G
        channels = {self.cnames[c]: self._kpis(c, self.target[c], None, 0) for c in range(C)}
        groups = {self.gnames[g]: self._kpis(C + g, None, self._occupancy({g}), 0)
                  for g in range(G)}
        overall = self._kpis(C + G, None, self._occupancy(None), self.unresolved)
        humans = [op for op, gs in self.op_groups.items() if gs is not None]
        loads = {op: OperatorLoad(self.op_handled[op],
                                  (self.op_busy[op] / (self.op_limit[op] * self.op_online[op])
                                   if self.op_online[op] > 0 else 0.0),
                                  self.op_online[op]) for op in self.op_busy}
        us = [loads[op].utilisation for op in humans if loads[op].online > 0]
        spread = Spread(max(us) - min(us) if us else None,
                        (sum(us) ** 2 / (len(us) * sum(u * u for u in us))
                         if us and any(us) else None))
        queue = QueueSeries([s[0] for s in self.samples], [s[1] for s in self.samples],
                            {c: [s[2][i] for s in self.samples]
                             for i, c in enumerate(self.cnames)},
                            {g: [s[3][i] for s in self.samples]
                             for i, g in enumerate(self.gnames)})
        batches = []
        for row in self.brows:
            off = row[OFFERED]
            batches.append(Batch(int(off), row[WAITED] / off if off else None,
                                 row[WAIT_ALL] / (off - row[REJECTED])
                                 if off > row[REJECTED] else None,
                                 row[WAIT_ANS] / row[ANSWERED] if row[ANSWERED] else None,
                                 row[ABANDONED] / off if off else None,
                                 row[WITHIN] / off if off else None))
        return Report(name=sc.name, batches=batches, seed=seed, engine=engine, warmup=sc.warmup,
                      duration=sc.duration, overall=overall, channels=channels, groups=groups,
                      spread=spread, operators=loads, queue=queue,
                      wait_histogram=_histogram(self.waits[C + G]),
                      conversations=len(self.r_counted), router_calls=calls,
                      wall_seconds=wall)


def _histogram(waits: array) -> tuple[list[float], list[int]]:
    if not waits:
        return ([], [])
    top = max(waits)
    if top <= 0:
        return ([0.0, 1.0], [len(waits)])
    n = 30
    step = top / n
    counts = [0] * n
    for w in waits:
        counts[min(n - 1, int(w / step))] += 1
    return ([i * step for i in range(n + 1)], counts)
