"""The ``pyroute`` command line.

``pyroute simulate [SCENARIO] [--compare B.toml ...] [--set PATH=VALUE ...] [--json]
[--html OUT]`` runs the what-if simulator (no scenario: the bundled example);
``pyroute bench [--quick] [--out PATH] [--json]`` runs the DESIGN §5 benchmarks (the
workloads live in ``pyroute.bench``, installed from the repository's ``bench/``);
``pyroute replay [DIR] [--until T] [--explain ID] [--stats]`` rebuilds a durable router's
state from its journal (no DIR: a demonstration journal of the bundled example);
``pyroute serve`` and ``pyroute worker`` run the router over HTTP and on Redis (with no
arguments: the bundled example's router config, a token made for the run, a local
Redis); ``pyroute schema`` prints the wire format's JSON Schema;
``pyroute --version`` prints the version. Every command does something useful with no
arguments. Usage errors exit with status 2; a scenario
that cannot be used exits with status 1 and a message that names the file and field.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import math
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

    from pyroute.bench import report, runner, workloads

    err = Console(stderr=True)
    # piped output is not bound to a terminal's width: give the tables room
    out = Console() if sys.stdout.isatty() else Console(width=120)
    if args.quick:
        suite = runner.Suite(scale=workloads.QUICK_SCALE, plan=workloads.QUICK_PLAN,
                                notes=["--quick: a small scale and few repetitions, not the "
                                       "DESIGN §5 scale; run `pyroute bench` for that."])
    else:
        suite = runner.Suite()
    machine = report.machine()
    watch = report.CpuWatch()
    with err.status("pyroute bench", spinner="dots") as status:
        def progress(msg: str) -> None:
            status.update(f"pyroute bench: {msg}")
        res = runner.run(suite, progress)
        if args.instructions:
            from pyroute.bench import instructions
            progress("instructions per call (callgrind)")
            res["instructions"] = instructions.figures()
            from pyroute.bench import siminstructions
            progress("simulator instructions per customer, against Ciw and SimPy "
                     "(callgrind)")
            res["sim_instructions"] = siminstructions.figures()
            from pyroute.bench import workerinstructions
            progress("Redis worker instructions per command (callgrind)")
            res["worker_instructions"] = workerinstructions.figures()
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
        rows = None
        if args.traffic_from:
            from .sim import recorded
            rows, derived = recorded.derive(args.traffic_from, seed=args.seed or 1)
            runs = [(label, recorded.with_traffic(sc, rows), base) for label, sc, base in runs]
            if not args.json:
                err.print(f"{derived.conversations:,} conversations from {args.traffic_from}: "
                          + "; ".join(f"{ch} {d['conversations']:,} ({d['answered']:,} "
                                      f"answered, {d['left']:,} left)"
                                      for ch, d in derived.channels.items()),
                          markup=False, highlight=False)
        if args.html:
            html_path = Path(args.html)
            if not html_path.parent.is_dir():
                raise ConfigError(f"--html {args.html}: directory {html_path.parent} "
                                  f"does not exist")
        reports = []
        for label, sc, base in runs:
            reports.append(engine._simulate(sc, seed=args.seed, engine=args.engine,
                                            progress=sys.stderr.isatty() and not args.json,
                                            base=base, arrivals=rows)[0])
    except ConfigError as e:
        err.print(f"pyroute simulate: {e}", markup=False, highlight=False)
        return 1
    labels = [label for label, _, _ in runs]
    accuracy = None
    if args.expected_wait:   # the same runs again, each customer's announced wait recorded
        from .sim import accuracy as acc
        accuracy = [dict(acc.measure([sc], None if args.seed is None else [args.seed],
                                     args.engine, base=base, arrivals=rows), case=label)
                    for label, sc, base in runs]
    if args.html:
        present.write_atomically(Path(args.html), present.html_page(reports, labels))
    if args.json:
        import msgspec
        data = [msgspec.to_builtins(r) for r in reports]
        for d, label in zip(data, labels):
            d["label"] = label
        for d, r in zip(data[1:], reports[1:]):   # paired differences against the first
            d["delta"] = present.json_deltas(reports[0], r)
        for d, a in zip(data, accuracy or ()):
            d["expected_wait"] = a
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        for r in reports:
            present.print_report(r, out)
        if len(reports) > 1:
            present.print_deltas(reports, labels, out)
            present.print_compare(reports, labels, out)
        if accuracy:
            _print_accuracy(accuracy, out)
    if args.html:
        err.print(f"wrote {args.html}")
    return 0


def _print_accuracy(cases: list, out: Any) -> None:
    """``simulate --expected-wait``: the waits announced against the waits that happened."""
    from rich.table import Table

    from .sim import accuracy as acc
    t = Table(title="Expected wait: announced (Queued.expected_wait) against what happened, "
                    "seconds; QL and LES: the published baselines (docs/scenario.md)")
    for h in acc.HEADER:
        t.add_column(h, justify="left" if h in ("case", "channel") else "right")
    for row in acc.rows({"cases": cases}):
        t.add_row(*row)
    out.print(t)


def cmd_staff(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from .errors import ConfigError
    from .sim import scenario, staff

    err = Console(stderr=True)
    out = Console() if sys.stdout.isatty() else Console(width=160)
    bundled = Path(__file__).resolve().parent / "sim" / "example.toml"
    path = Path(args.scenario) if args.scenario else bundled
    try:
        sc = scenario.load_scenario(path)
        targets = [staff.parse_target(t, sc) for t in args.target or ()]
        live = sys.stderr.isatty() and not args.json

        def show(line: str) -> None:
            if live:
                err.print(line, style="dim", highlight=False, markup=False)
        plan = staff.staff(sc, targets or None, up_to=args.up_to, seed=args.seed,
                           replications=args.days, hourly=not args.flat, base=path.parent,
                           progress=show)
    except ConfigError as e:
        err.print(f"pyroute staff: {e}", markup=False, highlight=False)
        return 1
    if args.json:
        import msgspec
        print(json.dumps(msgspec.to_builtins(plan), indent=2))
        return 0
    wanted = ", ".join(f"{t.name} {100 * t.level:g} % within {t.within:g} s"
                       for t in plan.targets)
    table = Table(title=f"operators needed each hour — {sc.name or path.stem}: {wanted}",
                  title_justify="left")
    table.add_column("hour")
    for crew in plan.crews:
        table.add_column(crew + ("" if crew in plan.searched else " (kept)"), justify="right")
    by = {(r.target, r.hour): r for r in plan.results}
    for t in plan.targets:
        table.add_column(f"{t.name} SL", justify="right")
    for h, label in enumerate(plan.hours):
        cells = [str(plan.crews[c][h]) for c in plan.crews]
        for t in plan.targets:
            r = by.get((t.name, h))
            if r is None or r.service_level is None:
                cells.append("–")
            else:
                hw = f" ± {100 * r.half_width:.1f}" if r.half_width is not None else ""
                cells.append(f"{100 * r.service_level:.1f}%{hw}" + (" close" if r.close else ""))
        table.add_row(label, *cells)
    out.print(table)
    for t in plan.targets:
        r = by.get((t.name, -1))
        if r is not None and r.service_level is not None:
            out.print(f"{t.name} over the whole window: {100 * r.service_level:.1f} %")
    out.print(f"{plan.operator_hours} operator-hours (the scenario's rosters: "
              f"{plan.scenario_operator_hours:g}); {plan.simulations} simulated days of "
              f"{len(plan.hours)} h, each plan judged on the same {plan.replications} days; "
              f"'close': met on average, within the day-to-day spread (95 %)")
    return 0


def _finite_time(text: str) -> float:
    """A time on the command line: a finite number of seconds (not inf, nan or 1e400)."""
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(t):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite time: give the time, "
                                         f"in the journal's seconds, to stop at")
    return t


EXAMPLE = Path(__file__).resolve().parent / "sim" / "example.toml"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _example_scenario():  # -> pyroute.sim.scenario.Scenario
    """The bundled example floor (``pyroute simulate`` with no scenario)."""
    from .sim import scenario
    return scenario.load_scenario(EXAMPLE)


def _example_config():  # -> RouterConfig
    """The router section of the bundled example floor: the default config of ``serve``
    and of ``worker``'s one tenant."""
    return _example_scenario().router


