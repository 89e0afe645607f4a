"""The simulator benchmark (issue 4): M/M/20 at load 0.9 through ``pyroute.sim.simulate``
with the native and the reference engine, against the same model in Ciw and SimPy
(optional: ``pip install ".[bench]"``), all in one run.

Each figure is the median of a few runs, reported as seconds per 1,000,000 conversations
(runs smaller than that are scaled linearly: the loop's cost per conversation does not
grow with the run's length).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

C, LOAD, HANDLE = 20, 0.9, 240.0
LAM, MU = LOAD * C / HANDLE, 1.0 / HANDLE
TARGET_S = 2.0          # issue 4: 1,000,000 conversations in under 2 s, native
TARGET_VS = {"ciw": 10.0, "simpy": 4.0}


def scenario(n: int):
    from pyroute.sim import scenario_from
    return scenario_from({
        "duration": n / LAM, "warmup": 0.0, "seed": 1, "sample_every": n / LAM / 100,
        "router": {"channels": [{"name": "web", "target_wait": 20.0, "early_cancel": 0.0}],
                   "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": C, "limit": 1, "groups": ["g"]}],
        "traffic": [{"channel": "web", "group": "g", "rate": LAM,
                     "handle": {"dist": "exp", "mean": HANDLE}}]})


def _runs(fn: Callable[[int], dict], n: int, rounds: int) -> dict[str, Any]:
    secs, per = [], []
    info: dict = {}
    for i in range(rounds):
        info = fn(n + i)   # a different length each round: different random draws
        secs.append(info["seconds"])
        per.append(info["seconds"] / max(1, info["customers"]))
    us = statistics.median(per) * 1e6
    return {"conversations": n, "rounds": rounds, "median_s": statistics.median(secs),
            "us_per_conversation": us, "s_per_million": us, "p_wait": info.get("p_wait"),
            "mean_wait": info.get("mean_wait")}


def _pyroute(engine: str) -> Callable[[int], dict]:
    from pyroute.sim import simulate

    def run(n: int) -> dict:
        sc = scenario(n)
        t = time.perf_counter()
        r = simulate(sc, engine=engine)
        return {"seconds": time.perf_counter() - t, "customers": r.conversations,
                "p_wait": r.overall.p_wait, "mean_wait": r.overall.mean_wait}
    return run


def run(quick: bool, progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    from . import sim_baselines
    n_native = 50_000 if quick else 1_000_000
    n_other = 20_000 if quick else 200_000
    rounds = 3
    res: dict[str, Any] = {"model": f"M/M/{C}, load {LOAD}, mean handling {HANDLE:g} s",
                           "runs": {}, "notes": []}
    progress(f"simulator: native engine, {n_native:,} conversations")
    res["runs"]["pyroute (native)"] = _runs(_pyroute("native"), n_native, rounds)
    progress(f"simulator: reference engine, {n_other:,} conversations")
    res["runs"]["pyroute (reference)"] = _runs(_pyroute("reference"), n_other, rounds)
    have = sim_baselines.available()
    for name, fn in (("ciw", sim_baselines.run_ciw), ("simpy", sim_baselines.run_simpy)):
        if not have.get(name):
            res["notes"].append(f"{name} is not installed: pip install \".[bench]\" to "
                                f"compare with it")
            continue
        progress(f"simulator: {name}, {n_other:,} conversations")
        res["runs"][name] = _runs(lambda n, fn=fn: fn(C, LAM, MU, n, seed=1), n_other, rounds)
    native = res["runs"]["pyroute (native)"]["us_per_conversation"]
    res["native_s_per_million"] = native
    res["ratios"] = {k: v["us_per_conversation"] / native for k, v in res["runs"].items()
                     if k != "pyroute (native)"}
    return res


def rows(sim: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for name, r in sim["runs"].items():
        ratio = sim["ratios"].get(name)
        target = TARGET_VS.get(name)
        out.append((name, f"{r['conversations']:,}", f"{r['median_s']:.2f} s",
                    f"{r['us_per_conversation']:.2f} µs",
                    f"{r['s_per_million']:.1f} s",
                    "—" if ratio is None else f"{ratio:.1f}×"
                    + ("" if target is None else f" (target {target:g}×: "
                       f"{'met' if ratio >= target else 'MISSED'})"),
                    "—" if r.get("p_wait") is None else f"{r['p_wait']:.3f}"))
    return out


HEADER = ("simulator", "conversations a run", "median run", "per conversation",
          "per 1,000,000", "pyroute native is", "p_wait")


def text(sim: dict[str, Any]) -> str:
    s = sim["native_s_per_million"]
    return (f"{sim['model']}; medians of {next(iter(sim['runs'].values()))['rounds']} runs "
            f"each. Target (issue 4): 1,000,000 conversations in under {TARGET_S:g} s with "
            f"the native engine — measured {s:.1f} s "
            f"({'met' if s < TARGET_S else 'MISSED'}). Erlang C gives p_wait 0.551.")
