"""Paired what-if (issue 14, point 1): a lead compares two plans and must tell a change
from noise. The runs share their customers (common random numbers), so the paired
slice-by-slice difference has a far tighter interval than two independent runs would;
these tests check that, that the interval is honest (it covers the difference seen over
many days), and that the CLI shows it in the table, the JSON and the HTML page."""

from __future__ import annotations

import json

import msgspec
import pytest

from pyroute.cli import main
from pyroute.sim import load_scenario, scenario_from, simulate
from pyroute.sim.compare import PAIRED_KPIS, compare, difference
from pyroute.sim.whatif import apply_edits

from test_sim import EXAMPLE


def floor(**changes):
    sc = load_scenario(EXAMPLE)
    data = msgspec.json.decode(msgspec.json.encode(sc))
    data.update(changes)
    return scenario_from(data)


def test_the_same_plan_twice_differs_by_nothing():
    sc = floor()
    a, b = simulate(sc, seed=5), simulate(sc, seed=5)
    for row, ks in compare(a, b).items():
        for kpi, d in ks.items():
            assert d.diff in (0.0, None) and not d.significant, (row, kpi, d)


def test_slices_of_each_row_add_up_to_the_row():
    r = simulate(floor(), seed=2)
    assert sum(b.offered for b in r.batches) == r.overall.offered
    for name, k in r.channels.items():
        assert sum(b.offered for b in r.channel_batches[name]) == k.offered
    for name, k in r.groups.items():
        assert sum(b.offered for b in r.group_batches[name]) == k.offered


def test_pairing_the_same_customers_tightens_the_interval_of_a_small_change():
    """Round robin instead of the example's policy on first_line: a small change. The
    paired interval of the overall service level is several times tighter than two
    independent runs of the same length would give."""
    sc = floor()
    a = simulate(sc, seed=1)
    b = simulate(apply_edits(sc, "groups.first_line.policy=round_robin"), seed=1)
    for kpi in ("service_level", "mean_wait", "p_wait"):
        d = difference(a, b, "overall", kpi)
        assert d.half_width is not None and d.unpaired_half_width is not None
        assert d.half_width * 3 < d.unpaired_half_width, (kpi, d)


def test_losing_most_veterans_is_a_change_not_noise():
    sc = floor()
    a = simulate(sc, seed=1)
    b = simulate(apply_edits(sc, "operators.veteran.count=2"), seed=1)
    sl = difference(a, b, "overall", "service_level")
    assert sl.significant and sl.diff < 0
    ab = difference(a, b, "channel web", "p_abandon")
    assert ab.significant and ab.diff > 0


def test_the_interval_covers_the_difference_seen_over_many_days():
    """Over 12 seeds (12 days of the same plan pair), the difference each day's paired
    interval claims must cover the mean difference of all days on most days: a 99 %
    interval that missed on many would be lying about the noise."""
    sc = floor(duration=4 * 3600.0)
    other = apply_edits(sc, "operators.newcomer.count=2")
    days = [difference(simulate(sc, seed=s), simulate(other, seed=s), "overall",
                       "service_level") for s in range(1, 13)]
    mean = sum(d.diff for d in days) / len(days)
    covered = sum(abs(d.diff - mean) <= d.half_width for d in days)
    assert covered >= 10, [(round(d.diff, 4), round(d.half_width, 4)) for d in days]


def test_runs_that_do_not_pair_are_refused():
    sc = floor()
    with pytest.raises(ValueError, match="same window, seed"):
        difference(simulate(sc, seed=1), simulate(sc, seed=2), "overall", "service_level")
    with pytest.raises(ValueError, match="one of service_level"):
        difference(simulate(sc, seed=1), simulate(sc, seed=1), "overall", "occupancy")


def test_cli_shows_the_paired_differences_in_table_json_and_html(tmp_path, capsys):
    html = tmp_path / "whatif.html"
    assert main(["simulate", "--set", "operators.veteran.count=2", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "paired differences" in out and "±" in out
    assert main(["simulate", "--set", "groups.first_line.policy=round_robin",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "delta" not in data[0]
    delta = data[1]["delta"]
    assert set(delta["overall"]) == set(PAIRED_KPIS)
    d = delta["overall"]["service_level"]
    assert {"diff", "half_width", "unpaired_half_width", "significant"} <= set(d)
    page = html.read_text()
    assert page.index("What-if against") < page.index("<h2>example</h2>")
