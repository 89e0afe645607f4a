"""``pyroute.sim.simulate``: sets up a run and hands it to the compiled loop (``_loop.pyx``).

The loop drives the real Router — native by default, the reference engine on request — with
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

import math
import time as _time
from pathlib import Path
from typing import Any, Callable, Optional

import msgspec

from ..errors import ConfigError
from ..router import Router
from ._loop import Loop
from .report import Report, build_report
from .scenario import Scenario, read_arrivals


def simulate(scenario: Scenario, seed: Optional[int] = None, engine: str = "native",
             progress: bool = False, base: Path | None = None) -> Report:
    """Run ``scenario`` and return its :class:`Report`. ``seed`` overrides the scenario's;
    ``engine`` is ``"native"`` or ``"reference"``; ``progress`` shows a progress bar
    (on a terminal) for runs longer than a second. Recorded arrival files are read
    relative to ``base``. Raises ConfigError for a scenario the router refuses."""
    return _simulate(scenario, seed, engine, progress, base)[0]


def _simulate(scenario: Scenario, seed: Optional[int] = None, engine: str = "native",
              progress: bool = False, base: Path | None = None, *,
              schedule: Optional[dict[str, list[int]]] = None,
              slices: int = 20, journal: Optional[Path] = None,
              arrivals: Optional[list] = None,
              wrap: Optional[Callable[[Any], Any]] = None) -> tuple[Report, Any]:
    """``simulate``, also returning the Router the run drove (its ``stats()`` count the
    same day by the same glossary; the tests compare the two).

    ``schedule`` (``pyroute staff``): crew name -> how many of its operators are online
    in each hour of the counted window (the first hour's number also through the warm-up,
    the last one's after the window); it replaces those crews' shifts and breaks, and a
    crew has as many operators as its largest hour. ``slices``: how many equal slices of
    the window the report's batches have. ``journal``: drive a ``Router.open(journal)``
    (a durable router: the simulated day is journaled). ``arrivals``: the rows of the
    scenario's recorded streams, given in memory (``--traffic-from``) instead of read
    from their files. ``wrap``: called once with the Router before the run; the loop
    drives what it returns instead (an object with the Router methods the loop calls, such
    as the recorder of ``pyroute.sim.accuracy``, which reads every call's events on the
    way); None, the default, costs the run nothing."""
    if engine not in ("native", "reference"):
        raise ConfigError(f"engine must be 'native' or 'reference', got {engine!r}")
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"simulate takes a Scenario (see load_scenario), got "
                          f"{type(scenario).__name__}")
    seed = scenario.seed if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    started = _time.perf_counter()
    base = base or Path(".")
    cfg = msgspec.structs.replace(scenario.router, history=0)
    if journal is not None:
        router = Router.open(journal, cfg, fsync="never")
    elif engine == "native":
        router = Router(cfg)
    else:
        from ..reference import Router as Reference   # the oracle: only when asked for
        router = Reference(cfg)
    # operators: integer ids in the router (names in the report), all offline at 0; their
    # shifts and breaks become status events
    names: list[str] = []
    limits: list[int] = []
    bots: list[bool] = []
    groups_of: list[Optional[list[int]]] = []
    status: list[tuple[float, int, str]] = []
    g_index = {g.name: i for i, g in enumerate(cfg.groups)}
    for crew in scenario.operators:
        plan = schedule.get(crew.name) if schedule is not None else None
        for k in range(1, (crew.count if plan is None else max(plan, default=0)) + 1):
            op = len(names)
            router.add_operator(op, list(crew.groups), crew.limit, "offline", 0.0,
                                dict(crew.channel_limits) or None, dict(crew.skills) or None,
                                dict(crew.levels) or None, crew.kind)
            names.append(f"{crew.name}-{k}")
            limits.append(crew.limit)
            bots.append(crew.kind == "bot")
            groups_of.append(None if crew.kind == "bot" else [g_index[g] for g in crew.groups])
            if plan is not None:
                status += _planned(plan, k, op, scenario.warmup)
                continue
            a, b = crew.shift if crew.shift is not None else (0.0, math.inf)
            status.append((a, op, "online"))
            for x, y in crew.breaks:
                if a <= x < b:
                    status.append((x, op, "away"))
                    status.append((min(y, b), op, "online"))
            if b < math.inf:
                status.append((b, op, "offline"))
    status.sort(key=lambda e: e[0])
    recorded = [(arrivals if arrivals is not None else read_arrivals(base / t.recorded))
                if t.recorded is not None else None for t in scenario.traffic]
    samples = []
    t = 0.0
    end = scenario.warmup + scenario.duration
    while t <= end:
        samples.append(t)
        t += scenario.sample_every
    # the native engine, driven directly, takes the loop's calls as packed records
    # (pyroute.packed): the same calls, no event objects; the reference engine, the
    # durable router and a wrapper get the method calls
    loop = Loop(router if wrap is None else wrap(router), scenario, seed, limits, bots,
                list(scenario.traffic), status, samples, recorded, slices,
                packed=engine == "native" and journal is None and wrap is None)
    bar = _Progress(end)
    loop.run(bar.tick if progress else None)
    bar.close()
    if journal is not None:
        router.close()
    return build_report(loop, scenario, seed, engine, names, limits, groups_of,
                        _time.perf_counter() - started), router


def _planned(plan: list[int], k: int, op: int, warmup: float) -> list[tuple[float, int, str]]:
    """Status events of a crew's ``k``-th operator under an hourly plan: online in the
    hours whose number is at least ``k`` (hour 0 from time 0, through the warm-up)."""
    out: list[tuple[float, int, str]] = []
    on = False
    for h, n in enumerate(plan):
        want = n >= k
        if want != on:
            out.append((0.0 if h == 0 else warmup + 3600.0 * h, op,
                        "online" if want else "offline"))
            on = want
    return out


class _Progress:
    """A rich progress bar in simulated time, shown only when the run takes over 1 s."""

    def __init__(self, end: float) -> None:
        self.end = end
        self.started = _time.perf_counter()
        self.bar = None

    def tick(self, t: float) -> None:
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
