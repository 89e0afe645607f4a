"""Instructions per call of the hot operations, counted by callgrind.

``python -m pyroute.bench.instructions`` (or ``python bench/instructions.py``) runs, for
each case, the benchmark state of :mod:`.workloads` under ``valgrind --tool=callgrind``.
Collection is off at start (``--collect-atstart=no``) and toggled on only inside the
functions that make the measured call (``--toggle-collect``), so the build and the
untimed bookkeeping between calls (``prepare``) count nothing.

Native engine: collection is on inside the extension's wrapper of the measured method
(``__pyx_pw_..._Router_..._submit`` and the like). Each case runs twice, with ``N`` calls
and with ``2N``; the warm-up calls count the same in both runs, so

    Ir per call = (Ir(2N) - Ir(N)) / N

is what one steady-state call costs inside the extension: argument checks, the core,
event conversion.

Reference engine: a Python method has no C function of its own to toggle on, so the
measured calls go through ``operator.call(method, *args)`` and collection is on inside
``_operator_call`` (the interpreter running the whole method, and the call of it: a few
dozen instructions more than the native wrapper sees). Its warm-up calls are direct, so
they count nothing, and one run of ``N // 10`` calls gives Ir per call = Ir(N) / N. Same
state, seeds and operations as the native rows; reference / native is the ratio per row.
The mixed rows use three methods, and callgrind honours one ``--toggle-collect`` pattern,
so on the native engine too they are counted inside ``operator.call`` (two runs, the
warm-up direct): the same scope as their reference rows.

Counts are repeatable to a few instructions on a busy machine (fixed seeds,
``PYTHONHASHSEED=0``, the garbage collector off while measuring), unlike timings.

The cases:

* ``submit`` — :class:`.workloads.SubmitAssign`, a submit that assigns at once;
* ``finish`` — :class:`.workloads.FinishPull`, a finish whose slot pulls a waiting one;
* ``mixed_api`` — the DESIGN §5 mixed stream (:func:`.workloads.mixed_stream`: submits that
  queue and that assign, finishes that pull, finishes, cancels) as one method call a
  command; per command;
* ``mixed_batch`` — the same stream as ``apply_many`` of :data:`BATCH` prebuilt
  ``Command`` structs at a time; per command;
* ``submit_packed``, ``finish_packed`` — ``submit`` and ``finish`` as above on a state
  named by ints, each call an ``apply_packed`` of one packed record (the proposed
  contract: int ids, packed events), counted inside the extension's wrapper of
  ``apply_packed``;
* ``mixed_batch_int`` — ``mixed_batch`` on the state named by ints that the packed rows
  use, so that what int ids save and what the packed records save can be told apart (an
  int id is passed as the same object each time, where a host's decoded str is new);
* ``mixed_packed`` — the same stream on a state whose conversations and operators are
  named by ints, as ``apply_packed`` of :data:`BATCH` packed command records at a time
  (``pyroute.packed``, encoded before counting as the structs of ``mixed_batch`` are
  built before it); per command. The answer is bytes, not decoded inside the count, as
  ``mixed_batch``'s events are not read;

and ``ref_`` + each of them on the reference engine. The state is smaller than DESIGN §5,
so that a run under callgrind takes about a minute: 2,000 operators (limit 5), 50 groups,
8 channels and 40,000 waiting conversations (``--design`` for the full 10,000 and
200,000). The costs grow with the logarithm of the queue length only.
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
from typing import Any, Callable, Optional

_NATIVE = "__pyx_pw_*Router_*"
_CALL = "_operator_call"
#: case -> (engine, operation, the function inside which collection is on). The operation
#: is a workload class of :mod:`.workloads` or ``mixed_api`` / ``mixed_batch``.
CASES = {
    "submit": ("native", "SubmitAssign", _NATIVE + "submit"),
    "finish": ("native", "FinishPull", _NATIVE + "finish"),
    # callgrind takes one --toggle-collect pattern: the mixed rows, three methods, are
    # counted inside operator.call on both engines
    "mixed_api": ("native", "mixed_api", _CALL),
    "mixed_batch": ("native", "mixed_batch", _CALL),
    "mixed_batch_int": ("native", "mixed_batch", _CALL),
    "mixed_packed": ("native", "mixed_packed", _CALL),
    # the proposed contract (pyroute.packed): int ids, one packed record a call
    "submit_packed": ("native", "SubmitAssign", _NATIVE + "apply_packed"),
    "finish_packed": ("native", "FinishPull", _NATIVE + "apply_packed"),
}
CASES.update({"ref_" + k: ("reference", op, _CALL)
              for k, (_e, op, _f) in list(CASES.items())})

#: what the rows are called in bench/RESULTS.md
NAMES = {"submit": "submit that assigns", "finish": "finish that pulls",
         "mixed_api": "mixed stream, method calls (per command)",
         "mixed_batch": "mixed stream, `apply_many` (per command)",
         "mixed_batch_int": "mixed stream, `apply_many`, int ids (per command)",
         "mixed_packed": "mixed stream, `apply_packed`, int ids (per command)",
         "submit_packed": "submit that assigns, one `apply_packed` record, int ids",
         "finish_packed": "finish that pulls, one `apply_packed` record, int ids"}

#: The default state: DESIGN §5's shape (50 groups, 8 channels, limit 5, 5 free groups)
#: at a fifth of its operators and waiting conversations.
SMALL = dict(operators=2_000, limit=5, groups=50, channels=8, waiting=40_000, free_groups=5)
WARMUP = 500
#: issue 15's targets, instructions per call or command at this state; the packed rows
#: (the proposed contract) are held to the target of the row they stand beside
IR_TARGETS = {"submit": 2_500, "finish": 3_000, "mixed_batch": 1_200,
              "mixed_batch_int": 1_200, "mixed_packed": 1_200,
              "submit_packed": 2_500, "finish_packed": 3_000}
#: issue 15: the reference engine at least this many times the native one, every row
RATIO_TARGET = 15.0

#: commands per ``apply_many`` in the mixed_batch case
BATCH = 500
#: the reference engine makes this share of the native calls (it is slow under callgrind)
REF_SHARE = 10


def _workloads() -> Any:
    try:
        from pyroute.bench import workloads
    except ImportError:   # run as a script from a tree where pyroute.bench is not installed
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import workloads  # type: ignore[no-redef]
    return workloads


def _mixed(w: Any, st: Any, kind: str, n: int, counted: Callable) -> None:
    """``WARMUP + n`` commands of the mixed stream, as method calls or ``apply_many``
    batches; the warm-up ones directly, the measured ones through ``counted``."""
    stream = w.mixed_stream(st, WARMUP + n)
    if kind == "mixed_api":
        calls = w.as_calls(st, stream)
        for f, a in calls[:WARMUP]:
            f(*a)
        for f, a in calls[WARMUP:]:
            counted(f, *a)
        return
    cmds = w.as_commands(stream)
    apply_many = st.router.apply_many
    batches: list = [cmds[i:i + BATCH] for i in range(0, len(cmds), BATCH)]
    if kind == "mixed_packed":
        from pyroute import packed
        apply_many = st.router.apply_packed
        batches = [packed.encode_commands(b, st.router.config) for b in batches]
    k = -(-WARMUP // BATCH)
    for b in batches[:k]:
        apply_many(b)
    for b in batches[k:]:
        counted(apply_many, b)


def _packed_call(st: Any, op: Any) -> tuple[Callable, Callable]:
    """``op`` (SubmitAssign or FinishPull) as ``apply_packed`` of one packed record a call:
    the record is encoded in ``prepare``, outside the count."""
    import pyroute as pr
    from pyroute import packed
    config = st.router.config

    def prepare() -> tuple:
        args = op.prepare()
        if op.name == "submit_assign":
            rid, ch, g, prio, _visitor, t = args
            cmd: Any = pr.Submit(request=rid, channel=ch, group=g, priority=prio, now=t)
        else:
            cmd = pr.Finish(request=args[0], now=args[1])
        return (packed.encode_commands([cmd], config),)
    return st.router.apply_packed, prepare


def child(case: str, n: int, design: bool) -> None:
    """Build the state, then make ``WARMUP + n`` calls of the case's operation: where the
    count is taken in the extension's wrapper, all of them directly; where it is taken in
    ``operator.call``, the warm-up ones directly and the measured ones through it."""
    import operator
    w = _workloads()
    engine, kind, _ = CASES[case]
    scale = w.DESIGN_SCALE if design else w.Scale(**SMALL)
    packed_form = case.endswith("packed")
    st = w.build(engine, scale, int_ids=packed_form or case.endswith("_int"))
    gc.disable()

    def direct(f: Callable, *a: Any) -> Any:
        return f(*a)
    counted = operator.call if CASES[case][2] == _CALL else direct
    if kind.startswith("mixed"):
        _mixed(w, st, kind, n, counted)
        return
    op = getattr(w, kind)(st)
    call, prepare = (_packed_call(st, op) if packed_form else (op.call, op.prepare))
    if engine == "native":
        for _ in range(WARMUP + n):
            call(*prepare())
    else:
        for _ in range(WARMUP):
            call(*prepare())
        for _ in range(n):
            counted(call, *prepare())
    op.settle()


def self_cmd(spec_name: Optional[str], file: str) -> list[str]:
    """A bench module as a command: by name when a fresh interpreter can import it (an
    installed pyroute), else as the script it is (the repository's bench/, loaded by the
    CLI under the name pyroute.bench). ``spec_name`` and ``file`` are the module's
    ``__spec__.name`` (None when run as a script) and ``__file__``."""
    if spec_name:
        import importlib.util
        try:
            found = importlib.util.find_spec(spec_name) is not None and \
                subprocess.run([sys.executable, "-c", f"import {spec_name}"],
                               capture_output=True).returncode == 0
        except (ImportError, ValueError):
            found = False
        if found:
            return [sys.executable, "-m", spec_name]
    return [sys.executable, os.path.abspath(file)]


def _self_cmd() -> list[str]:
    return self_cmd(__spec__.name if __spec__ is not None else None, __file__)


def callgrind(cmd: list[str], toggle: str, out: str) -> tuple[int, str]:
    """Run ``cmd`` under ``valgrind --tool=callgrind`` with collection on only inside the
    functions matching ``toggle`` (callgrind honours one ``--toggle-collect`` pattern),
    ``PYTHONHASHSEED=0``; the callgrind file goes to ``out``. Returns the instructions
    counted and the command's standard output. Raises SystemExit when the run fails."""
    full = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
            f"--toggle-collect={toggle}", f"--callgrind-out-file={out}", *cmd]
    env = dict(os.environ, PYTHONHASHSEED="0")
    res = subprocess.run(full, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"callgrind run failed ({' '.join(full)}):\n{res.stderr[-3000:]}")
    with open(out) as f:
        text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if m is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(m.group(1)), res.stdout


