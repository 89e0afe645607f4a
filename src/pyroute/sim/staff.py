"""``pyroute staff``: the fewest operators per hour of each crew that meet every target.

A lead's question — *how many operators do I need each hour to hold 80 % of web chats
within 30 s?* — answered by simulation, so that everything pyroute does (concurrency,
priorities between channels, overflow, bots, abandonment) is in the answer, not just
Erlang C's single queue. docs/scenario.md, "Staffing", says how to read it.

The search, on the scenario's own clock (hour 0 is the first counted hour; the warm-up
runs with hour 0's numbers):

1. Every crew at its most (``count``, or ``up_to``) in every hour must meet every target;
   if not, :class:`ConfigError` names the hour, the target and what was reached.
2. Hour by hour in time order, each searched crew in turn (the crews with the lowest
   ``limit`` first, so the plan keeps the operators who take most), a binary search
   for the fewest of that crew in that hour with which every target is still met in
   every hour (later hours keep their current, larger numbers while an earlier hour is
   decided, so what spills over into them is covered).
3. A target is met in an hour when its service level, pooled over ``replications`` days
   (seeds ``seed``, ``seed + 1``, ...; every candidate plan sees the same days: common
   random numbers, so plans are compared on the same customers), is at least the level.
   One hour of one day is a small sample (an hour's service level swings by several
   points from day to day), hence several days; the 95 % interval of the day-to-day
   spread is reported for each hour, and an hour whose level is within it is marked
   ``close``: met on average, not on every day.

Targets are per channel: the first answer of each of its conversations (as the report's
channel rows count). Crews that give no target's first answers (no targeted channel
arrives in their groups, overflows into them, or is escalated into them by a bot) keep
their own rosters — a crew that only takes escalations or transfers from humans is not
planned; bots are never searched.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable, Optional

import msgspec

from ..errors import ConfigError
from .scenario import Scenario

_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201}


class Target(msgspec.Struct, frozen=True):
    """``level`` of channel ``name``'s conversations answered within ``within`` seconds
    (the first answer), in every hour; abandoned and refused ones count as misses."""

    name: str
    level: float
    within: float


class HourResult(msgspec.Struct, frozen=True):
    """One target in one hour under the plan: pooled service level, the 95 % interval
    half-width of its day-to-day spread, and whether the decision was within it."""

    target: str
    hour: int
    service_level: Optional[float]
    half_width: Optional[float]
    conversations: int
    met: bool
    close: bool


class StaffPlan(msgspec.Struct, frozen=True):
    """The plan: for each crew, its number of operators in each hour of the window."""

    hours: list[str]                  # "08:00–09:00" on the scenario's clock
    crews: dict[str, list[int]]       # searched and fixed crews alike
    searched: list[str]               # the crews the search changed
    targets: list[Target]
    results: list[HourResult]
    operator_hours: int               # human operator-hours of the plan in the window
    scenario_operator_hours: float    # the scenario's own rosters', for contrast
    simulations: int                  # simulated days the search took
    replications: int


def parse_target(text: str, scenario: Scenario) -> Target:
    """``web=0.8/30`` (80 % of web within 30 s) or ``web=80%/30``: a channel of the
    scenario."""
    m = re.fullmatch(r"\s*([^=\s]+)\s*=\s*([0-9.]+)(%?)\s*/\s*([0-9.]+)\s*s?\s*", text)
    if m is None:
        raise ConfigError(f"--target {text!r}: expected NAME=LEVEL/SECONDS, e.g. "
                          f"web=0.8/30 (80 % of web conversations within 30 s)")
    name, level_text, pct, within_text = m.groups()
    try:
        level = float(level_text) / (100.0 if pct else 1.0)
        within = float(within_text)
    except ValueError:
        raise ConfigError(f"--target {text!r}: {level_text!r} or {within_text!r} is not a "
                          f"number") from None
    if not 0.0 < level <= 1.0:
        raise ConfigError(f"--target {text!r}: the level must be a share in (0, 1] "
                          f"(0.8 or 80%), got {level_text}{pct}")
    if not 0.0 < within < 1e9:
        raise ConfigError(f"--target {text!r}: the wait must be a positive number of "
                          f"seconds, got {within_text}")
    channels = [c.name for c in scenario.router.channels]
    if name not in channels:
        raise ConfigError(f"--target {text!r}: no channel {name!r}; the scenario's channels "
                          f"are {', '.join(channels)}")
    if not any(t.channel == name for t in scenario.traffic):
        raise ConfigError(f"--target {text!r}: channel {name!r} has no traffic in the "
                          f"scenario, so there is nothing to measure")
    return Target(name, level, within)


def default_targets(scenario: Scenario) -> list[Target]:
    """With no --target: 80 % within its own target_wait for every channel that has
    traffic."""
    used = {t.channel for t in scenario.traffic}
    return [Target(c.name, 0.8, float(c.target_wait))
            for c in scenario.router.channels if c.name in used]


def _served(scenario: Scenario, targets: list[Target]) -> set[str]:
    """The groups whose operators give the targets' first answers: where a targeted
    channel's traffic arrives, and what those groups overflow into or a bot group
    escalates into (transitively)."""
    groups = {g.name: g for g in scenario.router.groups}
    todo = [t.group for t in scenario.traffic if any(x.name == t.channel for x in targets)]
    seen: set[str] = set()
    while todo:
        g = todo.pop()
        if g in seen or g not in groups:
            continue
        seen.add(g)
        for rule in groups[g].overflow:
            todo += list(rule.to)
        esc = groups[g].escalate_to
        if groups[g].line == 0 and esc is not None:   # a bot's escalations are first answers
            todo.append(esc)
    return seen


def _scenario_for(scenario: Scenario, targets: list[Target]) -> Scenario:
    """The scenario measured against the targets' waits (a channel target sets that
    channel's target_wait for the count)."""
    by = {t.name: t.within for t in targets}
    channels = tuple(msgspec.structs.replace(c, target_wait=by.get(c.name, c.target_wait))
                     for c in scenario.router.channels)
    return msgspec.structs.replace(
        scenario, router=msgspec.structs.replace(scenario.router, channels=channels))