def _demonstration_journal(directory: Path, hours: float = 2.0, seed: int = 1) -> int:
    """Write a short day of the example floor through ``Router.open(directory)``: its
    operators online, Poisson arrivals on its traffic streams for ``hours``, handling and
    patience drawn from them (bots finish after their ``bot_handle``), worked off to the end. Returns the conversations
    submitted (ids ``c1`` ..). A second or so: for ``pyroute replay`` with no directory."""
    import heapq
    import random

    from .errors import RoutingError
    from .events import Accepted, Assigned
    from .router import Router

    sc = _example_scenario()
    rng = random.Random(seed)
    end = hours * 3600.0

    def draw(d) -> float:
        if d.dist == "fixed":
            return d.mean
        if d.dist == "lognormal" and d.sd:
            var = math.log(1 + (d.sd / d.mean) ** 2)
            return rng.lognormvariate(math.log(d.mean) - var / 2, math.sqrt(var))
        return rng.expovariate(1 / d.mean)

    bots = {g.name for g in sc.router.groups if g.line == 0}
    router = Router.open(directory, sc.router, fsync="never")
    try:
        for crew in sc.operators:
            for k in range(1, crew.count + 1):
                router.add_operator(f"{crew.name}-{k}", list(crew.groups), crew.limit,
                                    "online", 0.0, dict(crew.channel_limits) or None,
                                    dict(crew.skills) or None, dict(crew.levels) or None,
                                    crew.kind)
        agenda: list = []   # (time, order, what, request)
        order = 0
        streams = {}
        for t in sc.traffic:
            rate = t.rate if t.rate is not None else (sum(t.rates) / 24 if t.rates else 0)
            if not rate:
                continue
            at = rng.expovariate(rate)
            while at < end:
                order += 1
                rid = f"c{order}"
                streams[rid] = t
                heapq.heappush(agenda, (at, order, "submit", rid))
                if t.patience is not None:
                    heapq.heappush(agenda, (at + draw(t.patience), order, "leave", rid))
                at += rng.expovariate(rate)
        taken: set = set()
        done: set = set()

        def answered(events: list, now: float) -> None:
            for e in events:
                if isinstance(e, (Assigned, Accepted)) and e.request not in done:
                    rid = str(e.request)
                    taken.add(rid)
                    t = streams[rid]
                    bot = isinstance(e, Assigned) and e.group in bots
                    busy = draw(t.bot_handle if bot else t.handle)
                    heapq.heappush(agenda, (now + busy, 0, "finish", rid))

        while agenda:
            now, _, what, rid = heapq.heappop(agenda)
            t = streams[rid]
            try:
                if what == "submit":
                    answered(router.submit(rid, t.channel, t.group, t.priority, now=now,
                                           skills=dict(t.skills) or None), now)
                elif what == "leave" and rid not in taken and rid not in done:
                    done.add(rid)
                    answered(router.cancel(rid, now=now), now)
                elif what == "finish" and rid not in done:
                    done.add(rid)
                    answered(router.finish(rid, now=now), now)
            except RoutingError:
                pass   # e.g. a cancel of one already gone: refused, as a live system's
        return order
    finally:
        router.close()