def _run(case: str, n: int, design: bool, out: str) -> int:
    cmd = [*_self_cmd(), "--child", case, str(n)] + (["--design"] if design else [])
    return callgrind(cmd, CASES[case][2], out)[0]


def measure(case: str, n: int, design: bool = False,
            keep: Optional[str] = None) -> dict[str, Any]:
    """Instructions per call of ``case`` (see the module docstring): two runs of ``n`` and
    ``2n`` calls on the native engine, one run of ``n`` on the reference."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}: choose from {', '.join(CASES)}")
    tmp = keep or tempfile.mkdtemp(prefix="pyroute-ir-")
    native = CASES[case][0] == "native"
    if CASES[case][1] in ("mixed_batch", "mixed_packed") and n % BATCH:
        raise ValueError(f"{case}: n must be a multiple of the batch size {BATCH}")
    try:
        ir_n = _run(case, n, design, os.path.join(tmp, f"callgrind.{case}.{n}"))
        ir_2n = (_run(case, 2 * n, design, os.path.join(tmp, f"callgrind.{case}.{2 * n}"))
                 if native else None)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    per = (ir_2n - ir_n) / n if native else ir_n / n
    return {"case": case, "engine": CASES[case][0], "n": n, "ir_n": ir_n, "ir_2n": ir_2n,
            "ir_per_call": per}


def figures(n: int = 4_000, cases: Optional[list[str]] = None) -> dict[str, Any]:
    """Every case at the small state, for ``pyroute bench --instructions`` (a dict with
    ``skipped`` when valgrind is not installed); the reference cases make ``n //``
    :data:`REF_SHARE` calls."""
    state = ", ".join(f"{k}={v:,}" for k, v in SMALL.items())
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not on the PATH (apt-get install valgrind)",
                "state": state}
    ref_n = max(BATCH, n // REF_SHARE // BATCH * BATCH)
    return {"state": state, "n": n, "warmup": WARMUP, "batch": BATCH,
            "cases": [measure(c, n if CASES[c][0] == "native" else ref_n)
                      for c in (cases or CASES)]}


def text(fig: dict[str, Any]) -> list[str]:
    """The Markdown section of :func:`figures`: a row an operation, the native and the
    reference figures side by side."""
    lines = ["## Instructions per call (callgrind)", "",
             "`valgrind --tool=callgrind`, counted only inside the extension's wrapper of the "
             "method (argument checks, the core, event conversion); Ir per call = "
             "(Ir(2N) − Ir(N)) / N, so set-up and warm-up cancel. The reference engine is "
             "counted inside `operator.call(method, ...)` (its whole Python method), its "
             "warm-up uncounted, over a tenth of the calls; so are the mixed rows of both "
             "engines (three methods: one toggle). The mixed rows are per command "
             f"of the DESIGN §5 mix; `apply_many` takes {fig.get('batch', BATCH)} commands "
             "at a time. These repeat to a few instructions whatever else the machine "
             f"does. State: {fig['state']}.", ""]
    if fig.get("skipped"):
        return lines + [f"Skipped: {fig['skipped']}.", ""]
    rows: dict[str, dict[str, Any]] = {}
    for r in fig["cases"]:
        base = r["case"][4:] if r["case"].startswith("ref_") else r["case"]
        rows.setdefault(base, {})[r.get("engine", "native")] = r
    lines += ["| operation | native Ir per call | Ir(N) | Ir(2N) | reference Ir per call "
              f"| reference / native (target ≥ {RATIO_TARGET:.0f}×) | target (issue 15) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for base, by in rows.items():
        nat, ref = by.get("native"), by.get("reference")
        cells = [NAMES.get(base, base)]
        cells += ([f"{nat['ir_per_call']:,.1f}", f"{nat['ir_n']:,}", f"{nat['ir_2n']:,}"]
                  if nat else ["—"] * 3)
        cells.append(f"{ref['ir_per_call']:,.0f} ({ref['n']:,} calls)" if ref else "—")
        cells.append(f"{ref['ir_per_call'] / nat['ir_per_call']:.1f}×"
                     if nat and ref else "—")
        cells.append(_against(IR_TARGETS.get(base), nat))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _against(target: Optional[int], nat: Optional[dict[str, Any]]) -> str:
    if target is None or nat is None:
        return "—"
    per = nat["ir_per_call"]
    return (f"≤ {target:,}: met" if per <= target
            else f"≤ {target:,}: MISSED by {per - target:,.0f}")


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", metavar="CASE",
                   help=f"{', '.join(CASES)} (default: all)")
    p.add_argument("-n", type=int, default=4_000, help="measured calls of the shorter run")
    p.add_argument("--ref-n", type=int, default=None,
                   help=f"measured calls on the reference engine (default n/{REF_SHARE})")
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
    ref_n = a.ref_n or max(BATCH, a.n // REF_SHARE // BATCH * BATCH)
    results = [measure(c, a.n if CASES[c][0] == "native" else ref_n, a.design, a.keep)
               for c in (a.cases or list(CASES))]
    if a.json:
        print(json.dumps(results, indent=2))
        return
    state = "DESIGN §5" if a.design else ", ".join(f"{k}={v:,}" for k, v in SMALL.items())
    print(f"callgrind instructions per call ({state}; N={a.n:,}, reference {ref_n:,}, "
          f"warm-up {WARMUP}, apply_many batches of {BATCH})")
    for r in results:
        extra = (f"(Ir(N)={r['ir_n']:,}, Ir(2N)={r['ir_2n']:,})" if r["ir_2n"] is not None
                 else f"(Ir={r['ir_n']:,} over {r['n']:,} calls)")
        print(f"  {r['case']:<16} {r['ir_per_call']:>10.1f} Ir/call   {extra}")


if __name__ == "__main__":
    main()
