"""The ``pyroute`` command line: ``pyroute bench --quick`` end to end, usage errors.

The benchmark runs in a subprocess of the same interpreter with the ``pyroute`` that this
test imported (the installed package, or ``src/`` with its ``bench/`` beside it), so what
is checked is what a user runs. No figure is compared with a target here: timings belong
in ``pyroute bench``, never in a test's verdict.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pyroute
from pyroute import cli


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    root = str(Path(pyroute.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "pyroute.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "RESULTS.md"
    proc = _run("bench", "--quick", "--json", "--out", str(out), cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out.read_text(encoding="utf-8")


def test_quick_bench_reports_every_figure_for_both_engines(quick: tuple[dict, str]) -> None:
    res, _ = quick
    assert res["kind"] == "quick"
    assert set(res["engines"]) == {"native", "reference"}
    for name, e in res["engines"].items():
        assert e["engine"] == name
        for key in ("submit_assign", "finish_pull"):
            lat = e[key]
            assert lat["n"] > 0
            assert 0 < lat["median_ns"] <= lat["p99_ns"] <= lat["max_ns"]
        for key in ("mixed_api", "mixed_batch"):
            assert e[key]["commands"] > 0
            assert 0 < e[key]["min_ops_per_s"] <= e[key]["ops_per_s"] <= e[key]["max_ops_per_s"]
    mem = res["engines"]["native"]["memory"]
    assert mem["bytes_per_waiting"] > 0 and mem["bytes_total"] > 0
    assert res["engines"]["reference"]["memory"]["bytes_per_waiting"] is None
    assert set(res["ratios"]) == {"submit_assign", "finish_pull", "mixed_api", "mixed_batch"}
    assert all(r["ratio"] > 0 for r in res["ratios"].values())
    h = res["heapq"]
    assert h["push"]["median_ns"] >= 0 and h["pop"]["median_ns"] > 0
    assert res["sizes"] and all({"native", "reference"} <= set(row) for row in res["sizes"])


def test_quick_bench_reports_the_offers_and_skills_cases(quick: tuple[dict, str]) -> None:
    res, md = quick
    cases = res["offers_skills"]
    keys = {"offer_submit", "offer_accept", "skills_submit_assign", "skills_finish_pull"}
    assert cases["accept_timeout"] > 0 and cases["skills_per_operator"] == 8
    assert cases["scale"] == res["scale"] == cases["ratio_scale"]
    assert set(cases["engines"]) == {"native", "reference"}
    for name, e in cases["engines"].items():
        assert e["engine"] == name
        assert set(e["build_s"]) == {"offers", "skills"}
        assert all(t > 0 for t in e["build_s"].values())
        for key in keys:
            lat = e[key]
            assert lat["n"] > 0
            assert 0 < lat["median_ns"] <= lat["p99_ns"] <= lat["max_ns"], (name, key)
    assert set(cases["ratios"]) == keys
    assert all(r["ratio"] > 0 for r in cases["ratios"].values())
    assert "## Issue 3 cases: offers and skills" in md
    for what in ("offers: submit, offered at once", "offers: accept",
                 "8 skills: submit, assigns", "8 skills: finish, pulls next"):
        assert f"| {what} |" in md


def test_quick_bench_checks_every_design_target(quick: tuple[dict, str]) -> None:
    res, _ = quick
    figures = {c["figure"] for c in res["checks"]}
    assert figures == {"submit_assign", "finish_pull", "mixed_api", "mixed_batch", "memory",
                       "ratio_submit_assign", "ratio_finish_pull", "ratio_mixed_api",
                       "ratio_mixed_batch"}
    for c in res["checks"]:
        assert isinstance(c["met"], bool) and c["value"] > 0


def test_quick_bench_writes_results_with_command_method_and_machine(
        quick: tuple[dict, str]) -> None:
    res, md = quick
    assert md.startswith("# pyroute benchmark results")
    assert "$ pyroute bench --quick --json --out" in md
    for section in ("## Method", "## Machine", "## DESIGN §5 figures",
                    "## Native against the reference engine", "## Memory", "heapq"):
        assert section in md
    m = res["machine"]
    for key in ("cpu", "cores", "os", "python", "pyroute", "cython", "msgspec", "date"):
        assert m[key], key
        assert str(m[key]) in md
    assert m["pyroute"] == pyroute.__version__
    assert "others_cores" in m and "steal_cores" in m


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["bench", "--fast"], ["bench", "extra"], ["--nope"], ["bench", "--out"],
])
def test_garbage_arguments_are_a_usage_error(argv: list[str],
                                             capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: pyroute" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"pyroute {pyroute.__version__}"


def test_reference_too_slow_for_full_scale_runs_both_engines_smaller() -> None:
    cli._bench()
    from pyroute.bench import report, runner, workloads as w

    scale = w.Scale(operators=100, groups=5, waiting=500, free_groups=1)
    plan = w.Plan(warmup=10, latency_calls=50, latency_rounds=1, mixed_commands=100,
                  mixed_rounds=1, sizes=(100,), size_calls=20, size_rounds=1,
                  reference_budget_s=0.0)
    res = runner.run(runner.Suite(scale=scale, plan=plan, cases=False))
    assert res["ratio_scale"]["waiting"] == 50
    assert res["engines"]["reference"]["scale"]["waiting"] == 50
    assert res["engines"]["native_at_ratio_scale"]["scale"]["waiting"] == 50
    assert res["engines"]["native"]["scale"]["waiting"] == 500
    assert "too slow" in res["notes"][0]
    assert "skipped" in res["sizes"][0]["reference"]
    assert "offers_skills" not in res
    res["machine"] = report.machine()
    md = report.markdown(res, "pyroute bench")
    assert "native at ratio scale" in md and "skipped" in md and "## Notes" in md
    assert "Issue 3 cases" not in md


def test_reference_too_slow_for_full_scale_runs_the_issue3_cases_smaller() -> None:
    cli._bench()
    from pyroute.bench import report, runner, workloads as w

    # enough waiting at a tenth (125 a group) for every operator to find a conversation
    # it has the skills for, so that each finish pulls
    scale = w.Scale(operators=100, groups=5, waiting=5_000, free_groups=1)
    plan = w.Plan(warmup=10, latency_calls=50, latency_rounds=1, reference_budget_s=0.0)
    res = runner.run_cases(runner.Suite(scale=scale, plan=plan), w.timer_overhead_ns())
    assert res["ratio_scale"]["waiting"] == 500
    assert res["engines"]["native"]["scale"]["waiting"] == 5_000
    assert res["engines"]["reference"]["scale"]["waiting"] == 500
    assert res["engines"]["native_at_ratio_scale"]["scale"]["waiting"] == 500
    assert set(res["ratios"]) == set(w.CASE_KEYS)
    assert all(r["ratio"] > 0 for r in res["ratios"].values())
    assert "Issue 3 cases" in res["notes"][0] and "too slow" in res["notes"][0]
    full = {"scale": dataclasses.asdict(scale), "offers_skills": res}
    rows = report.case_rows(full)
    assert [r[0] for r in rows] == list(report.CASE_NAMES.values())
    assert all("—" not in r for r in rows)
    assert "at 100 operators (limit 5), 5 groups" in report.cases_text(full)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_repeat_and_reach_the_report() -> None:
    """pyroute bench --instructions: callgrind counts of the extension's finish, the same
    on a second run (they do not depend on the machine's load), in the Markdown."""
    from pyroute.cli import _bench
    _bench()                        # installed, or the repository's bench/ under that name
    from pyroute.bench import instructions
    a = instructions.measure("finish", 150)
    b = instructions.measure("finish", 150)
    assert 500 < a["ir_per_call"] < 100_000, a
    assert abs(a["ir_per_call"] - b["ir_per_call"]) < 0.01 * a["ir_per_call"], (a, b)
    md = "\n".join(instructions.text({"state": "small", "n": 150, "warmup": 500,
                                      "cases": [a]}))
    assert "finish that pulls" in md and f"{a['ir_per_call']:,.1f}" in md
    assert "Skipped" in "\n".join(instructions.text({"state": "s", "skipped": "no valgrind"}))


def test_instruction_table_pairs_each_native_row_with_its_reference_row() -> None:
    """The RESULTS.md table of bench --instructions: one row an operation, the reference
    figure beside the native one and their ratio; a row measured on one engine only says
    so instead of a ratio."""
    from pyroute.cli import _bench
    _bench()
    from pyroute.bench import instructions
    fig = {"state": "small", "n": 1_000, "warmup": 500, "batch": 500, "cases": [
        {"case": "mixed_batch", "engine": "native", "n": 1_000, "ir_n": 10_000,
         "ir_2n": 1_510_000, "ir_per_call": 1_500.0},
        {"case": "ref_mixed_batch", "engine": "reference", "n": 500, "ir_n": 15_000_000,
         "ir_2n": None, "ir_per_call": 30_000.0},
        {"case": "finish", "engine": "native", "n": 1_000, "ir_n": 5, "ir_2n": 3_005,
         "ir_per_call": 3.0}]}
    rows = [line for line in instructions.text(fig) if line.startswith("| ")][2:]
    assert len(rows) == 2, rows
    assert "`apply_many`" in rows[0] and "1,500.0" in rows[0]
    assert "30,000 (500 calls)" in rows[0]
    assert rows[0].endswith("| 20.0× | ≤ 1,200: MISSED by 300 |")
    assert rows[1].startswith("| finish that pulls | 3.0 |")
    assert rows[1].endswith("| — | — | ≤ 3,000: met |")
    assert set(instructions.CASES) >= {"submit", "finish", "mixed_api", "mixed_batch",
                                       "ref_submit", "ref_finish", "ref_mixed_api",
                                       "ref_mixed_batch"}


def _baselines_missing() -> list[str]:
    import importlib.util
    return [n for n in ("ciw", "simpy") if importlib.util.find_spec(n) is None]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.skipif(bool(_baselines_missing()), reason="ciw or simpy is not installed "
                    "(pip install \".[test]\")")
def test_simulator_instructions_count_the_same_customers_in_all_three() -> None:
    """pyroute bench --instructions, simulator section at a tiny size: a row each for
    pyroute's loop, its whole simulate(), Ciw and SimPy, all over the same number of
    completed customers, with a wall-clock figure beside each count, in the Markdown."""
    from pyroute.cli import _bench
    _bench()
    from pyroute.bench import siminstructions as si
    fig = si.figures(n=300, rounds=1)
    assert not fig.get("skipped") and fig["missing"] == [], fig
    rows = {r["tool"]: r for r in fig["rows"]}
    assert list(rows) == ["pyroute", "pyroute_whole", "ciw", "simpy"]
    m = fig["customers"]
    assert 200 < m < 400, m          # about 300 arrivals, every one served
    assert {r["customers"] for r in rows.values()} == {m}, rows
    for r in rows.values():
        assert r["ir"] > 0 and r["ir_per_customer"] == r["ir"] / m, r
        assert r["wall_us_per_customer"] > 0, r
    # the whole call contains the loop
    assert rows["pyroute_whole"]["ir"] > rows["pyroute"]["ir"]
    assert set(si.ratios(fig)) == {"ciw", "simpy"}
    md = "\n".join(si.text(fig))
    assert "## Simulator vs Ciw and SimPy" in md
    table = [ln for ln in md.splitlines() if ln.startswith("| ")][2:]
    assert len(table) == 4 and all(f"| {m:,} |" in ln for ln in table), table
    assert "Ciw / pyroute" in md and "SimPy / pyroute" in md


def test_simulator_instruction_section_says_what_was_skipped() -> None:
    """Without valgrind the section is one Skipped line; without Ciw or SimPy their rows
    are left out and a line says which package to install."""
    from pyroute.cli import _bench
    _bench()
    from pyroute.bench import siminstructions as si
    base = {"model": "M/M/20", "n": 10, "rounds": 1, "rows": [], "missing": []}
    md = "\n".join(si.text(dict(base, skipped="valgrind is not on the PATH")))
    assert "Skipped: valgrind is not on the PATH." in md and "| simulator |" not in md
    row = {"tool": "pyroute", "size": 10, "customers": 10, "version": "0", "ir": 100_000,
           "ir_per_customer": 10_000.0, "rounds": 1, "wall_us_per_customer": 1.0}
    fig = dict(base, customers=10, missing=["ciw", "simpy"],
               rows=[row, dict(row, tool="pyroute_whole", ir=150_000,
                               ir_per_customer=15_000.0)])
    md = "\n".join(si.text(fig))
    assert "- Ciw: skipped, `ciw` is not installed" in md
    assert "- SimPy: skipped, `simpy` is not installed" in md
    assert si.ratios(fig) == {}
    fig["missing"] = ["simpy"]
    fig["rows"].append(dict(row, tool="ciw", ir=2_500_000, ir_per_customer=250_000.0,
                            wall_us_per_customer=30.0))
    md = "\n".join(si.text(fig))
    assert "Ciw / pyroute, Ir per customer: 25.0× (target 20×: met)" in md
    assert "whole `simulate()` call 16.7×" in md and "wall-clock 30.0× (noisy)" in md


# --- every command does something useful with no arguments --------------------------------

import re  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from typing import Optional  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _env() -> dict:
    env = dict(os.environ)
    env.pop("PYROUTE_TOKENS", None)
    root = str(Path(pyroute.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


class _Started:
    """``python -m pyroute.cli ARGS`` in the background, its stderr collected by a thread;
    ``wait_for(pattern)`` waits (bounded) for a line that matches."""

    def __init__(self, *args: str, cwd: Path, env: Optional[dict] = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "pyroute.cli", *args], cwd=cwd,
                                     env={**_env(), **(env or {})}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, seconds: float = 30.0) -> re.Match:
        deadline = time.monotonic() + seconds
        exited = None
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = re.search(pattern, line, re.IGNORECASE)
                if m:
                    return m
            if exited is not None and time.monotonic() > exited + 1:
                break                        # it ended, and its last lines have been read
            if exited is None and self.proc.poll() is not None:
                exited = time.monotonic()
            time.sleep(0.05)
        raise AssertionError(f"no line like {pattern!r} (exit {self.proc.poll()}):\n"
                             + "".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.reader.join(timeout=10)      # the pipe ends with the process
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _get(url: str, token: Optional[str] = None) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback only
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                 if token else {})
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_replay_with_no_directory_replays_a_demonstration(tmp_path: Path) -> None:
    proc = _run("replay", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "demonstration" in proc.stdout and "pyroute replay DIR" in proc.stdout
    m = re.search(r"replayed ([\d,]+) of ([\d,]+) commands", proc.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(1).replace(",", "")) > 100
    assert list(tmp_path.iterdir()) == []      # written to a temporary directory, not here


def test_replay_options_work_on_the_demonstration(tmp_path: Path) -> None:
    proc = _run("replay", "--json", "--stats", "--until", "3000", "--explain", "c1",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "demonstration" in out["demonstration"] and "pyroute replay DIR" in proc.stderr
    assert out["at"] == 3000.0 and 0 < out["replayed"] < out["commands"]
    assert out["stats"]["at"] == 3000.0 and out["stats"]["total"]["online"] > 0
    assert out["explain"]["request"] == "c1"
    assert out["explain"]["decision"] in ("assigned", "queued", "offered")


def _check_serve(started: _Started, cwd: Path) -> None:
    page = started.wait_for(r"live page: (http://127\.0\.0\.1:(\d+)/)\?token=(\S+)")
    started.wait_for(r"listening on http://127\.0\.0\.1:\d+/")
    started.wait_for(r"example floor")
    started.wait_for(r"PYROUTE_TOKENS")
    started.wait_for(r"journal: .*pyroute-data")
    base, token = page.group(1), page.group(3)
    assert _get(base + "v1/stats", token) == 200
    assert _get(base + "v1/stats") == 401
    assert (cwd / "pyroute-data").is_dir()   # the default data directory, as before
    assert sum("live page" in line for line in started.lines) == 1


def test_serve_with_no_config_and_no_tokens_serves_the_example(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    started = _Started("serve", "--port", "0", cwd=tmp_path)
    try:
        _check_serve(started, tmp_path)
    finally:
        started.stop()


def test_serve_with_no_arguments_at_all(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    if _listening("127.0.0.1", 8080):
        pytest.skip("something listens on 127.0.0.1:8080, serve's default port")
    started = _Started("serve", cwd=tmp_path)
    try:
        _check_serve(started, tmp_path)
    finally:
        started.stop()


def test_serve_with_its_options_makes_no_token_and_no_default(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    cfg = tmp_path / "router.toml"
    cfg.write_text('channels = [{ name = "web" }]\ngroups = [{ name = "g" }]\n')
    started = _Started("serve", "--config", str(cfg), "--memory", "--port", "0",
                       cwd=tmp_path, env={"PYROUTE_TOKENS": "supervisor:mine"})
    try:
        m = started.wait_for(r"listening on (http://127\.0\.0\.1:\d+/)")
        assert _get(m.group(1) + "v1/stats", "mine") == 200
        text = "".join(started.lines)
        assert "live page" not in text and "example" not in text and "in memory" in text
        assert not (tmp_path / "pyroute-data").exists()
    finally:
        started.stop()


def test_worker_with_no_arguments_says_redis_is_unreachable_and_how(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    if _listening("127.0.0.1", 6379):
        pytest.skip("something listens on 127.0.0.1:6379: the no-Redis case cannot be shown")
    started = _Started("worker", cwd=tmp_path)
    try:
        started.wait_for(r"tenants: one, \"example\"", seconds=10)
        m = started.wait_for(r"Redis unreachable at (\S+): .*start one with `redis-server",
                             seconds=10)
        assert m.group(1) == DEFAULT_REDIS
        assert started.proc.poll() is None      # and it keeps retrying
    finally:
        started.stop()


def test_worker_refuses_a_window_of_no_command_ids(capsys) -> None:
    """`pyroute worker --remember 0`: refused before it connects, with what to give."""
    pytest.importorskip("redis")
    from pyroute.cli import main
    assert main(["worker", "--remember", "0"]) == 1
    err = capsys.readouterr().err
    assert "remember must be a positive int (command ids a shard keeps), got 0" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None,
                    reason="redis-server is not installed (.ci/run installs Debian's)")
def test_worker_with_no_tenants_serves_the_example_tenant(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    from pyroute.events import Assigned
    from pyroute.redis import Client

    from redisserver import redis_server
    started = None
    with redis_server(tmp_path) as url:
        try:
            started = _Started("worker", "--redis", url, cwd=tmp_path)
            started.wait_for(rf"connected to {re.escape(url)}; serving shards 0-15",
                             seconds=15)
            client = Client(url, timeout=15)
            client.add_operator("example", "alice", ["first_line"], 5, "online")
            events = client.submit("example", "c1", "web", "first_line")
            assert [type(e) for e in events] == [Assigned] and events[0].operator == "alice"
        finally:
            if started is not None:
                started.stop()


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("redis-server") is None,
                    reason="valgrind or redis-server is not installed")
def test_worker_instructions_count_every_command_of_both_cases() -> None:
    """pyroute bench --instructions, Redis worker section at a tiny size: the counted
    worker saw every command and wrote an event entry for each (the figures would
    otherwise say so and stop), a count for fresh shards and for shards with a full
    window of remembered ids, in the Markdown."""
    pytest.importorskip("redis")
    from pyroute.cli import _bench
    _bench()
    from pyroute.bench import workerinstructions as wi
    fig = wi.figures(n=600)
    assert not fig.get("skipped"), fig
    rows = {r["case"]: r for r in fig["rows"]}
    assert list(rows) == ["fresh", "steady"]
    for r in rows.values():
        assert r["commands"] == 600 and r["ir_per_command"] == r["ir"] / 600, r
        assert 2_000 < r["ir_per_command"] < 500_000, r
    md = "\n".join(wi.text(fig))
    table = [ln for ln in md.splitlines() if ln.startswith("| ")][2:]
    assert len(table) == 2 and all("| 600 |" in ln for ln in table), table
    assert "Skipped: no valgrind." in "\n".join(wi.text({"n": 1, "skipped": "no valgrind"}))


def test_redis_rows_report_the_median_run_its_range_and_the_target() -> None:
    """The Redis section of RESULTS.md: a row a configuration with the median run and the
    slowest and fastest beside it, and the one-worker target judged on every one-worker
    row (fresh and up for a while)."""
    from pyroute.cli import _bench
    _bench()
    from pyroute.bench import redisbench as rb

    def row(rate: float) -> dict:
        return {"seconds": 1.0, "per_second": 100_000.0, "running_seconds": 0.5,
                "running_per_second": rate, "running_range": (rate - 10_000, rate + 5_000)}
    res = {"commands": 100_000, "tenants": 32, "shards": 16, "takeover_s": 1.7,
           "lease_s": 2.0, "1": row(200_000), "2": row(210_000),
           "1, up for a while": row(160_000)}
    rows = rb.rows(res)
    assert [r[0] for r in rows] == ["1", "2", "1, up for a while"]
    assert rows[2][4:] == ("160,000", "150,000 - 165,000")
    assert "or more: met" in rb.text(res)
    res["1, up for a while"] = row(140_000)
    assert "or more: MISSED" in rb.text(res)
    for label in ("1", "2", "1, up for a while"):   # nothing to judge: not a miss
        del res[label]
    assert "or more: not measured" in rb.text(res)
