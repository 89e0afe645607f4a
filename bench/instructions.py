"""Instructions per call of the two hot operations, counted by callgrind.

``python -m pyroute.bench.instructions`` (or ``python bench/instructions.py``) runs, for
each case, the benchmark state of :mod:`.workloads` under ``valgrind --tool=callgrind``
twice: once with ``N`` calls of the operation and once with ``2N``. Collection is off at
start (``--collect-atstart=no``) and toggled on only inside the extension's wrapper of the
measured method (``--toggle-collect``), so the build and the untimed bookkeeping between
calls (``prepare``) count nothing; the warm-up calls count the same in both runs, so

    Ir per call = (Ir(2N) - Ir(N)) / N

is what one steady-state call costs inside the extension: argument checks, the core,
event conversion. Counts are repeatable to a few instructions on a busy machine (fixed
seeds, ``PYTHONHASHSEED=0``, the garbage collector off while measuring), unlike timings.

The cases are those of ``pyroute bench`` (:class:`.workloads.SubmitAssign`,
:class:`.workloads.FinishPull`) on a smaller state than DESIGN §5, so that a run under
callgrind takes well under a minute: 2,000 operators (limit 5), 50 groups, 8 channels and
40,000 waiting conversations (``--design`` for the full 10,000 and 200,000). The costs
grow with the logarithm of the queue length only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Optional

#: case -> (the workload class, the wrapper of the measured method as callgrind names it)
CASES = {
    "submit": ("SubmitAssign", "__pyx_pw_*Router_*submit"),
    "finish": ("FinishPull", "__pyx_pw_*Router_*finish"),
}

#: The default state: DESIGN §5's shape (50 groups, 8 channels, limit 5, 5 free groups)
#: at a fifth of its operators and waiting conversations.
SMALL = dict(operators=2_000, limit=5, groups=50, channels=8, waiting=40_000, free_groups=5)
WARMUP = 500


def _workloads() -> Any:
    try:
        from pyroute.bench import workloads
    except ImportError:   # run as a script from a tree where pyroute.bench is not installed
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import workloads  # type: ignore[no-redef]
    return workloads


def child(case: str, n: int, design: bool) -> None:
    """Build the state, then make ``WARMUP + n`` calls of the case's operation."""
    w = _workloads()
    scale = w.DESIGN_SCALE if design else w.Scale(**SMALL)
    st = w.build("native", scale)
    op = getattr(w, CASES[case][0])(st)
    call, prepare = op.call, op.prepare
    gc.disable()
    for _ in range(WARMUP + n):
        call(*prepare())
    op.settle()


def _self_cmd() -> list[str]:
    """This module as a command: by name when a fresh interpreter can import it (an
    installed pyroute), else as the script it is (the repository's bench/, loaded by the
    CLI under the name pyroute.bench)."""
    if __spec__ is not None and __spec__.name:
        import importlib.util
        try:
            found = importlib.util.find_spec(__spec__.name) is not None and \
                subprocess.run([sys.executable, "-c", f"import {__spec__.name}"],
                               capture_output=True).returncode == 0
        except (ImportError, ValueError):
            found = False
        if found:
            return [sys.executable, "-m", __spec__.name]
    return [sys.executable, os.path.abspath(__file__)]


def _run(case: str, n: int, design: bool, out: str) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
           f"--toggle-collect={CASES[case][1]}", f"--callgrind-out-file={out}",
           *_self_cmd(), "--child", case, str(n)] + (["--design"] if design else [])
    env = dict(os.environ, PYTHONHASHSEED="0")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"callgrind run failed ({' '.join(cmd)}):\n{res.stderr[-3000:]}")
    with open(out) as f:
        text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if m is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(m.group(1))


def measure(case: str, n: int, design: bool = False,
            keep: Optional[str] = None) -> dict[str, Any]:
    """Instructions per call of ``case`` (see the module docstring)."""
    tmp = keep or tempfile.mkdtemp(prefix="pyroute-ir-")
    try:
        ir_n = _run(case, n, design, os.path.join(tmp, f"callgrind.{case}.{n}"))
        ir_2n = _run(case, 2 * n, design, os.path.join(tmp, f"callgrind.{case}.{2 * n}"))
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"case": case, "n": n, "ir_n": ir_n, "ir_2n": ir_2n,
            "ir_per_call": (ir_2n - ir_n) / n}


def figures(n: int = 4_000) -> dict[str, Any]:
    """Both cases at the small state, for ``pyroute bench --instructions`` (a dict with
    ``skipped`` when valgrind is not installed)."""
    state = ", ".join(f"{k}={v:,}" for k, v in SMALL.items())
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not on the PATH (apt-get install valgrind)",
                "state": state}
    return {"state": state, "n": n, "warmup": WARMUP,
            "cases": [measure(c, n) for c in CASES]}


def text(fig: dict[str, Any]) -> list[str]:
    """The Markdown section of :func:`figures`."""
    lines = ["## Instructions per call (callgrind)", "",
             "`valgrind --tool=callgrind`, counted only inside the extension's wrapper of the "
             "method (argument checks, the core, event conversion); Ir per call = "
             "(Ir(2N) − Ir(N)) / N, so set-up and warm-up cancel. These repeat to a few "
             f"instructions whatever else the machine does. State: {fig['state']}.", ""]
    if fig.get("skipped"):
        return lines + [f"Skipped: {fig['skipped']}.", ""]
    lines += ["| operation | Ir per call | Ir(N) | Ir(2N) |", "| --- | --- | --- | --- |"]
    names = {"submit": "submit that assigns", "finish": "finish that pulls"}
    for r in fig["cases"]:
        lines.append(f"| {names.get(r['case'], r['case'])} | {r['ir_per_call']:,.1f} | "
                     f"{r['ir_n']:,} | {r['ir_2n']:,} |")
    return lines + [""]


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", metavar="CASE",
                   help=f"{' or '.join(CASES)} (default: both)")
    p.add_argument("-n", type=int, default=4_000, help="measured calls of the shorter run")
    p.add_argument("--design", action="store_true",
                   help="the full DESIGN §5 state (10,000 operators, 200,000 waiting): slow")
    p.add_argument("--keep", metavar="DIR", help="keep the callgrind files in DIR "
                   "(for callgrind_annotate)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--child", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], int(a.child[1]), a.design)
        return
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        p.error(f"unknown case {unknown[0]!r}: choose from {', '.join(CASES)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not on the PATH (apt-get install valgrind)")
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    results = [measure(c, a.n, a.design, a.keep) for c in (a.cases or list(CASES))]
    if a.json:
        print(json.dumps(results, indent=2))
        return
    state = "DESIGN §5" if a.design else ", ".join(f"{k}={v:,}" for k, v in SMALL.items())
    print(f"callgrind instructions per call ({state}; N={a.n:,}, warm-up {WARMUP})")
    for r in results:
        print(f"  {r['case']:<8} {r['ir_per_call']:>10.1f} Ir/call   "
              f"(Ir(N)={r['ir_n']:,}, Ir(2N)={r['ir_2n']:,})")


if __name__ == "__main__":
    main()
