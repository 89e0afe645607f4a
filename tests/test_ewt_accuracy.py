"""The accuracy of the expected wait (``pyroute.sim.accuracy``, issue 14 point 5).

``Queued.expected_wait`` against the waits that then happened in the simulator, beside the
queue-length (QL) and last-to-enter-service (LES) predictors, at the quick sizes: the
table has every row, the recorder measures the waits the loop counts and changes nothing
in the run, and the goals hold — on M/M/c, where QL is the optimal predictor, pyroute's
mean absolute error is within :data:`MMC_MARGIN` of QL's; on the bundled floor pyroute
beats both overall. Every figure is an error against realised waits of seeded runs, none a
number written into the test.
"""

from __future__ import annotations

import io
import json
import math

import msgspec
import pytest
from rich.console import Console

from pyroute.sim import accuracy
from pyroute.sim.engine import _simulate

#: pyroute's MAE on M/M/c at most this times QL's: the issue's goal (the quick runs measure
#: 1.00-1.02 over seeds 1-10 with DECAY = 1023/1024; 63/64 gave 1.08-1.12).
MMC_MARGIN = 1.10
CHANNELS = ("web", "app", "telegram", "vk", "email")


@pytest.fixture(scope="module")
def quick() -> dict:
    return accuracy.run(quick=True)


def case(res: dict, name: str) -> dict:
    return next(c for c in res["cases"] if c["case"] == name)


def test_the_table_has_every_case_and_channel(quick: dict) -> None:
    rows = accuracy.rows(quick)
    assert [(r[0], r[1]) for r in rows] == [
        ("M/M/c", "web"), ("M/M/c+M", "web"),
        *(("floor", ch) for ch in CHANNELS), ("floor", "overall")]
    assert all(len(r) == len(accuracy.HEADER) and "—" not in r for r in rows)
    for c in quick["cases"]:
        for s in [*c["channels"].values(), c["overall"]]:
            assert s["n"] > 0
            for p in accuracy.PREDICTORS:   # RMSE >= MAE >= |bias|, all finite
                assert math.isfinite(s["rmse"][p])
                assert s["rmse"][p] >= s["mae"][p] >= abs(s["bias"][p]) - 1e-9
    assert case(quick, "M/M/c")["overall"]["abandoned"] == 0
    assert case(quick, "M/M/c+M")["overall"]["abandoned"] > 0
    text = accuracy.text(quick)
    assert "seed 7" in text and "seeds 1-5" in text and "50,000 conversations" in text


def test_on_mmc_pyroute_is_within_the_margin_of_the_optimal_ql(quick: dict) -> None:
    o = case(quick, "M/M/c")["overall"]
    assert o["mae"]["pyroute"] <= MMC_MARGIN * o["mae"]["ql"], o["mae"]
    assert o["mae"]["pyroute"] < o["mae"]["les"] and o["rmse"]["pyroute"] < o["rmse"]["les"]
    # QL is unbiased on M/M/c: the waits recorded are the waits that happened
    assert abs(o["bias"]["ql"]) < 0.03 * o["mean_wait"], o
    assert o["pyroute_none"] == 0 and o["no_capacity"] == 0


def test_with_abandonment_pyroute_stays_close_to_ql(quick: dict) -> None:
    o = case(quick, "M/M/c+M")["overall"]
    assert o["mae"]["pyroute"] <= MMC_MARGIN * o["mae"]["ql"], o["mae"]
    assert o["mae"]["pyroute"] < o["mae"]["les"]


def test_on_the_floor_pyroute_beats_both_baselines_overall(quick: dict) -> None:
    o = case(quick, "floor")["overall"]
    for err in ("mae", "rmse"):
        assert o[err]["pyroute"] < min(o[err]["ql"], o[err]["les"]), (err, o[err])
    assert {g["met"] for g in quick["goals"][1:]} == {True}


def test_recorded_waits_are_the_waits_the_simulator_counts() -> None:
    """On M/M/c every answered conversation that queued is one recorded stay, and the sum
    of their waits is the report's total wait of the answered (the others waited 0)."""
    sc = accuracy.mmc(20_000)
    recs: list = []
    report, _ = _simulate(sc, wrap=accuracy.Recorder.wrapper(sc, recs))
    rec = recs[0]
    waits = [w for w in rec.wait if w is not None]
    o = report.overall
    assert len(waits) == len(rec.wait) == round(o.p_wait * o.offered)
    assert math.isclose(sum(waits), o.asa * o.answered, rel_tol=1e-9)
    assert all(p is not None and p > 0 for p in rec.pred)
    # the QL predictor of one-at-a-time operators: position / (c * mu)
    ql = next(q for q in rec.ql if q is not None)
    assert math.isclose(ql * accuracy.C / accuracy.HANDLE,
                        round(ql * accuracy.C / accuracy.HANDLE), rel_tol=1e-9)


