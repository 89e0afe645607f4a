"""The benchmark suite runner behind ``pyroute bench``: runs the workloads of
:mod:`.workloads` and collects every figure as plain data (JSON-ready), which
:mod:`.report` renders.

:func:`run` takes a :class:`Suite` (scale, plan, engines, what to include) and measures,
in turn: each engine's latencies and throughput at the suite's scale
(:func:`measure_engine`), the issue 3 cases (:func:`run_cases`), the durable router
(:mod:`.journalbench`), the Redis worker and the HTTP service in their own processes
(:mod:`.redisbench`, :mod:`.servicebench`; full runs only), the simulator
(:mod:`.simbench`), the accuracy of the expected wait (:mod:`pyroute.sim.accuracy`),
the ``heapq`` and ``dict`` baselines, and the size sweep
(:func:`measure_size`). When the reference engine cannot build the full state within the
plan's budget, both engines are measured at a tenth of the waiting conversations for the
ratios.

Latency figures (:func:`latency`) pool ``latency_rounds`` rounds of per-call timings
(:func:`.workloads.time_calls`, after an untimed warm-up) and subtract the timer's own
overhead (:func:`.workloads.timer_overhead_ns`); throughput figures (:func:`throughput`)
are the median of ``mixed_rounds`` runs after an untimed one.

Dependencies go one way: :mod:`.report` may import this module, this module imports the
workload modules, and the workload modules import neither.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Optional

import msgspec

import pyroute as pr
from pyroute.sim import accuracy

from . import journalbench, redisbench, servicebench, simbench
from .workloads import (
    CASE_KEYS, CASES, DESIGN_SCALE, FULL_PLAN, OFFERS, QUICK_PLAN, QUICK_SCALE, SKILL_NAMES,
    SKILLS, DictBaseline, FinishPull, HeapqBaseline, Plan, Scale, State, SubmitAssign,
    TooSlow, WorkloadError, build, mixed_capacity, release, time_calls, time_dict,
    time_heapq, time_mixed_api, time_mixed_batch, timer_overhead_ns,
)

__all__ = [
    "Suite", "run", "run_cases", "measure_engine", "measure_cases", "measure_size",
    "measure_heapq", "measure_dict", "latency", "throughput", "summarize", "ratios",
    "case_ratios", "memory_figures", "QUICK_SCALE", "QUICK_PLAN", "DESIGN_SCALE",
    "FULL_PLAN",
]


# ---------------------------------------------------------------------------------------
# Statistics over the timed calls


def summarize(samples: list[int], overhead: int) -> dict[str, Any]:
    """Median, p99 (nearest rank), mean and max in nanoseconds, timer overhead removed."""
    s = sorted(x - overhead for x in samples)
    n = len(s)
    return {
        "median_ns": float(s[(n - 1) // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2),
        "p99_ns": float(s[max(0, math.ceil(0.99 * n) - 1)]),
        "mean_ns": sum(s) / n,
        "max_ns": float(s[-1]),
        "n": n,
    }


def latency(op: Any, plan: Plan, overhead: int, calls: Optional[int] = None,
            rounds: Optional[int] = None) -> dict[str, Any]:
    """Warm up, then time ``rounds`` rounds of ``calls`` calls; pooled median and p99."""
    calls = calls or plan.latency_calls
    rounds = rounds or plan.latency_rounds
    time_calls(op, plan.warmup)
    samples: list[int] = []
    medians = []
    for _ in range(rounds):
        got = time_calls(op, calls)
        samples += got
        medians.append(summarize(got, overhead)["median_ns"])
    out = summarize(samples, overhead)
    out["round_medians_ns"] = medians
    return out


def throughput(st: State, timer: Callable[[State, int], float], plan: Plan) -> dict[str, Any]:
    """Commands per second over ``mixed_rounds`` runs (after an untimed one)."""
    n = min(plan.mixed_commands, mixed_capacity(st))
    timer(st, n)
    rates = sorted(n / timer(st, n) for _ in range(plan.mixed_rounds))
    return {"ops_per_s": rates[(len(rates) - 1) // 2], "min_ops_per_s": rates[0],
            "max_ops_per_s": rates[-1], "commands": n, "runs": len(rates)}


# ---------------------------------------------------------------------------------------
# One engine, one state


def measure_engine(engine: str, scale: Scale, plan: Plan, overhead: int,
                   budget_s: Optional[float] = None,
                   progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every figure of DESIGN §5 for one engine at one scale."""
    plan = plan.for_engine(engine)
    progress(f"{engine}: building {scale.describe()}")
    st = build(engine, scale, budget_s)
    try:
        res: dict[str, Any] = {"engine": engine, "scale": asdict(scale),
                               "build_s": st.build_s}
        waiting = st.waiting()
        if waiting != scale.waiting:
            raise WorkloadError(f"{waiting} waiting after the build, not {scale.waiting}")
        progress(f"{engine}: submit that assigns")
        res["submit_assign"] = latency(SubmitAssign(st), plan, overhead)
        progress(f"{engine}: finish that pulls")
        res["finish_pull"] = latency(FinishPull(st), plan, overhead)
        progress(f"{engine}: mixed commands through the Python API")
        res["mixed_api"] = throughput(st, time_mixed_api, plan)
        progress(f"{engine}: mixed commands through apply_many")
        res["mixed_batch"] = throughput(st, time_mixed_batch, plan)
        st.refresh()
        waiting = st.waiting()
        if waiting != scale.waiting:
            raise WorkloadError(f"the workload let the queues drift: {waiting} waiting, "
                                f"not {scale.waiting}")
        res["memory"] = memory_figures(st)
        return res
    finally:
        release(st)


