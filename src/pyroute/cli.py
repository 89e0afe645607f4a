"""The ``pyroute`` command line.

``pyroute simulate [SCENARIO] [--compare B.toml ...] [--set PATH=VALUE ...] [--json]
[--html OUT]`` runs the what-if simulator (no scenario: the bundled example);
``pyroute bench [--quick] [--out PATH] [--json]`` runs the DESIGN §5 benchmarks (the
workloads live in ``pyroute.bench``, installed from the repository's ``bench/``);
``pyroute --version`` prints the version. Usage errors exit with status 2; a scenario
that cannot be used exits with status 1 and a message that names the file and field.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

from . import __version__


def _bench() -> ModuleType:
    """``pyroute.bench``: installed with the package, or — when pyroute runs from a source
    tree with ``src`` on ``sys.path`` — the repository's ``bench/`` loaded under that name."""
    try:
        import pyroute.bench as bench
        return bench
    except ModuleNotFoundError as exc:
        if exc.name != "pyroute.bench":
            raise
    bench_dir = Path(__file__).resolve().parents[2] / "bench"
    init = bench_dir / "__init__.py"
    if not (bench_dir / "workloads.py").is_file():
        raise SystemExit("pyroute bench: the benchmarks (pyroute.bench) are not installed; "
                         "reinstall pyroute with `pip install .` from its repository")
    spec = importlib.util.spec_from_file_location(
        "pyroute.bench", init, submodule_search_locations=[str(bench_dir)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pyroute.bench"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["pyroute.bench"]
        raise
    import pyroute
    pyroute.bench = module  # type: ignore[attr-defined]
    return module


def _default_out(bench: ModuleType) -> Optional[Path]:
    """``bench/RESULTS.md`` of the repository pyroute runs from (or is run in), if any."""
    candidates = [Path(bench.__file__).resolve().parent, Path.cwd() / "bench"]
    for d in candidates:
        if (d.name == "bench" and (d / "workloads.py").is_file()
                and (d.parent / "pyproject.toml").is_file()):
            return d / "RESULTS.md"
    return None


def _busy(others: Optional[float], steal: Optional[float]) -> Optional[str]:
    """A warning when other work competed with the benchmark for the CPU."""
    taken = (others or 0.0) + (steal or 0.0)
    if taken < 0.2:
        return None
    return (f"The machine was not idle: other processes kept {others} of its "
            f"{os.cpu_count()} cores busy on average while the benchmark ran (and the "
            f"hypervisor stole {steal}). Figures from a busy machine are noisy; compare them "
            f"with a run on an idle one before drawing conclusions.")


def cmd_bench(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _bench()
    from rich.console import Console

    from pyroute.bench import report, workloads

    err = Console(stderr=True)
    # piped output is not bound to a terminal's width: give the tables room
    out = Console() if sys.stdout.isatty() else Console(width=120)
    if args.quick:
        suite = workloads.Suite(scale=workloads.QUICK_SCALE, plan=workloads.QUICK_PLAN,
                                notes=["--quick: a small scale and few repetitions, not the "
                                       "DESIGN §5 scale; run `pyroute bench` for that."])
    else:
        suite = workloads.Suite()
    machine = report.machine()
    watch = report.CpuWatch()
    with err.status("pyroute bench", spinner="dots") as status:
        def progress(msg: str) -> None:
            status.update(f"pyroute bench: {msg}")
        res = workloads.run(suite, progress)
    machine.update(watch.stop())
    busy = _busy(machine["others_cores"], machine["steal_cores"])
    if busy:
        res["notes"].append(busy)
    res["machine"] = machine
    res["kind"] = "quick" if args.quick else "full"
    res["checks"] = report.checks(res)
    command = "pyroute " + " ".join(shlex.quote(a) for a in argv)
    res["command"] = command

    dest = Path(args.out) if args.out else (None if args.quick else _default_out(_bench()))
    md = report.markdown(res, command)
    written = None
    if dest is not None:
        try:
            dest.write_text(md, encoding="utf-8")
            written = dest
        except OSError as exc:
            err.print(f"[yellow]pyroute bench: cannot write {dest} ({exc.strerror}); "
                      f"printing it instead[/]")
    if args.json:
        res["written"] = str(written) if written else None
        print(json.dumps(res, indent=2))
    else:
        report.print_tables(res, out)
    if written is not None:
        err.print(f"wrote {written}")
    elif args.out or not args.quick:
        # nowhere to write the results: print them (beside the JSON, on stderr)
        print(md, file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_simulate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from .errors import ConfigError
    from .sim import engine, present, scenario, whatif

    err = Console(stderr=True)
    out = Console() if sys.stdout.isatty() else Console(width=160)
    bundled = Path(__file__).resolve().parent / "sim" / "example.toml"
    try:
        paths = [Path(args.scenario)] if args.scenario else [bundled]
        paths += [Path(p) for p in args.compare or ()]
        runs = []   # (label, scenario, base dir)
        for p in paths:
            sc = scenario.load_scenario(p)
            runs.append((p.stem if p != bundled else "example", sc, p.parent))
        first_label, first, first_base = runs[0]
        for spec in args.set or ():
            runs.append((spec, whatif.apply_edits(first, spec, first_base), first_base))
        if args.html:
            html_path = Path(args.html)
            if not html_path.parent.is_dir():
                raise ConfigError(f"--html {args.html}: directory {html_path.parent} "
                                  f"does not exist")
        reports = []
        for label, sc, base in runs:
            reports.append(engine.simulate(sc, seed=args.seed, engine=args.engine,
                                           progress=sys.stderr.isatty() and not args.json,
                                           base=base))
    except ConfigError as e:
        err.print(f"pyroute simulate: {e}", markup=False, highlight=False)
        return 1
    labels = [label for label, _, _ in runs]
    if args.html:
        present.write_atomically(Path(args.html), present.html_page(reports, labels))
    if args.json:
        import msgspec
        data = [msgspec.to_builtins(r) for r in reports]
        for d, label in zip(data, labels):
            d["label"] = label
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        for r in reports:
            present.print_report(r, out)
        if len(reports) > 1:
            present.print_compare(reports, labels, out)
    if args.html:
        err.print(f"wrote {args.html}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyroute",
        description="pyroute: routes helpdesk conversations to operators in microseconds.")
    parser.add_argument("--version", action="version", version=f"pyroute {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = sub.add_parser(
        "bench", help="measure the DESIGN §5 performance contract",
        description="Measure the DESIGN §5 figures for the native and the reference engine "
                    "and compare them with their targets. Without --quick, runs at full "
                    "scale and writes bench/RESULTS.md (when run from the repository).")
    bench.add_argument("--quick", action="store_true",
                       help="small scale, few repetitions: a few seconds")
    bench.add_argument("--out", metavar="PATH",
                       help="write the results as Markdown here (default for a full run "
                            "from the repository: bench/RESULTS.md)")
    bench.add_argument("--json", action="store_true",
                       help="print the results as JSON instead of tables")
    bench.set_defaults(func=cmd_bench)
    sim = sub.add_parser(
        "simulate", help="what-if: run a scenario through the real router",
        description="Simulate a day of traffic through the router with a scenario "
                    "(docs/scenario.md) and report waits, service level, abandonment, "
                    "occupancy and load spread. Without a scenario: the bundled example.")
    sim.add_argument("scenario", nargs="?", help="scenario TOML file")
    sim.add_argument("--compare", nargs="+", metavar="TOML",
                     help="more scenarios to run on the same random streams, side by side")
    sim.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="a variant of the scenario, e.g. "
                          "groups.first_line.policy=round_robin (repeat for more variants; "
                          "commas join edits into one variant)")
    sim.add_argument("--seed", type=int, help="override the scenario's seed")
    sim.add_argument("--engine", choices=("native", "reference"), default="native",
                     help="the router engine to drive (default: native)")
    sim.add_argument("--json", action="store_true", help="print the report(s) as JSON")
    sim.add_argument("--html", metavar="OUT", help="also write a self-contained HTML report")
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``pyroute`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return args.func(args, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
