"""Instructions per simulated conversation: pyroute's simulator against Ciw and SimPy on
the same M/M/c model, counted by callgrind in one run (issue 15, point 5).

``python -m pyroute.bench.siminstructions`` (or ``python bench/siminstructions.py``)
runs each simulator in its own process under ``valgrind --tool=callgrind
--collect-atstart=no`` with collection toggled on only inside the simulation run, as
:mod:`.instructions` counts the router's calls:

* ``pyroute`` — the model of :mod:`.simbench` (M/M/20, load 0.9, mean handling 240 s,
  seed 1; one queue-length sample instead of 100, see :func:`scenario`) through
  ``pyroute.sim.simulate`` on the native engine, counted inside the
  extension's wrapper of ``Loop.run`` (the compiled event loop with everything it calls:
  the Router's submits and finishes, its events, the random draws, the statistics it
  keeps); the set-up before it and the report after it count nothing;
* ``pyroute_whole`` — the same run counted inside ``operator.call(simulate, scenario)``:
  set-up, loop and report, what a user's call costs;
* ``ciw`` — the same model in Ciw (:func:`.sim_baselines.ciw_simulation`, seed 1),
  counted inside ``operator.call(sim.simulate_until_max_customers, m)``;
* ``simpy`` — the same model in SimPy (:func:`.sim_baselines.simpy_model`, seed 1),
  counted inside ``operator.call(env.run, done)``.

The same number of customers for each: pyroute runs for simulated time ``n / lam`` and
then drains (no abandonment), so every one of its ``m`` arrivals completes service; Ciw
and SimPy then run until exactly ``m`` customers have completed service. Ir per customer
is the run's count over ``m``, for each. Each simulator's own random draws are counted
(Ciw's numpy-seeded ``random``, SimPy's ``random.Random``, pyroute's generator in the
loop).

The garbage collector stays on, as in a user's run (its collections are part of what
Ciw's and SimPy's objects cost); a ``gc.collect()`` just before each counted run starts
its counts from zero, so the counts repeat: to within 0.01 % for pyroute, to a fraction
of a percent for Ciw and SimPy (a different import history changes how much their full
collections traverse). ``PYTHONHASHSEED=0`` and the fixed seeds do the rest.

Beside the counts, wall-clock seconds per customer of the same runs (the same scope timed
with ``time.perf_counter``, outside valgrind; the median of a few runs, made one after
the other in one fresh process a simulator): noisy, unlike the counts.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Optional


def _sibling(name: str) -> Any:
    """A module of bench/: as ``pyroute.bench.NAME``, or from this file's folder when run
    as a script from a tree where pyroute.bench is not installed."""
    try:
        return importlib.import_module(f"pyroute.bench.{name}")
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        return importlib.import_module(name)


_LOOP = "__pyx_pw_*_loop_*Loop_*run"
_CALL = "_operator_call"
#: tool -> (the function inside which collection is on, what that scope is)
TOOLS = {
    "pyroute": (_LOOP, "`Loop.run`: the compiled event loop and the Router calls, "
                       "events, random draws and statistics inside it"),
    "pyroute_whole": (_CALL, "`simulate(scenario)`: set-up, loop and report"),
    "ciw": (_CALL, "`Simulation.simulate_until_max_customers(m)`"),
    "simpy": (_CALL, "`Environment.run(until=done)`, done at the m-th completion"),
}
#: what the rows are called in bench/RESULTS.md ({v}: the simulator's version)
NAMES = {"pyroute": "pyroute {v} (native): event loop",
         "pyroute_whole": "pyroute {v} (native): whole `simulate()`",
         "ciw": "Ciw {v}", "simpy": "SimPy {v}"}
#: issue 15: pyroute's simulator at least this many times fewer instructions a customer
TARGET_VS = {"ciw": 20.0, "simpy": 8.0}
SEED = 1
#: arrivals of the pyroute run (simulated time n / lam) by default
N = 20_000
ROUNDS = 3


# ---------------------------------------------------------------- the runs (child side)

def scenario(n: int) -> Any:
    """:func:`.simbench.scenario` with a single queue-length sample (at time 0) instead of
    100: Ciw and SimPy keep no such series, and its 100 ``Router.stats`` calls are a cost
    per run, not per customer."""
    import msgspec
    sc = _sibling("simbench").scenario(n)
    return msgspec.structs.replace(sc, sample_every=sc.warmup + sc.duration + 1.0)


def _pyroute(n: int, whole: bool, timed: bool) -> tuple[int, float, str]:
    """One pyroute run of ``n / lam`` simulated seconds; (customers, seconds, version).
    ``seconds``: of ``Loop.run`` alone (``whole``: of the whole ``simulate``), timed
    when ``timed``."""
    import operator

    import pyroute
    from pyroute.sim import _loop, simulate
    sc = scenario(n)
    spent = 0.0
    gc.collect()   # the collector's counts start from zero, whatever was imported
    if whole:
        t0 = time.perf_counter()
        r = operator.call(simulate, sc)
        spent = time.perf_counter() - t0
    elif timed:
        # time Loop.run alone without touching the simulator: for this run the engine
        # builds a subclass whose run times the compiled one (the loop's calls inside
        # are compiled code calling the compiled Router, unchanged)
        from pyroute.sim import engine
        marks: list[float] = []

        class Timed(_loop.Loop):   # type: ignore[misc]
            def run(self, progress: Any = None) -> Any:
                t0 = time.perf_counter()
                try:
                    return super().run(progress)
                finally:
                    marks.append(time.perf_counter() - t0)
        engine.Loop, built = Timed, engine.Loop
        try:
            r = simulate(sc)
        finally:
            engine.Loop = built
        if len(marks) != 1:
            raise SystemExit(f"timing Loop.run: {len(marks)} runs timed, not 1 (does "
                             "pyroute.sim.engine still build its Loop by that name?)")
        spent = marks[0]
    else:
        r = simulate(sc)
    o = r.overall
    if o.answered != o.offered or o.unresolved:
        raise SystemExit(f"pyroute run: {o.offered} offered, {o.answered} answered, "
                         f"{o.unresolved} unresolved (expected all answered)")
    return o.answered, spent, pyroute.__version__


def _ciw(m: int) -> tuple[int, float, str]:
    import operator

    import ciw
    sb = _sibling("sim_baselines")
    sc = _sibling("simbench")
    sim = sb.ciw_simulation(sc.C, sc.LAM, sc.MU, SEED)
    gc.collect()
    t0 = time.perf_counter()
    operator.call(sim.simulate_until_max_customers, m)
    spent = time.perf_counter() - t0
    return len(sim.get_all_records(only=["service"])), spent, ciw.__version__


def _simpy(m: int) -> tuple[int, float, str]:
    import operator
    from importlib.metadata import version
    sb = _sibling("sim_baselines")
    sc = _sibling("simbench")
    env, waits, done = sb.simpy_model(sc.C, sc.LAM, sc.MU, SEED, customers=m)
    gc.collect()
    t0 = time.perf_counter()
    operator.call(env.run, done)
    spent = time.perf_counter() - t0
    return len(waits), spent, version("simpy")


def child(tool: str, size: int, rounds: int) -> None:
    """One run of ``tool`` (``rounds`` 0, under callgrind), or ``rounds`` timed runs;
    prints a JSON line: customers, seconds of each timed run, the tool's version.
    ``size``: the pyroute run's arrivals (simulated time size / lam), or the customers
    the Ciw and SimPy runs complete."""
    def once() -> tuple[int, float, str]:
        if tool in ("pyroute", "pyroute_whole"):
            return _pyroute(size, tool == "pyroute_whole", rounds > 0)
        return (_ciw if tool == "ciw" else _simpy)(size)
    seconds = []
    for _ in range(max(1, rounds)):
        customers, spent, version = once()
        seconds.append(spent)
    print(json.dumps({"customers": customers, "version": version,
                      "seconds": seconds if rounds else []}))


# ---------------------------------------------------------------- the parent side

def _self_cmd() -> list[str]:
    return _sibling("instructions").self_cmd(
        __spec__.name if __spec__ is not None else None, __file__)


def _child_json(stdout: str) -> dict[str, Any]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"no result from the child run:\n{stdout[-2000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def measure(tool: str, size: int, rounds: int = ROUNDS,
            keep: Optional[str] = None) -> dict[str, Any]:
    """Ir per customer of ``tool`` (one callgrind run) and its wall-clock per customer
    (the median of ``rounds`` timed runs in a fresh process; none when 0)."""
    import subprocess
    if tool not in TOOLS:
        raise ValueError(f"unknown simulator {tool!r}: choose from {', '.join(TOOLS)}")
    tmp = keep or tempfile.mkdtemp(prefix="pyroute-sim-ir-")
    try:
        out = os.path.join(tmp, f"callgrind.sim.{tool}.{size}")
        ir, stdout = _sibling("instructions").callgrind(
            [*_self_cmd(), "--child", tool, str(size), "0"], TOOLS[tool][0], out)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    counted = _child_json(stdout)
    row: dict[str, Any] = {"tool": tool, "size": size, "customers": counted["customers"],
                           "version": counted["version"], "ir": ir,
                           "ir_per_customer": ir / max(1, counted["customers"]),
                           "rounds": rounds, "wall_us_per_customer": None}
    if rounds:
        res = subprocess.run([*_self_cmd(), "--child", tool, str(size), str(rounds)],
                             capture_output=True, text=True,
                             env=dict(os.environ, PYTHONHASHSEED="0"))
        if res.returncode != 0:
            raise SystemExit(f"timed {tool} run failed:\n{res.stderr[-3000:]}")
        timed = _child_json(res.stdout)
        if timed["customers"] != counted["customers"]:
            raise SystemExit(f"{tool}: {timed['customers']} customers timed, "
                             f"{counted['customers']} counted")
        row["wall_us_per_customer"] = (statistics.median(timed["seconds"])
                                       / max(1, timed["customers"]) * 1e6)
    return row


def figures(n: int = N, rounds: int = ROUNDS, keep: Optional[str] = None) -> dict[str, Any]:
    """The four rows for ``pyroute bench --instructions``: pyroute's run of ``n`` arrivals
    first, then Ciw and SimPy to the same number of completed customers. A dict with
    ``skipped`` when valgrind is not installed; ``missing`` names the baseline packages
    that are not (their rows are left out)."""
    sc = _sibling("simbench")
    fig: dict[str, Any] = {"model": f"M/M/{sc.C}, load {sc.LOAD}, mean handling "
                                    f"{sc.HANDLE:g} s, seed {SEED}",
                           "n": n, "rounds": rounds, "rows": [], "missing": []}
    if shutil.which("valgrind") is None:
        fig["skipped"] = "valgrind is not on the PATH (apt-get install valgrind)"
        return fig
    have = _sibling("sim_baselines").available()
    fig["missing"] = [name for name in ("ciw", "simpy") if not have.get(name)]
    first = measure("pyroute", n, rounds, keep)
    m = first["customers"]
    fig["customers"] = m
    fig["rows"].append(first)
    fig["rows"].append(measure("pyroute_whole", n, rounds, keep))
    for name in ("ciw", "simpy"):
        if name not in fig["missing"]:
            fig["rows"].append(measure(name, m, rounds, keep))
    return fig


def ratios(fig: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Ciw's and SimPy's Ir (and wall-clock) per customer over pyroute's event loop's,
    and over pyroute's whole ``simulate()`` call."""
    by = {r["tool"]: r for r in fig.get("rows", [])}
    out: dict[str, dict[str, Any]] = {}
    loop, whole = by.get("pyroute"), by.get("pyroute_whole")
    for name in ("ciw", "simpy"):
        r = by.get(name)
        if r is None or loop is None:
            continue
        wall = (r["wall_us_per_customer"] / loop["wall_us_per_customer"]
                if r["wall_us_per_customer"] and loop["wall_us_per_customer"] else None)
        out[name] = {"ir": r["ir_per_customer"] / loop["ir_per_customer"],
                     "ir_whole": (r["ir_per_customer"] / whole["ir_per_customer"]
                                  if whole else None),
                     "wall": wall}
    return out