def cmd_replay(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import msgspec
    from rich.console import Console

    from . import reference
    from .errors import RoutingError
    from .journal import JournalError, read_journal
    from .router import Router

    err = Console(stderr=True)
    if args.directory is None:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="pyroute-demo-") as d:
            n = _demonstration_journal(Path(d) / "journal")
            args.directory = str(Path(d) / "journal")
            args.demonstration = (
                f"a demonstration: no directory was given, so this replays a built-in "
                f"journal, two hours of the example floor ({n:,} conversations, ids c1 to "
                f"c{n}) written through Router.open to a temporary directory, removed "
                f"afterwards. Replay your own with `pyroute replay DIR` (the directory "
                f"given to Router.open or `pyroute serve --data`).")
            return cmd_replay(args, argv)
    try:
        head, cmds = read_journal(args.directory)
    except JournalError as e:
        err.print(f"pyroute replay: {e}", markup=False, highlight=False)
        return 1
    demo = getattr(args, "demonstration", None)
    explain = args.explain is not None
    engine = reference.Router if args.engine == "reference" else Router
    router = engine(head["config"], explain=explain) if explain else engine(head["config"])
    applied = failed = 0
    last = None
    for cmd in cmds:
        if args.until is not None and cmd.now is not None and cmd.now > args.until:
            break
        try:
            router.apply(cmd)
        except RoutingError:
            failed += 1
        applied += 1
        last = cmd.now
    if args.until is not None and (last is None or args.until >= last):
        router.advance(args.until)
        last = args.until
    out: dict = {"directory": str(args.directory), "journal_version": head.get("version"),
                 "engine": engine.engine, "commands": len(cmds), "replayed": applied,
                 "refused": failed, "at": last}
    if explain:
        ident = args.explain
        try:
            e = router.explain(ident)
        except RoutingError:
            try:
                e = router.explain(int(ident))
            except (RoutingError, ValueError):
                err.print(f"pyroute replay: no conversation {ident!r} in the journal "
                          f"(up to {last})", markup=False, highlight=False)
                return 1
        out["explain"] = msgspec.to_builtins(e)
    if args.stats:
        out["stats"] = msgspec.to_builtins(router.stats(last if last is not None else 0.0))
    if args.config:
        out["config"] = head["config"]
    if demo:
        out["demonstration"] = demo
    if args.json:
        if demo:
            err.print(f"pyroute replay: {demo}", markup=False, highlight=False)
        print(json.dumps(out, indent=2, default=str))
        return 0
    con = Console() if sys.stdout.isatty() else Console(width=120)
    if demo:
        con.print(f"pyroute replay: {demo}", markup=False, highlight=False)
    con.print(f"replayed {applied:,} of {len(cmds):,} commands from {args.directory} "
              f"(journal v{head.get('version')}, {engine.engine} engine); time {last}; "
              f"{failed} refused (as they were when written)", highlight=False)
    if explain:
        e = out["explain"]
        con.print(f"[bold]{e['request']}[/] at {e['at']}: {e['decision']} — {e['reason']}")
        from rich.table import Table
        t = Table("operator", "group", "verdict", "free slots", "detail")
        for c in e["candidates"]:
            t.add_row(str(c["operator"]), c["group"], c["verdict"], str(c["free_slots"]),
                      c["detail"])
        con.print(t)
    if args.stats:
        st = out["stats"]
        from rich.table import Table
        t = Table("", "waiting", "in progress", "online", "free slots", "answered",
                  "abandoned", title=f"stats at {st['at']}", title_justify="left")
        rows = [("total", st["total"])] + [(f"channel {k}", v) for k, v in
                                           st["channels"].items()] + [
            (f"group {k}", v) for k, v in st["groups"].items()]
        for name, v in rows:
            o = v.get("outcomes", {})
            t.add_row(name, str(v["waiting"]), str(v["in_progress"]), str(v["online"]),
                      str(v["free_slots"]), str(o.get("answered", 0)),
                      str(o.get("abandoned", 0)))
        con.print(t)
    if args.config:
        con.print_json(json.dumps(head["config"]))
    return 0