def memory_figures(st: State) -> dict[str, Any]:
    mem = st.memory()
    if mem is None:
        return {"bytes_total": None, "bytes_per_waiting": None}
    return {"bytes_total": mem,
            "bytes_waiting": st.memory_after - st.memory_before,
            "bytes_per_waiting": (st.memory_after - st.memory_before) / st.scale.waiting}


def measure_size(engine: str, scale: Scale, plan: Plan, overhead: int,
                 budget_s: Optional[float] = None) -> dict[str, Any]:
    """The lighter figures of the size sweep: submit and finish latency, memory."""
    plan = plan.for_engine(engine)
    st = build(engine, scale, budget_s)
    try:
        return {
            "build_s": st.build_s,
            "submit_assign": latency(SubmitAssign(st), plan, overhead, plan.size_calls,
                                     plan.size_rounds),
            "finish_pull": latency(FinishPull(st), plan, overhead, plan.size_calls,
                                   plan.size_rounds),
            "memory": memory_figures(st),
        }
    finally:
        release(st)



def measure_cases(engine: str, scale: Scale, plan: Plan, overhead: int,
                  budget_s: Optional[float] = None,
                  progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """The issue 3 cases for one engine: each state of :data:`CASES` built at ``scale``
    (``budget_s`` for each build) and its operations timed as the plain ones are."""
    plan = plan.for_engine(engine)
    res: dict[str, Any] = {"engine": engine, "scale": asdict(scale), "build_s": {}}
    for label, features, ops in CASES:
        progress(f"{engine}: building {scale.describe()}, {label}")
        st = build(engine, scale, budget_s, features=features)
        try:
            res["build_s"][label] = st.build_s
            for key, op in ops:
                progress(f"{engine}, {label}: {op.name.replace('_', ' ')}")
                res[key] = latency(op(st), plan, overhead)
            waiting = st.waiting()
            if waiting != scale.waiting:
                raise WorkloadError(f"{label}: the workload let the queues drift: {waiting} "
                                    f"waiting, not {scale.waiting}")
        finally:
            release(st)
    return res


def case_ratios(native: dict[str, Any], ref: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Reference median / native median for each issue 3 case."""
    out = {}
    for key in CASE_KEYS:
        n, r = native[key]["median_ns"], ref[key]["median_ns"]
        out[key] = {"native": n, "reference": r, "ratio": r / n if n > 0 else math.inf}
    return out


def run_cases(suite: "Suite", overhead: int,
              progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """The issue 3 cases for every engine of the suite, at the suite's scale (both engines
    at a tenth of the waiting conversations if the reference cannot build the full state
    within its budget, as for the plain figures)."""
    plan, scale = suite.plan, suite.scale
    res: dict[str, Any] = {
        "scale": asdict(scale), "accept_timeout": OFFERS.accept_timeout,
        "skills_per_operator": SKILLS.skills, "skill_names": len(SKILL_NAMES),
        "engines": {"native": measure_cases("native", scale, plan, overhead,
                                            progress=progress)},
        "notes": [],
    }
    if "reference" in suite.engines:
        try:
            ref = measure_cases("reference", scale, plan, overhead, plan.reference_budget_s,
                                progress)
            res["ratio_scale"] = asdict(scale)
            res["engines"]["reference"] = ref
            res["ratios"] = case_ratios(res["engines"]["native"], ref)
        except TooSlow as exc:
            small = replace(scale, waiting=max(scale.saturated_groups, scale.waiting // 10))
            res["notes"].append(
                f"Issue 3 cases: the reference engine was too slow to build the full state "
                f"({exc}); it ran at {small.describe()}, and so did the native engine for "
                f"the ratios.")
            ref = measure_cases("reference", small, plan, overhead, None, progress)
            nat = measure_cases("native", small, plan, overhead, None, progress)
            res["ratio_scale"] = asdict(small)
            res["engines"]["reference"] = ref
            res["engines"]["native_at_ratio_scale"] = nat
            res["ratios"] = case_ratios(nat, ref)
    return res


def measure_heapq(size: int, plan: Plan, overhead: int) -> dict[str, Any]:
    base = HeapqBaseline(size)
    time_heapq(base, plan.warmup)
    pushes: list[int] = []
    pops: list[int] = []
    for _ in range(plan.latency_rounds):
        a, b = time_heapq(base, plan.latency_calls)
        pushes += a
        pops += b
    return {"size": size, "push": summarize(pushes, overhead), "pop": summarize(pops, overhead)}


def measure_dict(size: int, plan: Plan, overhead: int) -> dict[str, Any]:
    base = DictBaseline(size)
    time_dict(base, plan.warmup)
    hits: list[int] = []
    misses: list[int] = []
    for _ in range(plan.latency_rounds):
        a, b = time_dict(base, plan.latency_calls)
        hits += a
        misses += b
    return {"size": size, "hit": summarize(hits, overhead), "miss": summarize(misses, overhead)}


# ---------------------------------------------------------------------------------------
# The whole run


@dataclass
class Suite:
    """What :func:`run` measures, and at which scale."""

    scale: Scale = DESIGN_SCALE
    plan: Plan = FULL_PLAN
    engines: tuple[str, ...] = ("native", "reference")
    sweep: bool = True
    cases: bool = True      # the issue 3 cases (offers, skills)
    notes: list[str] = field(default_factory=list)


def ratios(native: dict[str, Any], ref: dict[str, Any]) -> dict[str, dict[str, float]]:
    """How many times the native engine beats the reference, figure by figure."""
    out = {}
    for key in ("submit_assign", "finish_pull"):
        n, r = native[key]["median_ns"], ref[key]["median_ns"]
        out[key] = {"native": n, "reference": r, "ratio": r / n if n > 0 else math.inf}
    for key in ("mixed_api", "mixed_batch"):
        n, r = native[key]["ops_per_s"], ref[key]["ops_per_s"]
        out[key] = {"native": n, "reference": r, "ratio": n / r if r > 0 else math.inf}
    return out


def run(suite: Suite, progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the suite; return every figure as plain data (JSON-ready)."""
    t_start = time.perf_counter()
    plan, scale = suite.plan, suite.scale
    overhead = timer_overhead_ns()
    res: dict[str, Any] = {
        "scale": asdict(scale), "plan": asdict(plan), "timer_overhead_ns": overhead,
        "engines": {}, "notes": list(suite.notes),
    }
    res["engines"]["native"] = measure_engine("native", scale, plan, overhead,
                                              progress=progress)
    if "reference" in suite.engines:
        try:
            ref = measure_engine("reference", scale, plan, overhead, plan.reference_budget_s,
                                 progress)
            res["ratio_scale"] = asdict(scale)
            res["engines"]["reference"] = ref
            res["ratios"] = ratios(res["engines"]["native"], ref)
        except TooSlow as exc:
            small = replace(scale, waiting=max(scale.saturated_groups, scale.waiting // 10))
            res["notes"].append(
                f"The reference engine was too slow to build the full state ({exc}); it "
                f"ran at {small.describe()}, and so did the native engine for the ratios.")
            progress(f"reference too slow at full scale: ratios at {small.waiting:,} waiting")
            ref = measure_engine("reference", small, plan, overhead, None, progress)
            nat = measure_engine("native", small, plan, overhead, None, progress)
            res["ratio_scale"] = asdict(small)
            res["engines"]["reference"] = ref
            res["engines"]["native_at_ratio_scale"] = nat
            res["ratios"] = ratios(nat, ref)
    if suite.cases:
        res["offers_skills"] = cases = run_cases(suite, overhead, progress)
        res["notes"] += cases["notes"]
    if suite.cases:
        progress("durability: building the native state")
        jst = build("native", scale)
        try:
            res["durability"] = journalbench.run(jst, plan, suite.scale is QUICK_SCALE,
                                                 progress)
        finally:
            release(jst)
            del jst
            gc.unfreeze()
            gc.collect()
    if suite.cases and suite.scale is not QUICK_SCALE:
        # servers in their own processes (redis-server, pyroute serve, workers): full runs
        res["redis"] = redisbench.run(False, progress)
        res["service"] = servicebench.run(False, progress)
    elif suite.cases:
        res["notes"].append("--quick leaves out the Redis and service load figures "
                            "(separate server processes); a full run measures them.")
    if suite.cases:
        res["simulator"] = simbench.run(suite.scale is QUICK_SCALE, progress)
        res["notes"] += res["simulator"]["notes"]
        res["ewt_accuracy"] = accuracy.run(suite.scale is QUICK_SCALE, progress=progress)
    progress(f"heapq baseline at {scale.waiting:,} entries")
    res["heapq"] = measure_heapq(scale.waiting, plan, overhead)
    # as many ids as the native router maps at this scale: waiting, active, and the
    # ended conversations it keeps in history (RouterConfig.history, by default)
    history = next(f.default for f in msgspec.structs.fields(pr.RouterConfig)
                   if f.name == "history")
    size = scale.waiting + scale.operators * scale.limit + history
    progress(f"dict baseline at {size:,} ids")
    res["dict"] = measure_dict(size, plan, overhead)
    res["sizes"] = []
    if suite.sweep:
        for size in plan.sizes:
            row: dict[str, Any] = {"waiting": size}
            sized = replace(scale, waiting=max(size, scale.saturated_groups))
            for engine in suite.engines:
                main = res["engines"].get(engine)
                if size == scale.waiting and main is not None:
                    row[engine] = {k: main[k] for k in
                                   ("build_s", "submit_assign", "finish_pull", "memory")}
                    continue
                progress(f"size sweep: {engine} at {size:,} waiting")
                try:
                    row[engine] = measure_size(engine, sized, plan, overhead,
                                               plan.reference_budget_s
                                               if engine == "reference" else None)
                except TooSlow as exc:
                    row[engine] = {"skipped": str(exc)}
            res["sizes"].append(row)
    res["elapsed_s"] = time.perf_counter() - t_start
    return res