def text(fig: dict[str, Any]) -> list[str]:
    """The Markdown section of :func:`figures`: a row a simulator, Ir and wall-clock per
    customer side by side, the ratios against their targets."""
    lines = ["## Simulator vs Ciw and SimPy (callgrind)", "",
             f"{fig['model']}. pyroute runs {fig['n']:,} arrivals' worth of simulated time "
             "and drains, so all its customers complete service; Ciw and SimPy then run "
             "until the same number have completed. Each simulator runs in its own "
             "process under `valgrind --tool=callgrind --collect-atstart=no`, counted "
             "only inside its simulation run (the scope column: model construction and "
             "the statistics gathered afterwards count nothing, except in the whole "
             "`simulate()` row; pyroute takes one queue-length sample, at time 0, where "
             "`pyroute bench`'s simulator section takes 100); Ir per customer = "
             "Ir / customers. Wall-clock per "
             f"customer: the same scope timed outside valgrind, the median of "
             f"{fig.get('rounds', ROUNDS)} runs; noisy (it moves with "
             "the machine's load), unlike the counts. Targets (issue 15): at least "
             f"{TARGET_VS['ciw']:g}× fewer instructions than Ciw and "
             f"{TARGET_VS['simpy']:g}× fewer than SimPy per customer.", ""]
    if fig.get("skipped"):
        return lines + [f"Skipped: {fig['skipped']}.", ""]
    by = {r["tool"]: r for r in fig["rows"]}
    loop = by.get("pyroute")
    lines += ["| simulator | counted inside | customers | Ir | Ir per customer "
              "| × pyroute's loop (Ir) | wall per customer (noisy) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in fig["rows"]:
        wall = ("—" if r.get("wall_us_per_customer") is None
                else f"{r['wall_us_per_customer']:.2f} µs")
        times = (f"{r['ir_per_customer'] / loop['ir_per_customer']:.1f}×" if loop
                 else "—")
        lines.append(f"| {NAMES[r['tool']].format(v=r['version'])} | "
                     f"{TOOLS[r['tool']][1]} | {r['customers']:,} | {r['ir']:,} | "
                     f"{r['ir_per_customer']:,.0f} | {times} | {wall} |")
    lines.append("")
    for name, q in ratios(fig).items():
        target = TARGET_VS[name]
        label = NAMES[name].format(v="").strip()
        wall = "" if q["wall"] is None else f"; wall-clock {q['wall']:.1f}× (noisy)"
        whole = ("" if q["ir_whole"] is None
                 else f"; against the whole `simulate()` call {q['ir_whole']:.1f}×")
        lines.append(f"- {label} / pyroute, Ir per customer: {q['ir']:.1f}× (target "
                     f"{target:g}×: {'met' if q['ir'] >= target else 'MISSED'}){whole}"
                     f"{wall}.")
    counts = {r["tool"]: r["customers"] for r in fig["rows"]}
    if len(set(counts.values())) > 1:
        lines.append(f"- The runs served different numbers of customers: {counts} "
                     "(the ratios are per customer all the same).")
    for name in fig.get("missing", []):
        lines.append(f"- {NAMES[name].format(v='').strip()}: skipped, `{name}` is not "
                     f"installed (`pip install \".[bench]\"`).")
    return lines + [""]


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=N,
                   help="arrivals of the pyroute run (simulated time n / lam)")
    p.add_argument("--rounds", type=int, default=ROUNDS,
                   help="timed runs a simulator for the wall-clock median (0: none)")
    p.add_argument("--keep", metavar="DIR", help="keep the callgrind files in DIR "
                   "(for callgrind_annotate)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--child", nargs=3, metavar=("TOOL", "SIZE", "ROUNDS"),
                   help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], int(a.child[1]), int(a.child[2]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not on the PATH (apt-get install valgrind)")
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    fig = figures(a.n, a.rounds, a.keep)
    if a.json:
        print(json.dumps(fig, indent=2))
        return
    print("\n".join(text(fig)))


if __name__ == "__main__":
    main()
