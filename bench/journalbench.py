"""Durability benchmark (issue 5): the mixed workload of DESIGN §5 through a durable router
(``fsync="never"`` and ``"batch"``) against the same router in memory, and recovery time
of a journal of 1,000,000 commands (replay alone, and from a snapshot).

The durable router is made from the built state with ``pyroute.journal.attach`` (a
snapshot of it, then journaling), so both measure the same state with the same commands.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pyroute as pr
from pyroute.journal import attach

from . import workloads

TARGET_SHARE = 0.5          # durable throughput >= half the in-memory one
RECOVERY_COMMANDS = 1_000_000
RECOVERY_TARGET_S = 5.0


def throughput(st: Any, plan: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    n = min(plan.mixed_commands, workloads.mixed_capacity(st))
    base_router = st.router

    def runs(timer) -> float:
        timer(st, n)                      # untimed warm-up
        secs = [timer(st, n) for _ in range(plan.mixed_rounds)]
        return n / statistics.median(secs)

    progress("durability: in memory")
    res["memory"] = {"api": runs(workloads.time_mixed_api),
                     "apply_many": runs(workloads.time_mixed_batch)}
    for fsync in ("never", "batch"):
        progress(f"durability: fsync={fsync}")
        d = Path(tempfile.mkdtemp(prefix="pyroute-bench-"))
        try:
            durable = attach(base_router, d, fsync=fsync, snapshot_every=None)
            st.router = durable
            res[fsync] = {"api": runs(workloads.time_mixed_api),
                          "apply_many": runs(workloads.time_mixed_batch)}
            durable.close()
        finally:
            st.router = base_router
            shutil.rmtree(d, ignore_errors=True)
    res["shares"] = {f"{fs} {k}": res[fs][k] / res["memory"][k]
                     for fs in ("never", "batch") for k in ("api", "apply_many")}
    res["commands"] = n
    return res


def recovery(n: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Write a journal of ``n`` steady commands (1,000 operators; submits, finishes,
    cancels), then time reopening it: by replay alone, and with snapshots every 30% of them."""
    config = pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("mail")],
                             groups=[pr.Group(f"g{i}") for i in range(10)])
    cmds: list = [pr.AddOperator(operator=f"op{i}", groups=(f"g{i % 10}",), limit=5,
                                 status="online", now=0.0) for i in range(1000)]
    t, i = 1.0, 0
    while len(cmds) < n:
        cmds.append(pr.Submit(request=i, channel=("web", "mail")[i % 2],
                              group=f"g{i % 10}", now=t))
        if i >= 6000:
            cmds.append(pr.Finish(request=i - 6000, now=t) if i % 7 else
                        pr.Cancel(request=i - 6000, now=t))
        i += 1
        t += 0.001
    cmds = cmds[:n]
    out: dict[str, Any] = {"commands": n}
    for label, every in (("replay", None), ("snapshot", max(1000, n * 3 // 10))):
        d = Path(tempfile.mkdtemp(prefix="pyroute-bench-"))
        try:
            progress(f"durability: writing {n:,} commands ({label})")
            r = pr.Router.open(d, config, fsync="never", snapshot_every=every)
            for k in range(0, n, 10_000):
                r.apply_many(cmds[k:k + 10_000])
            state = r.stats(t)
            r.close()
            del r
            progress(f"durability: recovering {n:,} commands ({label})")
            t0 = time.perf_counter()
            again = pr.Router.open(d, config)
            secs = time.perf_counter() - t0
            if again.stats(t) != state:
                raise RuntimeError("recovered state differs")
            out[label] = {"seconds": secs, "replayed": again.recovery.replayed, "every": every,
                          "snapshot": again.recovery.snapshot,
                          "journal_bytes": (d / "journal.pyrj").stat().st_size}
            again.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return out


def rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    mem = res["throughput"]["memory"]
    for fs in ("memory", "never", "batch"):
        r = res["throughput"][fs]
        row = [("in memory" if fs == "memory" else f'fsync="{fs}"'),
               f"{r['api'] / 1e3:.0f} k/s", f"{r['apply_many'] / 1e3:.0f} k/s"]
        if fs == "memory":
            row += ["—", "—"]
        else:
            for k in ("api", "apply_many"):
                share = r[k] / mem[k]
                row.append(f"{100 * share:.0f}% ({'met' if share >= TARGET_SHARE else 'MISSED'})")
        out.append(tuple(row))
    return out


HEADER = ("router", "mixed, Python API", "mixed, apply_many", "API share", "apply_many share")


def recovery_text(res: dict[str, Any]) -> str:
    rec = res["recovery"]
    rp, sn = rec["replay"], rec["snapshot"]
    ok = "met" if rp["seconds"] < RECOVERY_TARGET_S else "MISSED"
    return (f"Recovery of a journal of {rec['commands']:,} commands "
            f"({rp['journal_bytes'] / 1e6:.0f} MB; 1,000 operators, submits, finishes and "
            f"cancels): {rp['seconds']:.2f} s by replay alone (target < "
            f"{RECOVERY_TARGET_S:g} s: {ok}); {sn['seconds']:.2f} s with snapshots every "
            f"{sn['every']:,} commands (snapshot at {sn['snapshot'] or 0:,}, then "
            f"{sn['replayed']:,} replayed).")


def run(st: Any, plan: Any, quick: bool,
        progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    return {"throughput": throughput(st, plan, progress),
            "recovery": recovery(50_000 if quick else RECOVERY_COMMANDS, progress)}
