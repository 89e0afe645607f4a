"""Instructions per command of a ``pyroute worker`` on Redis Streams, counted by
callgrind (issue 15, point 4).

``python -m pyroute.bench.workerinstructions`` (or ``python bench/workerinstructions.py``;
needs valgrind and redis-server) starts a redis-server on a loopback port, writes the
command streams of :mod:`.redisbench` (32 tenants over 16 shards; an operator a tenant,
then submits and finishes) from this process, and runs one worker in a child process
under ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce``:
the worker takes its leases and restores its shards first (uncounted), then its rounds run
inside one ``functools.reduce`` until every command has been seen, so everything a round
does in the worker's process is counted — reading and parsing the stream entries,
decoding the commands, the routers, encoding and framing the events, the fenced writes —
and Redis's own work is not (redis-server is another process; its CPU time over the run
is reported beside — Redis's own ``INFO cpu`` just before and after the rounds, in
microseconds a command; noisy). Ir per command =
Ir / commands. Two rows: fresh shards, and shards "up for a while" (each starts with a
full window of 100,000 remembered command ids in its snapshot, as in
:mod:`.redisbench`). The collector's thresholds are the ``pyroute worker`` command's
(``pyroute.redis.worker.WORKER_GC``), and one full collection runs after the restores, so that
the collector's walks over the restored shards (a cost of the takeover) are not counted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

N = 20_000
DEADLINE_S = 300   # the counted worker gives up (and the run fails) past this
CASES = {"fresh": "fresh shards", "steady": "up for a while (100,000 ids remembered a shard)"}


try:   # the sibling-module loader of the simulator's count, wherever bench/ is found
    from pyroute.bench.siminstructions import _sibling
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from siminstructions import _sibling  # type: ignore[no-redef]


def _self_cmd() -> list[str]:
    return _sibling("instructions").self_cmd(
        __spec__.name if __spec__ is not None else None, __file__)


def child(url: str, tenants: str, n: int) -> None:
    """The counted worker: leases and restores, then rounds until ``n`` commands."""
    import functools

    from pyroute.redis.worker import WORKER_GC, Worker, load_tenants
    gc.set_threshold(*WORKER_GC)
    w = Worker(url, load_tenants(tenants), lease_ms=600_000, snapshot_every=10_000)
    w._leases()
    # the restored shards' containers (a deque of 100,000 ids a shard, up for a while)
    # are young: the collector would walk them once or twice before they are old, a cost
    # of the takeover, not of a command
    gc.collect()
    seen = [0]
    t0 = time.perf_counter()

    def one(acc: int, _: Any) -> int:
        seen[0] += w._round(100, overlap=True)
        if time.perf_counter() - t0 > DEADLINE_S:
            raise SystemExit(f"the worker saw {seen[0]:,} of {n:,} commands in "
                             f"{DEADLINE_S} s")
        return acc

    def redis_cpu() -> float:
        info = w.redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    c0 = redis_cpu()
    t0 = time.perf_counter()
    functools.reduce(one, iter(lambda: seen[0] < n, False), 0)
    w._settle()
    secs = time.perf_counter() - t0
    print(json.dumps({"seen": seen[0], "applied": w.applied, "seconds": secs,
                      "redis_cpu_s": redis_cpu() - c0}))


def figures(n: int = N, keep: Optional[str] = None) -> dict[str, Any]:
    """A row a case: Ir per command of the worker's process, redis-server's CPU per
    command. ``skipped`` when valgrind, redis-server or redis-py is missing."""
    fig: dict[str, Any] = {"n": n, "rows": []}
    server = shutil.which("redis-server")
    if shutil.which("valgrind") is None:
        fig["skipped"] = "valgrind is not on the PATH (apt-get install valgrind)"
        return fig
    if server is None:
        fig["skipped"] = "redis-server is not installed (apt-get install redis-server)"
        return fig
    try:
        import redis
    except ModuleNotFoundError:
        fig["skipped"] = "redis-py is not installed (pip install \".[redis]\")"
        return fig
    rb = _sibling("redisbench")
    cg = _sibling("instructions").callgrind
    from pyroute.redis.client import key
    names = [f"t{i}" for i in range(32)]
    with tempfile.TemporaryDirectory() as d, rb.redis_server(server, d) as url:
        r = redis.Redis.from_url(url)
        try:
            cfg = Path(d) / "tenants.toml"
            cfg.write_text("".join(rb.TENANT.format(name=t) for t in names))
            for case in CASES:
                r.flushall()
                rb._fill(r, n, names)
                if case == "steady":
                    rb._remembered(r)
                out = os.path.join(keep or d, f"callgrind.worker.{case}.{n}")
                ir, stdout = cg([*_self_cmd(), "--child", url, str(cfg), str(n)],
                                "functools_reduce", out)
                got = json.loads(stdout.strip().splitlines()[-1])
                redis_s = got["redis_cpu_s"]
                events = sum(r.xlen(key(s, "events")) for s in range(16))
                if got["seen"] != n or events != n:
                    raise SystemExit(f"worker run {case}: {got['seen']} commands seen, "
                                     f"{events} event entries, {n} commands")
                fig["rows"].append({"case": case, "commands": n, "ir": ir,
                                    "ir_per_command": ir / n,
                                    "redis_us_per_command": redis_s / n * 1e6})
        finally:
            r.close()
    return fig


def text(fig: dict[str, Any]) -> list[str]:
    """The Markdown section of :func:`figures`."""
    lines = ["## Redis worker (callgrind)", "",
             f"One `pyroute worker` process applying {fig['n']:,} commands of the Redis "
             "benchmark's streams (32 tenants, 16 shards), counted under "
             "`valgrind --tool=callgrind` inside its rounds only (leases and restores "
             "before them count nothing): reading and parsing the entries, decoding, "
             "routing, encoding and framing the events, the fenced writes. redis-server "
             "runs outside valgrind in its own process; its CPU time over the counted run "
             "is beside (noisy, and it includes serving the slowed-down worker's "
             "connection). bench/workerinstructions.py says how.", ""]
    if fig.get("skipped"):
        return lines + [f"Skipped: {fig['skipped']}.", ""]
    lines += ["| shards | commands | Ir | Ir per command | redis-server CPU per command "
              "(noisy) |", "| --- | --- | --- | --- | --- |"]
    for r in fig["rows"]:
        lines.append(f"| {CASES[r['case']]} | {r['commands']:,} | {r['ir']:,} | "
                     f"{r['ir_per_command']:,.0f} | {r['redis_us_per_command']:.2f} µs |")
    return lines + [""]


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=N, help="commands in the streams")
    p.add_argument("--keep", metavar="DIR", help="keep the callgrind files in DIR "
                   "(for callgrind_annotate)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--child", nargs=3, metavar=("URL", "TENANTS", "N"),
                   help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]))
        return
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    fig = figures(a.n, a.keep)
    if fig.get("skipped"):
        raise SystemExit(fig["skipped"])
    if a.json:
        print(json.dumps(fig, indent=2))
        return
    print("\n".join(text(fig)))


if __name__ == "__main__":
    main()