def cmd_serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .config import RouterConfig
    from .errors import RoutingError

    try:
        import uvicorn  # noqa: F401

        from .service import Service, build_app, parse_tokens
        from .service.server import make_server, raise_file_limit, uvicorn_config
    except ModuleNotFoundError as e:
        print(f"pyroute serve: {e.name} is not installed: pip install \"pyroute[serve]\"",
              file=sys.stderr)
        return 1
    from .router import Router
    limits = {"header_timeout": args.header_timeout, "body_timeout": args.body_timeout,
              "stream_seconds": args.stream_seconds,
              "advance_every": args.advance_every or None}
    for name, value in limits.items():
        if value is not None and not 0 < value <= 86400:
            print(f"pyroute serve: --{name.replace('_', '-')} must be seconds from 0 to "
                  f"86400, got {value}", file=sys.stderr)
            return 1
    try:
        spec = os.environ.get("PYROUTE_TOKENS", "")
        if args.tokens_file:
            spec = ",".join(line.strip() for line in
                            Path(args.tokens_file).read_text().splitlines() if line.strip())
        from .service.app import MonotonicWallClock
        made = None
        if not spec.strip() and not args.tokens_file:
            import secrets
            made = secrets.token_urlsafe(24)
            spec = f"supervisor:{made}"
        tokens = parse_tokens(spec)
        if args.config:
            config = RouterConfig.from_toml(args.config)
        else:
            config = _example_config()
        rocketchat = None
        if args.rocketchat:
            from .integrations.rocketchat import RocketChatConfig
            rocketchat = RocketChatConfig.from_toml(args.rocketchat)
            rocketchat.check(config)
        chatwoot = None
        if args.chatwoot:
            from .integrations.chatwoot import ChatwootConfig
            chatwoot = ChatwootConfig.from_toml(args.chatwoot)
            chatwoot.check(config)
        clock = MonotonicWallClock()
        kw = {"max_body": args.max_body, "body_timeout": args.body_timeout,
              "stream_seconds": args.stream_seconds,
              "advance_every": args.advance_every or None}
        if args.memory:
            svc = Service(Router(config, clock=clock), tokens, clock=clock, **kw)
        else:
            # --fsync always: the service syncs each request off the event loop's thread
            svc = Service.open(args.data, config, tokens, fsync=args.fsync, clock=clock, **kw)
    except (RoutingError, OSError) as e:
        print(f"pyroute serve: {e}", file=sys.stderr)
        return 1
    if args.max_connections is not None:
        warning = raise_file_limit(args.max_connections + 64)
        if warning:
            print(f"pyroute serve: {warning}", file=sys.stderr)
    # no access log: the page's event stream carries its token in the query string
    ucfg = uvicorn_config(
        build_app(svc, rocketchat, chatwoot), host=args.host, port=args.port,
        header_timeout=args.header_timeout, max_connections=args.max_connections,
        log_level=args.log_level)
    try:
        sock = ucfg.bind_socket()   # bound here to say where (--port 0: the port it got)
    except SystemExit:
        print(f"pyroute serve: cannot listen on {args.host}:{args.port} (in use? choose "
              f"another with --port)", file=sys.stderr)
        return 1
    # listening before we say so: a client that connects while the server still starts
    # waits in the backlog instead of being refused (bind alone refuses it)
    sock.listen(ucfg.backlog)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    say = []
    if not args.config:
        say.append(f"config: the example floor's router ({EXAMPLE}); give your own with "
                   f"--config router.toml")
    say.append("state: in memory only (--memory)" if args.memory else
               f"journal: {Path(args.data).resolve()} (--data DIR to choose, --memory for "
               f"none)")
    if made is not None:
        say.append(f"live page: {url}?token={made}")
        say.append(f"token: a random supervisor token, made for this run only: "
                   f"Authorization: Bearer {made}. Set your own with "
                   f"PYROUTE_TOKENS=\"supervisor:...,integration:...\" or --tokens-file FILE")
    say.append(f"listening on {url}")
    for line in say:
        print(f"pyroute serve: {line}", file=sys.stderr, flush=True)
    make_server(ucfg, svc).run(sockets=[sock])
    return 0