def _roster_hours(scenario: Scenario) -> float:
    """Human operator-hours the scenario's own crews are online inside the window."""
    a0, a1 = scenario.warmup, scenario.warmup + scenario.duration
    total = 0.0
    for crew in scenario.operators:
        if crew.kind == "bot":
            continue
        s, e = crew.shift if crew.shift is not None else (0.0, math.inf)
        on = max(0.0, min(e, a1) - max(s, a0))
        for x, y in crew.breaks:
            on -= max(0.0, min(y, e, a1) - max(x, s, a0))
        total += crew.count * on / 3600.0
    return total


class _Evaluator:
    def __init__(self, scenario: Scenario, targets: list[Target], seed: int,
                 replications: int, base: Optional[Path], hours: int,
                 progress: Callable[[str], None]) -> None:
        from .engine import _simulate
        self.run = _simulate
        self.sc, self.targets, self.seed = scenario, targets, seed
        self.reps = replications
        self.base, self.hours, self.progress = base, hours, progress
        self.simulations = 0
        self.cache: dict[tuple, list] = {}

    def _day(self, plan: dict[str, list[int]], k: int) -> list:
        key = (tuple((c, tuple(v)) for c, v in sorted(plan.items())), k)
        if key not in self.cache:
            report = self.run(self.sc, self.seed + k, base=self.base, schedule=plan,
                              slices=self.hours)[0]
            self.simulations += 1
            self.cache[key] = [report.channel_batches[t.name] for t in self.targets]
        return self.cache[key]

    def results(self, plan: dict[str, list[int]], whole: bool = False) -> list[HourResult]:
        """Each target in each hour (``whole``: over the whole window, as hour -1)."""
        days = [self._day(plan, k) for k in range(self.reps)]
        out = []
        spans = [(-1, range(self.hours))] if whole else [(h, range(h, h + 1))
                                                         for h in range(self.hours)]
        for i, t in enumerate(self.targets):
            for h, hs in spans:
                met_n = sum(d[i][x].within for d in days for x in hs)
                of_n = sum(d[i][x].sl_of for d in days for x in hs)
                sl = met_n / of_n if of_n else None
                per = [sum(d[i][x].within for x in hs) / sum(d[i][x].sl_of for x in hs)
                       for d in days if sum(d[i][x].sl_of for x in hs)]
                hw = None
                if len(per) >= 2:
                    m = sum(per) / len(per)
                    sd = math.sqrt(sum((x - m) ** 2 for x in per) / (len(per) - 1))
                    hw = _T95.get(len(per) - 1, 2.2) * sd / math.sqrt(len(per))
                met = sl is None or sl >= t.level - 1e-12
                close = sl is not None and hw is not None and abs(sl - t.level) < hw
                out.append(HourResult(t.name, h, sl, hw, of_n, met, close))
        return out

    def meets(self, plan: dict[str, list[int]], whole: bool = False) -> bool:
        return all(r.met for r in self.results(plan, whole))


