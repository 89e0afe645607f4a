"""``pyroute simulate --traffic-from DIR`` (issue 14, point 3): yesterday's customers,
read from a durable router's journal, re-run under another plan. The journal is made by
a simulated day driven through ``Router.open``, so what "would have happened" under the
other plan is known exactly: the same customers (same seed) simulated with that plan."""

from __future__ import annotations

import json
import statistics

import pytest

from pyroute import ConfigError
from pyroute.cli import main
from pyroute.router import Router
from pyroute.sim import recorded, scenario_from
from pyroute.sim.engine import _simulate


def floor(count: int = 6, seed: int = 3, channel: str = "web"):
    """Two channels on one team of `count` operators taking two chats each; customers
    leave after a while (web sooner than telegram)."""
    return scenario_from({
        "duration": 8 * 3600.0, "warmup": 0.0, "seed": seed,
        "router": {"channels": [{"name": channel, "target_wait": 30.0, "priority": 5},
                                {"name": "tg", "target_wait": 120.0}],
                   "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": count, "limit": 2, "groups": ["g"]}],
        "traffic": [{"channel": channel, "group": "g", "rate": 0.02,
                     "handle": {"dist": "lognormal", "mean": 400.0, "sd": 300.0},
                     "patience": {"dist": "exp", "mean": 120.0}},
                    {"channel": "tg", "group": "g", "rate": 0.01,
                     "handle": {"dist": "exp", "mean": 300.0},
                     "patience": {"dist": "exp", "mean": 600.0}}]})


def yesterday(tmp_path, seed: int):
    d = tmp_path / f"day{seed}"
    production, _ = _simulate(floor(seed=seed), journal=d)
    return d, production


def test_the_same_plan_reproduces_the_day(tmp_path):
    d, production = yesterday(tmp_path, 3)
    rows, derived = recorded.derive(d)
    assert derived.conversations == production.conversations
    again, _ = _simulate(recorded.with_traffic(floor(seed=3), rows), arrivals=rows)
    for ch in ("web", "tg"):
        a, b = production.channels[ch], again.channels[ch]
        assert a.offered == b.offered and a.answered == b.answered, ch
        assert abs(a.service_level - b.service_level) <= 0.005, ch
        assert abs(a.asa - b.asa) <= 0.05 * max(a.asa, 1.0), ch
    # patience was estimated from censored waits, near the true means (120 s, 600 s)
    assert 80 < derived.channels["web"]["mean_patience"] < 180


def test_one_operator_fewer_predicts_what_would_have_happened(tmp_path):
    """Over twelve days, re-running each day's journal with five operators instead of six
    comes within a few points of the same customers simulated with five, and without a
    bias (mean difference under 1.5 points)."""
    diffs = []
    for seed in range(10, 22):
        d, _ = yesterday(tmp_path, seed)
        rows, _ = recorded.derive(d, seed=seed)
        predicted, _ = _simulate(recorded.with_traffic(floor(count=5, seed=seed), rows),
                                 arrivals=rows)
        actual, _ = _simulate(floor(count=5, seed=seed))
        diffs.append(predicted.overall.service_level - actual.overall.service_level)
    assert abs(statistics.mean(diffs)) < 0.015, diffs
    assert max(abs(x) for x in diffs) < 0.08, diffs


def test_bad_journals_and_plans_are_refused_clearly(tmp_path):
    empty = tmp_path / "empty"
    r = Router.open(empty, floor().router, fsync="never")
    r.add_operator("a", ["g"], 1, "online", now=1.0)
    r.close()
    with pytest.raises(ConfigError, match="no traffic"):
        recorded.derive(empty)
    with pytest.raises(ConfigError, match="cannot read"):
        recorded.derive(tmp_path / "nowhere")
    d, _ = yesterday(tmp_path, 3)
    rows, _ = recorded.derive(d)
    with pytest.raises(ConfigError, match=r"channel\(s\) web .*does not have"):
        recorded.with_traffic(floor(channel="chat"), rows)


def test_cli_reruns_a_journal(tmp_path, capsys):
    d, production = yesterday(tmp_path, 3)
    toml = tmp_path / "plan.toml"
    toml.write_text("""
duration = 3600
[router]
[[router.channels]]
name = "web"
target_wait = 30.0
priority = 5
[[router.channels]]
name = "tg"
target_wait = 120.0
[[router.groups]]
name = "g"
[[operators]]
name = "op"
count = 7
limit = 2
groups = ["g"]
[[traffic]]
channel = "web"
group = "g"
rate = 0.001
""")
    assert main(["simulate", str(toml), "--traffic-from", str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"]["offered"] == production.overall.offered
    assert out["overall"]["service_level"] >= production.overall.service_level   # 7 > 6
