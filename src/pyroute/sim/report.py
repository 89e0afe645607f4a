"""What a simulation reports, and how it counts (definitions in docs/scenario.md).

Counting covers the conversations that *arrive* between ``warmup`` and ``warmup +
duration``; the run goes on after that, without new arrivals, until each of them is
answered, abandoned or cancelled (``unresolved`` counts any left when the run gives up, one
simulated day later). Occupancy and the per-operator load count time inside the window.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import msgspec

# per-row counters (channel rows, group rows, the total row); the order of _loop.pyx
(OFFERED, ANSWERED, WITHIN, WAITED, WAIT_ANS, WAIT_ALL, ABANDONED, EARLY, REJECTED,
 ESCALATED, TRANSFERRED, N_ROW) = range(12)


class KPIs(msgspec.Struct, frozen=True, kw_only=True):
    """Key figures for one channel, one group (by stay: submitted, escalated or
    transferred to it; answered where answered, docs/semantics.md "Glossary of
    outcomes") or overall. Rates are shares of ``offered`` unless named otherwise; waits are in
    seconds. ``None`` where there is nothing to divide by."""

    offered: int
    answered: int
    abandoned: int                 # left unanswered, not within early_cancel (patience)
    cancelled_early: int           # left unanswered within the channel's early_cancel
    rejected: int                  # refused at the door (banned, hidden, overloaded): misses
    unresolved: int                # still waiting when the run stopped
    escalated: int
    transferred: int
    p_wait: Optional[float]        # share of offered not answered at once
    mean_wait: Optional[float]     # time in queue over all offered (abandoners' included)
    asa: Optional[float]           # average speed of answer: mean wait of the answered
    p_abandon: Optional[float]     # abandoned / (answered + abandoned)
    service_level: Optional[float]            # answered within target_wait / (answered +
                                              # abandoned + rejected + unresolved)
    service_level_answered: Optional[float]   # answered within target_wait / answered
    occupancy: Optional[float]     # busy slot-time / online slot-time of the operators
    target_wait: Optional[float]   # the channel's (None on groups and overall)
    wait_p50: Optional[float] = None
    wait_p90: Optional[float] = None
    wait_p99: Optional[float] = None


#: the bins of ``Report.channel_waits``, as shares of the channel's target_wait
TARGET_SHARES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


class Batch(msgspec.Struct, frozen=True):
    """Overall figures of the conversations that arrived in one equal slice of the window
    (batch means: the spread of these gives the confidence intervals)."""

    offered: int
    p_wait: Optional[float]
    mean_wait: Optional[float]
    asa: Optional[float]
    p_abandon: Optional[float]
    service_level: Optional[float]
    within: int = 0          # answered within the channel's target_wait
    sl_of: int = 0           # service level's denominator: answered + abandoned + rejected


class Interval(msgspec.Struct, frozen=True):
    """A 99% confidence interval from batch means: ``mean`` ± ``half_width``."""

    mean: float
    half_width: float


# two-sided 99% Student t quantiles by degrees of freedom (batches - 1)
_T99 = {4: 4.604, 9: 3.250, 14: 2.977, 19: 2.861, 29: 2.756, 39: 2.708, 49: 2.680}


def t99(df: int) -> float:
    """The two-sided 99% Student t quantile for ``df`` degrees of freedom (the nearest
    tabled one below, which is wider: conservative; 1-3 use their exact values)."""
    exact = {1: 63.657, 2: 9.925, 3: 5.841}
    if df in exact:
        return exact[df]
    return _T99[max((k for k in _T99 if k <= df), default=4)]


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
    # the same slices for each channel and each group (groups by stay, as ``groups``):
    # what the paired what-if intervals (pyroute.sim.compare) are computed from
    channel_batches: dict[str, list[Batch]] = {}
    group_batches: dict[str, list[Batch]] = {}
    # waits of each channel's answered conversations against its own target_wait: counts
    # answered at once, then up to each of TARGET_SHARES x target_wait, then beyond
    channel_waits: dict[str, list[int]] = {}
    bots: list[str] = []      # the operators that are bots (kept apart in load charts)
    # support lines 0-3 (the groups' ``line``): the sum of their groups' stays, as ``groups``
    lines: dict[int, KPIs] = {}
    line_batches: dict[int, list[Batch]] = {}

    def batches_of(self, row: str) -> list[Batch]:
        """The batches of a row label of the reports: ``overall``, ``channel NAME`` or
        ``group NAME``, ``line N``."""
        if row == "overall":
            return self.batches
        kind, _, name = row.partition(" ")
        if kind == "line":
            return self.line_batches.get(int(name), []) if name.isdigit() else []
        return (self.channel_batches if kind == "channel" else self.group_batches).get(name, [])

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
        return Interval(m, t99(n - 1) * sd / math.sqrt(n))


def build_report(loop: Any, sc: Any, seed: int, engine: str, names: list[str],
                 limits: list[int], groups_of: list, wall: float) -> Report:
    """The Report of a finished ``_loop.Loop`` run."""
    cfg = sc.router
    cnames = [c.name for c in cfg.channels]
    gnames = [g.name for g in cfg.groups]
    C, G = len(cnames), len(gnames)
    ops = loop.operators()   # (handled, busy, online) per operator

    def occupancy(group: Optional[int]) -> Optional[float]:
        busy = cap = 0.0
        for i, gs in enumerate(groups_of):
            if gs is None or (group is not None and group not in gs):
                continue
            busy += ops[i][1]
            cap += limits[i] * ops[i][2]
        return busy / cap if cap > 0 else None

    def occupancy_of(gs: list[int]) -> Optional[float]:
        busy = cap = 0.0
        for i, ogs in enumerate(groups_of):
            if ogs is None or not any(g in ogs for g in gs):
                continue
            busy += ops[i][1]
            cap += limits[i] * ops[i][2]
        return busy / cap if cap > 0 else None

    def kpis(k: Any, key: int, which: int, target: Optional[float],
             occ: Optional[float], unresolved: int, waits: Any = None) -> KPIs:
        row = loop.row(k) if isinstance(k, int) else k
        off, ans = int(row[OFFERED]), int(row[ANSWERED])
        if waits is None:
            waits = loop.waits(key, which)

        def div(a: float, b: float) -> Optional[float]:
            return a / b if b else None
        return KPIs(
            offered=off, answered=ans, abandoned=int(row[ABANDONED]),
            cancelled_early=int(row[EARLY]), rejected=int(row[REJECTED]),
            unresolved=unresolved, escalated=int(row[ESCALATED]),
            transferred=int(row[TRANSFERRED]),
            p_wait=div(row[WAITED] + unresolved, off),
            mean_wait=div(row[WAIT_ALL], off - row[REJECTED] - unresolved),
            asa=div(row[WAIT_ANS], ans), p_abandon=div(row[ABANDONED], ans + row[ABANDONED]),
            service_level=div(row[WITHIN], ans + row[ABANDONED] + row[REJECTED] + unresolved),
            service_level_answered=div(row[WITHIN], ans),
            occupancy=occ, target_wait=target,
            wait_p50=waits.pct(0.5), wait_p90=waits.pct(0.9), wait_p99=waits.pct(0.99))

    un_ch, un_g = loop.unresolved()
    channels = {cnames[c]: kpis(c, c, 0, float(cfg.channels[c].target_wait), None, un_ch[c])
                for c in range(C)}
    groups = {gnames[g]: kpis(C + g, g, 1, None, occupancy(g), un_g[g]) for g in range(G)}
    overall = kpis(C + G, -1, 0, None, occupancy(None), loop.live_counted)
    # support lines: the sum of their groups' rows (stays, where they were handled)
    by_line: dict[int, list[int]] = {}
    for g, grp in enumerate(cfg.groups):
        by_line.setdefault(grp.line, []).append(g)
    group_rows = [loop.row(C + g) for g in range(G)]
    lines = {line: kpis([sum(group_rows[g][j] for g in gs) for j in range(N_ROW)], -1, 2,
                        None, occupancy_of(gs), sum(un_g[g] for g in gs),
                        loop.waits(-1, 2, gs))
             for line, gs in sorted(by_line.items())}
    group_batch_rows = {g: loop.batch_rows(C + g) for g in range(G)}
    line_batches = {line: batch_list([[sum(group_batch_rows[g][b][j] for g in gs)
                                       for j in range(N_ROW)]
                                      for b in range(len(group_batch_rows[gs[0]]))])
                    for line, gs in sorted(by_line.items())}
    loads = {names[i]: OperatorLoad(int(h), busy / (limits[i] * online) if online > 0 else 0.0,
                                    online)
             for i, (h, busy, online) in enumerate(ops)}
    us = [loads[names[i]].utilisation for i, gs in enumerate(groups_of)
          if gs is not None and loads[names[i]].online > 0]
    spread = Spread(max(us) - min(us) if us else None,
                    (sum(us) ** 2 / (len(us) * sum(u * u for u in us))
                     if us and any(us) else None))
    samples = loop.samples_list()
    queue = QueueSeries([x[0] for x in samples], [x[1] for x in samples],
                        {c: [x[2][i] for x in samples] for i, c in enumerate(cnames)},
                        {g: [x[3][i] for x in samples] for i, g in enumerate(gnames)})
    return Report(name=sc.name, seed=seed, engine=engine, warmup=sc.warmup,
                  duration=sc.duration, overall=overall, channels=channels, groups=groups,
                  spread=spread, operators=loads, queue=queue,
                  wait_histogram=loop.waits(-1, 0).histogram(),
                  batches=batch_list(loop.batch_rows(-1)),
                  channel_batches={cnames[c]: batch_list(loop.batch_rows(c)) for c in range(C)},
                  group_batches={gnames[g]: batch_list(group_batch_rows[g]) for g in range(G)},
                  lines=lines, line_batches=line_batches,
                  bots=[names[i] for i, gs in enumerate(groups_of) if gs is None],
                  channel_waits={cnames[c]: relative_waits(
                      loop.waits(c, 0), float(cfg.channels[c].target_wait)) for c in range(C)},
                  conversations=loop.conversations, router_calls=loop.calls,
                  wall_seconds=wall)


def relative_waits(waits: Any, target: float) -> list[int]:
    """Counts of answered waits: at once (0 s), then in (previous, share x target] for
    each of TARGET_SHARES, then beyond the last."""
    n = waits.count_le(float("inf")) if waits.pct(0.5) is not None else 0
    at_once = waits.count_le(0.0)
    out, below = [at_once], at_once
    for share in TARGET_SHARES:
        k = waits.count_le(share * target)
        out.append(k - below)
        below = k
    out.append(n - below)
    return out


def batch_list(rows: list) -> list[Batch]:
    """The Batch figures of one row's counters in each slice of the window."""
    out = []
    for row in rows:
        off = row[OFFERED]
        out.append(Batch(int(off), row[WAITED] / off if off else None,
                         row[WAIT_ALL] / (off - row[REJECTED])
                         if off > row[REJECTED] else None,
                         row[WAIT_ANS] / row[ANSWERED] if row[ANSWERED] else None,
                         row[ABANDONED] / (row[ANSWERED] + row[ABANDONED])
                         if row[ANSWERED] + row[ABANDONED] else None,
                         row[WITHIN] / (row[ANSWERED] + row[ABANDONED] + row[REJECTED])
                         if row[ANSWERED] + row[ABANDONED] + row[REJECTED] else None,
                         int(row[WITHIN]), int(row[ANSWERED] + row[ABANDONED] + row[REJECTED])))
    return out