def staff(scenario: Scenario, targets: Optional[list[Target]] = None, *,
          up_to: Optional[int] = None, seed: Optional[int] = None, replications: int = 8,
          hourly: bool = True, base: Optional[Path] = None,
          progress: Callable[[str], None] = lambda s: None) -> StaffPlan:
    """The fewest operators per hour of each crew meeting every target (module doc)."""
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"staff takes a Scenario (see load_scenario), got "
                          f"{type(scenario).__name__}")
    hours_f = scenario.duration / 3600.0
    if abs(hours_f - round(hours_f)) > 1e-9 or round(hours_f) < 1:
        raise ConfigError(f"staff plans whole hours: the scenario's duration must be a "
                          f"multiple of 3600 s, got {scenario.duration:g}")
    H = int(round(hours_f))
    if not (isinstance(replications, int) and 1 <= replications <= 100):
        raise ConfigError(f"replications must be a number of days from 1 to 100, got "
                          f"{replications!r}")
    if up_to is not None and not (isinstance(up_to, int) and 0 <= up_to <= 10_000):
        raise ConfigError(f"up_to must be a number of operators from 0 to 10000, got "
                          f"{up_to!r}")
    targets = list(targets) if targets else default_targets(scenario)
    sc = _scenario_for(scenario, targets)
    served = _served(scenario, targets)
    # fewest operators: the crews with the fewest slots each give way first, so the
    # plan keeps the operators who take most (ties: the order listed)
    searched = [c.name for c in sorted(scenario.operators, key=lambda c: c.limit)
                if c.kind == "human" and set(c.groups) & served]
    if not searched:
        raise ConfigError("no human crew gives the targets' channels their first answers: "
                          "nothing to plan")
    plan: dict[str, list[int]] = {}
    for c in scenario.operators:
        if c.name in searched:
            plan[c.name] = [up_to if up_to is not None else c.count] * H
    ev = _Evaluator(sc, targets, scenario.seed if seed is None else seed, replications,
                    base, H, progress)
    start = scenario.warmup
    labels = [f"{_clock(start + 3600 * h)}–{_clock(start + 3600 * (h + 1))}" for h in range(H)]
    whole = not hourly
    first = ev.results(plan, whole)
    missed = [r for r in first if not r.met]
    if missed:
        r = missed[0]
        t = next(x for x in targets if x.name == r.target)
        most = ", ".join(f"{c} {plan[c][0]}" for c in searched)
        raise ConfigError(
            f"channel {t.name}: {100 * t.level:g} % within {t.within:g} s cannot be met in "
            f"{'the whole window' if r.hour < 0 else f'hour {r.hour} ({labels[r.hour]})'} "
            f"even with every crew at its most ({most}): "
            f"{100 * (r.service_level or 0):.1f} % reached; raise --up-to or the crews' "
            f"count, or lower the target")
    for h in (range(H) if hourly else [None]):
        for crew in searched:
            lo, hi = 0, plan[crew][h or 0]     # hi meets the targets
            while lo < hi:
                mid = (lo + hi) // 2
                trial = {c: list(v) for c, v in plan.items()}
                if h is None:
                    trial[crew] = [mid] * H
                else:
                    trial[crew][h] = mid
                if ev.meets(trial, whole):
                    hi = mid
                else:
                    lo = mid + 1
            if h is None:
                plan[crew] = [hi] * H
            else:
                plan[crew][h] = hi
            progress(f"{'all day' if h is None else labels[h]} {crew}: {hi} "
                     f"({ev.simulations} simulated days so far)")
    results = ev.results(plan, whole) + (ev.results(plan) if whole else [])
    crews = {c.name: plan.get(c.name, _fixed_hours(c, scenario, H)) for c in scenario.operators
             if c.kind == "human"}
    return StaffPlan(hours=labels, crews=crews, searched=searched, targets=targets,
                     results=results, operator_hours=sum(sum(v) for v in crews.values()),
                     scenario_operator_hours=_roster_hours(scenario),
                     simulations=ev.simulations, replications=replications)


def _fixed_hours(crew, scenario: Scenario, H: int) -> list[int]:
    """A crew that keeps its roster: how many of it are online for most of each hour."""
    out = []
    for h in range(H):
        a = scenario.warmup + 3600.0 * h
        mid = a + 1800.0
        s, e = crew.shift if crew.shift is not None else (0.0, math.inf)
        on = s <= mid < e and not any(x <= mid < y for x, y in crew.breaks)
        out.append(crew.count if on else 0)
    return out


def _clock(t: float) -> str:
    t %= 86400.0
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}"