def _shard_list(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        if not a.strip().isdigit() or (b and not b.strip().isdigit()):
            raise argparse.ArgumentTypeError(f"shards: {spec!r} is not like 0-15 or 0,3,5-7")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _shards_text(shards: list[int]) -> str:
    """0-7,12: the shards as ranges."""
    parts: list[list[int]] = []
    for n in sorted(set(shards)):
        if parts and parts[-1][1] == n - 1:
            parts[-1][1] = n
        else:
            parts.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _redis_answers(url: str) -> bool:
    """Whether a Redis at ``url`` answers PING within a couple of seconds."""
    import redis
    r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(r.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    except redis.RedisError:
        return True    # it answered (e.g. asks for a password): the worker's log says more
    finally:
        r.close()


def cmd_worker(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import logging
    import signal

    from .errors import RoutingError
    try:
        import redis  # noqa: F401
    except ModuleNotFoundError:
        print("pyroute worker: redis is not installed: pip install \"pyroute[redis]\"",
              file=sys.stderr)
        return 1
    from .redis import Worker, load_tenants
    from .redis.worker import WORKER_GC as worker_gc
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = args.redis or DEFAULT_REDIS
    try:
        tenants = load_tenants(args.tenants) if args.tenants else {
            "example": _example_config()}
        bad = [n for n in args.shards if not 0 <= n < args.total_shards]
        if bad:
            raise RoutingError(f"shards {bad} are outside 0..{args.total_shards - 1}")
        worker = Worker(url, tenants, args.shards, args.total_shards, args.lease_ms,
                        args.snapshot_every, remember=args.remember)
        # this process is the worker's own: its routers' state is long-lived, and each
        # batch makes and drops some 10 containers a command, so the collector's default
        # (a young collection every 700 allocations) costs a quarter of its time
        # (bench/RESULTS.md, "Redis")
        gc.set_threshold(*worker_gc)
    except (RoutingError, ValueError) as e:   # ValueError: a URL redis cannot read
        print(f"pyroute worker: {e}", file=sys.stderr)
        return 1
    say = []
    if not args.tenants:
        say.append(f"tenants: one, \"example\", with the example floor's router config "
                   f"({EXAMPLE}); give yours with --tenants tenants.toml")
    say.append(f"redis: {url}" + ("" if args.redis else " (the default; --redis URL to "
                                                          "choose)"))
    for line in say:
        print(f"pyroute worker: {line}", file=sys.stderr, flush=True)
    if not _redis_answers(url):
        print(f"pyroute worker: Redis unreachable at {url}: nothing answers there. "
              f"Start one with `redis-server --port 6379 --bind 127.0.0.1` (Debian: apt-get "
              f"install redis-server; or `docker run -p 6379:6379 redis`), or point "
              f"--redis at yours. Retrying with backoff meanwhile.",
              file=sys.stderr, flush=True)
    else:
        print(f"pyroute worker: connected to {url}; serving shards {_shards_text(args.shards)}"
              f" of {args.total_shards} (send commands with pyroute.redis.Client)",
              file=sys.stderr, flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        worker.run(lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_schema(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .wire import schema
    print(json.dumps(schema(), indent=2))
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
    bench.add_argument("--instructions", action="store_true",
                       help="also count instructions per call under callgrind, and per "
                            "simulated customer against Ciw and SimPy (needs valgrind; a "
                            "few minutes): the figures that repeat exactly")
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
    sim.add_argument("--traffic-from", metavar="DIR",
                     help="re-run the day a durable router journaled in DIR (its arrivals, "
                          "handle times and patience) under the scenario's configuration "
                          "and crews (docs/scenario.md, \"Yesterday under another plan\")")
    sim.add_argument("--expected-wait", action="store_true",
                     help="also score the wait each queued customer was told "
                          "(Queued.expected_wait) against the wait that then happened, "
                          "beside the queue-length and last-to-enter-service predictors, by "
                          "channel (runs each scenario once more)")
    sim.add_argument("--seed", type=int, help="override the scenario's seed")
    sim.add_argument("--engine", choices=("native", "reference"), default="native",
                     help="the router engine to drive (default: native)")
    sim.add_argument("--json", action="store_true", help="print the report(s) as JSON")
    sim.add_argument("--html", metavar="OUT", help="also write a self-contained HTML report")
    sim.set_defaults(func=cmd_simulate)
    stf = sub.add_parser(
        "staff", help="the fewest operators per hour that meet service-level targets",
        description="Find, by simulating the scenario (docs/scenario.md, \"Staffing\"), "
                    "the fewest operators of each crew in each hour that meet every "
                    "target. Without a scenario: the bundled example; without --target: "
                    "80 %% of each channel within its target_wait.")
    stf.add_argument("scenario", nargs="?", help="scenario TOML file")
    stf.add_argument("--target", action="append", metavar="CHANNEL=LEVEL/SECONDS",
                     help="e.g. web=0.8/30: 80 %% of web conversations answered within "
                          "30 s, in every hour (repeat for more channels)")
    stf.add_argument("--up-to", type=int, metavar="N",
                     help="the most operators of any crew in an hour (default: each "
                          "crew's count)")
    stf.add_argument("--days", type=int, default=8,
                     help="simulated days every plan is judged on (default 8)")
    stf.add_argument("--flat", action="store_true",
                     help="one number per crew for the whole window, the targets met over "
                          "the whole window (Erlang C's question)")
    stf.add_argument("--seed", type=int, help="the first day's seed (default: the scenario's)")
    stf.add_argument("--json", action="store_true", help="print the plan as JSON")
    stf.set_defaults(func=cmd_staff)
    rep = sub.add_parser(
        "replay", help="rebuild a durable router's state from its journal",
        description="Replay the journal of a Router.open directory: the state at the end "
                    "(or at --until), the last routing decision for a conversation "
                    "(--explain), the monitoring counters (--stats). Reads only.")
    rep.add_argument("directory", nargs="?",
                     help="the directory given to Router.open (default: a built-in "
                          "demonstration journal of the example floor, written to a "
                          "temporary directory)")
    rep.add_argument("--until", type=_finite_time, metavar="T",
                     help="stop before the first command later than T, then fire timers due by T")
    rep.add_argument("--explain", metavar="ID",
                     help="why the conversation ID went where it did (its last decision)")
    rep.add_argument("--stats", action="store_true", help="print stats() at the end")
    rep.add_argument("--config", action="store_true",
                     help="print the config the journal was written for")
    rep.add_argument("--engine", choices=("native", "reference"), default="native")
    rep.add_argument("--json", action="store_true", help="print JSON")
    rep.set_defaults(func=cmd_replay)
    srv = sub.add_parser(
        "serve", help="run the router as an HTTP service (docs/service.md)",
        description="Serve the router over HTTP: commands, views, stats, an event stream "
                    "and a live monitoring page at /. Tokens come from PYROUTE_TOKENS "
                    "(role:token,...; roles integration and supervisor) or --tokens-file; "
                    "with neither, a random supervisor token for this run, printed on "
                    "stderr with the page's URL.")
    srv.add_argument("--config", help="router config (TOML; default: the router section "
                                      "of the bundled example floor, sim/example.toml)")
    where = srv.add_mutually_exclusive_group()
    where.add_argument("--data", default="pyroute-data",
                       help="directory of the journal (default: ./pyroute-data)")
    where.add_argument("--memory", action="store_true", help="no journal: state in memory")
    srv.add_argument("--fsync", choices=("always", "batch", "never"), default="batch")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--tokens-file", help="file of role:token lines")
    srv.add_argument("--max-body", type=int, default=1 << 20,
                     help="largest request body in bytes (default 1 MiB)")
    srv.add_argument("--rocketchat", metavar="FILE",
                     help="serve Rocket.Chat's External Queue Service and webhooks, with "
                          "this [rocketchat] TOML (docs/integrations/rocketchat.md)")
    srv.add_argument("--chatwoot", metavar="FILE",
                     help="route Chatwoot's conversations: its webhooks in, assignments and "
                          "agent presence through its API, with this [chatwoot] TOML "
                          "(docs/integrations/chatwoot.md)")
    srv.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                     help="a request whose headers are not complete in S seconds is "
                          "answered 408 and its connection closed (default 10)")
    srv.add_argument("--body-timeout", type=float, default=10.0, metavar="S",
                     help="a body whose next part takes more than S seconds is answered "
                          "408 (default 10)")
    srv.add_argument("--max-connections", type=int, default=1000, metavar="N",
                     help="connections beyond N open at once are answered 503 and closed "
                          "(default 1000); the open-file limit is raised to fit")
    srv.add_argument("--stream-seconds", type=float, default=None, metavar="S",
                     help="end each event stream after S seconds (clients reconnect); "
                          "default: never")
    srv.add_argument("--advance-every", type=float, default=1.0, metavar="S",
                     help="fire due timers (overflow, offer expiry, retention) every S "
                          "seconds and publish their events; 0: only when a command or "
                          "/v1/stats comes (default 1)")
    srv.add_argument("--log-level", default="warning")
    srv.set_defaults(func=cmd_serve)
    wk = sub.add_parser(
        "worker", help="apply sharded command streams from Redis (docs/scaling.md)",
        description="Hold leases on shards of Redis command streams, apply their commands "
                    "to the tenants' routers in order, and write the events; take shards "
                    "over from workers that stop.")
    wk.add_argument("--redis", metavar="URL",
                    help=f"redis://host:port/db (default: {DEFAULT_REDIS})")
    wk.add_argument("--shards", type=_shard_list, default=list(range(16)),
                    help="shards to serve, e.g. 0-15 (default) or 0-7,12")
    wk.add_argument("--total-shards", type=int, default=16)
    wk.add_argument("--tenants", help="TOML of [tenants.<name>] configs (default: one "
                                      "tenant, \"example\", with the example floor's "
                                      "router config)")
    wk.add_argument("--lease-ms", type=int, default=5000)
    wk.add_argument("--snapshot-every", type=int, default=10_000)
    wk.add_argument("--remember", type=int, default=100_000, metavar="N",
                    help="command ids each shard remembers to refuse a re-sent command "
                         "(default 100,000; they travel in its snapshots)")
    wk.add_argument("--log-level", default="info")
    wk.set_defaults(func=cmd_worker)
    sch = sub.add_parser("schema", help="print the JSON Schema of commands and events",
                         description="Print the JSON Schema (2020-12) of the wire format: "
                                     "command messages and event messages.")
    sch.set_defaults(func=cmd_schema)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``pyroute`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return args.func(args, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
