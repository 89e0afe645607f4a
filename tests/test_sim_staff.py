"""``pyroute staff`` (issue 14, point 4): a lead asks how many operators each hour must be
on to hold a service level, and the answer is checked where theory knows it: on one
channel of chats taken one at a time, a flat plan must be Erlang C's staffing."""

from __future__ import annotations

import json

import pytest

from pyroute import ConfigError
from pyroute.cli import main
from pyroute.sim import load_scenario, scenario_from
from pyroute.sim.staff import Target, parse_target, staff
from pyroute.sim.theory import erlang_c

from test_sim import EXAMPLE


def one_queue(lam: float, mu: float, target_wait: float, most: int, hours: int = 3):
    return scenario_from({
        "duration": hours * 3600.0, "warmup": 1800.0, "seed": 7,
        "router": {"channels": [{"name": "web", "target_wait": target_wait}],
                   "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": most, "limit": 1, "groups": ["g"]}],
        "traffic": [{"channel": "web", "group": "g", "rate": lam,
                     "handle": {"dist": "exp", "mean": 1 / mu}}]})


def erlang_staff(lam: float, mu: float, t: float, level: float) -> int:
    return next(c for c in range(int(lam / mu) + 1, 1000)
                if erlang_c(c, lam, mu).service_level(t) >= level)


# (arrivals/s, 1/handle s, seconds, level): cases where Erlang C's c clears the level by
# a few points and c - 1 misses it by several, so a simulated day can tell them apart
CASES = [(1 / 6, 1 / 60, 20, 0.85), (1 / 12, 1 / 120, 30, 0.80), (0.25, 1 / 60, 15, 0.87),
         (1 / 30, 1 / 180, 60, 0.90), (0.5, 1 / 60, 10, 0.80)]


@pytest.mark.parametrize("lam,mu,t,level", CASES)
def test_a_flat_plan_on_one_queue_is_erlang_c(lam, mu, t, level):
    c = erlang_staff(lam, mu, t, level)
    plan = staff(one_queue(lam, mu, t, c + 6), [Target("web", level, t)], hourly=False)
    assert plan.crews["op"] == [c] * 3, (c, plan.crews, [r.service_level for r in plan.results])
    # the search says how much it simulated: a binary search of a few plans, 8 days each
    assert 0 < plan.simulations <= 8 * 6


def test_hourly_plan_follows_the_traffic_of_the_day():
    """A morning peak: twice the chats in the second hour; the plan puts more people on
    then than in the quiet hours, and every hour meets the target."""
    rates = [0.05] * 24
    rates[1] = 0.1
    sc = scenario_from({
        "duration": 3 * 3600.0, "warmup": 0.0, "seed": 3,
        "router": {"channels": [{"name": "web", "target_wait": 30.0}], "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": 20, "limit": 1, "groups": ["g"]}],
        "traffic": [{"channel": "web", "group": "g", "rates": rates,
                     "handle": {"dist": "exp", "mean": 120.0}}]})
    plan = staff(sc, [Target("web", 0.8, 30.0)])
    n = plan.crews["op"]
    assert n[1] > n[0] and n[1] > n[2], n
    assert all(r.met for r in plan.results)
    assert plan.operator_hours == sum(n) < 60


def test_the_example_floor_keeps_what_no_target_measures():
    sc = load_scenario(EXAMPLE)
    plan = staff(sc, [parse_target("web=0.8/30", sc)], base=EXAMPLE.parent, replications=3)
    assert "billing" not in plan.searched            # only transfers reach billing
    assert set(plan.searched) == {"veteran", "newcomer", "tech"}   # tech: first_line overflows
    assert all(r.met for r in plan.results)
    assert plan.operator_hours < plan.scenario_operator_hours


def test_a_target_no_roster_can_meet_names_the_hour_and_channel():
    sc = one_queue(1 / 6, 1 / 60, 20, 11)            # 11 operators for 10 Erlangs
    with pytest.raises(ConfigError, match=r"channel web: 95 % within 20 s cannot be met "
                                          r"in hour 0 \(00:30–01:30\).*op 11"):
        staff(sc, [Target("web", 0.95, 20)])


@pytest.mark.parametrize("text,words", [
    ("web", "expected NAME=LEVEL/SECONDS"), ("web=1.5/30", "share in (0, 1]"),
    ("web=0.8/0", "positive number of seconds"), ("chat=0.8/30", "no channel 'chat'"),
    ("web=80%/abc", "expected NAME=LEVEL/SECONDS")])
def test_bad_targets_say_what_to_write(text, words):
    sc = one_queue(0.1, 0.01, 20, 20)
    with pytest.raises(ConfigError, match=__import__("re").escape(words)):
        parse_target(text, sc)


def test_bad_runs_are_refused():
    sc = one_queue(0.1, 0.01, 20, 20)
    with pytest.raises(ConfigError, match="multiple of 3600"):
        staff(scenario_from({**__import__("msgspec").to_builtins(sc), "duration": 5400.0}))
    with pytest.raises(ConfigError, match="replications"):
        staff(sc, replications=0)
    with pytest.raises(ConfigError, match="up_to"):
        staff(sc, up_to=-1)


def test_cli_staff_runs_with_no_arguments_and_as_json(capsys):
    assert main(["staff", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "operators needed each hour" in out and "veteran" in out and "simulated days" in out
    assert main(["staff", "--target", "web=0.8/30", "--days", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["hours"]) == 8 and set(data["crews"]) >= {"veteran", "newcomer"}
    assert main(["staff", "--target", "web=2/30"]) == 1
    assert "share in (0, 1]" in capsys.readouterr().err
