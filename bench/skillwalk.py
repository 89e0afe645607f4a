"""Issue 16, point 9: what a freed slot costs when many conversations wait for a skill
nobody online has.

The state (:func:`build`): one group, one channel, ``operators`` operators (limit 5, no
skills), all full with conversations that require nothing; ``blocked`` waiting
conversations that require skill ``x`` (which no operator has), submitted first, so they
are ahead of everything else in the queue; then ``normal`` waiting conversations that
require nothing. The timed operation (:class:`FinishPull`): ``finish`` of an active
conversation; the freed slot must skip every blocked conversation to pull the first
normal one. ``prepare`` (untimed) submits a new normal conversation, so the queue keeps
its shape.

``python -m pyroute.bench.skillwalk`` (or ``python bench/skillwalk.py``) prints the wall
time per finish and, with valgrind on the PATH, the callgrind instructions per finish,
counted as :mod:`.instructions` counts them: collection toggled on in the wrapper of
``Router.finish`` only, runs of N and 2N calls, (Ir(2N) - Ir(N)) / N.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import pyroute as pr

WRAPPER = "__pyx_pw_*Router_*finish"


class State:
    def __init__(self, blocked: int = 200_000, normal: int = 1_000, operators: int = 20,
                 limit: int = 5) -> None:
        cfg = pr.RouterConfig(channels=[pr.Channel("chat")], groups=[pr.Group("g")],
                              history=0)
        self.router = r = pr.Router(cfg)
        self.t = 0.0
        self.n = 0
        self.active: collections.deque = collections.deque()
        for i in range(operators):
            r.add_operator(f"op{i}", ["g"], limit, "online", now=self.tick())
        for _ in range(operators * limit):
            rid = self.new_id()
            ev = r.submit(rid, "chat", "g", now=self.tick())
            assert ev[-1].__class__ is pr.Assigned, ev
            self.active.append(rid)
        need = {"x": 1}
        for _ in range(blocked):
            r.submit(self.new_id(), "chat", "g", now=self.tick(), skills=need)
        for _ in range(normal):
            r.submit(self.new_id(), "chat", "g", now=self.tick())

    def tick(self) -> float:
        self.t += 0.001
        return self.t

    def new_id(self) -> str:
        self.n += 1
        return f"c{self.n}"


class FinishPull:
    """``finish`` of the oldest active conversation: the slot pulls the first normal one."""

    def __init__(self, st: State) -> None:
        self.st = st
        self.call = st.router.finish
        self._submit = st.router.submit

    def prepare(self) -> tuple:
        st = self.st
        self._submit(st.new_id(), "chat", "g", now=st.tick())
        return (st.active.popleft(), st.tick())

    def pulled(self, events: list) -> None:
        for ev in events:
            if ev.__class__ is pr.Assigned:
                self.st.active.append(ev.request)
                return
        raise RuntimeError(f"the finish pulled nothing: {events}")


def time_finishes(blocked: int, n: int) -> float:
    """Mean wall seconds per finish."""
    st = State(blocked)
    op = FinishPull(st)
    gc.disable()
    total = 0.0
    try:
        for _ in range(n):
            args = op.prepare()
            t0 = time.perf_counter()
            ev = op.call(*args)
            total += time.perf_counter() - t0
            op.pulled(ev)
    finally:
        gc.enable()
    return total / n


def child(blocked: int, n: int) -> None:
    st = State(blocked)
    op = FinishPull(st)
    gc.disable()
    for _ in range(20 + n):
        op.pulled(op.call(*op.prepare()))


def _self_cmd() -> list[str]:
    if __spec__ is not None and __spec__.name:
        return [sys.executable, "-m", __spec__.name]
    return [sys.executable, os.path.abspath(__file__)]


def _run(blocked: int, n: int, out: str) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
           f"--toggle-collect={WRAPPER}", f"--callgrind-out-file={out}",
           *_self_cmd(), "--child", str(blocked), str(n)]
    res = subprocess.run(cmd, env=dict(os.environ, PYTHONHASHSEED="0"),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"callgrind run failed:\n{res.stderr[-3000:]}")
    with open(out) as f:
        m = re.search(r"^(?:summary|totals):\s*(\d+)", f.read(), re.M)
    if m is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(m.group(1))


def ir_per_finish(blocked: int, n: int) -> float:
    tmp = tempfile.mkdtemp(prefix="pyroute-skillwalk-")
    try:
        a = _run(blocked, n, os.path.join(tmp, "a"))
        b = _run(blocked, 2 * n, os.path.join(tmp, "b"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return (b - a) / n


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--blocked", type=int, default=200_000)
    p.add_argument("-n", type=int, default=50, help="finishes of the shorter callgrind run")
    p.add_argument("--timed", type=int, default=500, help="finishes timed")
    p.add_argument("--no-ir", action="store_true")
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(*a.child)
        return
    for blocked in sorted({0, a.blocked}):
        line = f"blocked={blocked:>8,}  {time_finishes(blocked, a.timed) * 1e3:9.4f} ms/finish"
        if not a.no_ir and shutil.which("valgrind"):
            line += f"  {ir_per_finish(blocked, a.n):>12,.0f} Ir/finish"
        print(line, flush=True)


if __name__ == "__main__":
    main()