def test_the_recorder_changes_nothing_in_the_run() -> None:
    sc = load_floor_day()
    plain = msgspec.to_builtins(_simulate(sc)[0])
    recorded = msgspec.to_builtins(_simulate(sc, wrap=accuracy.Recorder.wrapper(sc, []))[0])
    for d in (plain, recorded):
        d.pop("wall_seconds")
    assert plain == recorded


def test_both_engines_score_the_same() -> None:
    sc = load_floor_day()
    a, b = (accuracy.measure([sc], engine=e) for e in ("native", "reference"))
    for d in (a, b):
        d.pop("seconds")
        d.pop("engine")
    assert a == b


def load_floor_day():
    sc = accuracy.load_scenario(accuracy.EXAMPLE)
    return msgspec.structs.replace(sc, duration=14400.0)


@pytest.mark.parametrize("position, cmu, theta, expected", [
    (1, 0.5, 0.0, 2.0),
    (4, 0.25, 0.0, 16.0),
    (1, 0.5, 0.1, 2.0),                              # the head: no one ahead to abandon
    (3, 1.0, 0.5, 1.0 + 1.0 / 1.5 + 1.0 / 2.0),
])
def test_ql_is_the_ibrahim_whitt_sum(position, cmu, theta, expected) -> None:
    assert math.isclose(accuracy.ql_wait(position, cmu, theta), expected, rel_tol=1e-12)


def test_floor_capacity_counts_slots_of_online_members() -> None:
    """QL's c on the floor: veterans (limit 5) and newcomers (limit 3) of first_line, as
    their shifts put them online; the billing crew's break leaves its queues no capacity."""
    sc = accuracy.load_scenario(accuracy.EXAMPLE)
    seen: dict = {}

    class Probe(accuracy.Recorder):
        def _queued(self, e) -> None:
            q = self._g[e.group] * self._C + self._c[e.channel]
            seen.setdefault((e.group, e.at >= 21600.0), set()).add(self.slots[q])
            super()._queued(e)

    _simulate(sc, wrap=lambda r: Probe(r, sc))
    assert seen[("first_line", False)] == {6 * 5 + 6 * 3}
    assert seen[("first_line", True)] == {6 * 5}


def test_main_prints_the_table_and_json(capsys: pytest.CaptureFixture) -> None:
    assert accuracy.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| floor | overall |" in out and "Goals (issue 14)" in out
    assert accuracy.main(["--quick", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [c["case"] for c in res["cases"]] == ["M/M/c", "M/M/c+M", "floor"]


def test_bench_results_have_the_section(quick: dict) -> None:
    from pyroute import cli
    cli._bench()
    from pyroute.bench import report, runner, workloads as w

    scale = w.Scale(operators=100, groups=5, waiting=500, free_groups=1)
    plan = w.Plan(warmup=10, latency_calls=50, latency_rounds=1, mixed_commands=100,
                  mixed_rounds=1, sizes=(), size_calls=20, size_rounds=1)
    res = runner.run(runner.Suite(scale=scale, plan=plan, engines=("native",),
                                  cases=False, sweep=False))
    assert "ewt_accuracy" not in res   # with the cases only, as the simulator's figures
    res["ewt_accuracy"] = quick
    res["machine"] = report.machine()
    md = report.markdown(res, "pyroute bench")
    assert "## Expected wait accuracy" in md
    assert "| " + " | ".join(accuracy.HEADER) + " |" in md
    for row in accuracy.rows(quick):
        assert "| " + " | ".join(row) + " |" in md
    buf = io.StringIO()
    res["elapsed_s"] = 0.0
    report.print_tables(res, Console(file=buf, width=200))
    assert "expected wait accuracy" in buf.getvalue() and "Goals (issue 14)" in buf.getvalue()


def test_simulate_scores_the_announced_waits_of_the_bundled_floor(capsys):
    """`pyroute simulate --expected-wait`: by channel, the scored waits of the day."""
    import json

    from pyroute.cli import main
    assert main(["simulate", "--expected-wait", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["expected_wait"]
    assert d["case"] == "example" and set(d["channels"]) <= set(CHANNELS)
    o = d["overall"]
    assert o["n"] > 100 and all(o["mae"][p] > 0 for p in ("pyroute", "ql", "les"))
    assert o["n"] == sum(c["n"] for c in d["channels"].values())
    assert main(["simulate", "--expected-wait"]) == 0
    assert "Expected wait" in capsys.readouterr().out
