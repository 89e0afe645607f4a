"""Errors that tell a new user what to fix (issue 12, point 13), on both engines.

Each case is a mistake someone setting up a floor makes on the first day: a typo in a
channel or group name, reusing yesterday's conversation ids, mixing two clocks, a typo in
a scenario's enum field. The message must say what would have been accepted, and the call
must change nothing.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

import pyroute as pr
from pyroute.sim.scenario import scenario_from
from conftest import cfg


def floor():
    return cfg(pr.Group("support"), pr.Group("sales"))


def test_a_typo_in_a_channel_name_lists_the_channels_the_floor_has(make):
    r = make(floor())
    before = r.stats(now=0.0)
    with pytest.raises(pr.UnknownId) as e:
        r.submit("c1", "webchat", "support", now=1.0)
    assert "'webchat'" in str(e.value)
    assert "'web'" in str(e.value) and "'email'" in str(e.value)
    assert r.stats(now=0.0) == before
    with pytest.raises(pr.UnknownId, match="'web', 'email'"):
        r.accepting("support", "phone", now=1.0)
    with pytest.raises(pr.UnknownId, match="'web', 'email'"):
        r.pick("support", "phone")
    with pytest.raises(pr.UnknownId, match="'web', 'email'"):
        r.queue("support", "phone")
    with pytest.raises(pr.UnknownId, match="'web', 'email'"):
        r.add_operator("ann", ["support"], 3, channel_limits={"mail": 1}, now=1.0)


def test_a_typo_in_a_group_name_lists_the_groups_the_floor_has(make):
    r = make(floor())
    with pytest.raises(pr.UnknownId, match="'suport'.*'support', 'sales'"):
        r.submit("c1", "web", "suport", now=1.0)
    with pytest.raises(pr.UnknownId, match="'support', 'sales'"):
        r.add_operator("ann", ["support", "billing"], 3, now=1.0)
    with pytest.raises(pr.UnknownId):
        r.operator("ann")               # the failed add added nothing
    r.add_operator("ann", ["support"], 3, status="online", now=1.0)
    r.submit("c1", "web", "support", now=1.0)
    with pytest.raises(pr.UnknownId, match="'support', 'sales'"):
        r.transfer("c1", group="billing", now=2.0)
    with pytest.raises(pr.UnknownId, match="'support', 'sales'"):
        r.queue("help")
    assert r.request("c1").state == "active"


def test_reusing_an_ended_conversation_id_says_ids_stay_reserved_and_for_how_long(make):
    r = make(cfg(history=500))
    r.add_operator("ann", ["support"], 3, status="online", now=0.0)
    r.submit("c1", "web", "support", now=0.0)
    r.finish("c1", now=60.0)
    with pytest.raises(pr.DuplicateId) as e:
        r.submit("c1", "web", "support", now=61.0)
    msg = str(e.value)
    assert "ended (finished)" in msg and "500" in msg and "history" in msg
    assert "new id" in msg
    # a live one is a plain duplicate
    r.submit("c2", "web", "support", now=62.0)
    with pytest.raises(pr.DuplicateId) as e:
        r.submit("c2", "web", "support", now=63.0)
    assert "ended" not in str(e.value)
    assert r.request("c2").state == "active"


def test_mixing_an_epoch_clock_with_a_monotonic_one_hints_at_the_clock(make):
    r = make(cfg())
    r.add_operator("ann", ["support"], 3, now=1_764_000_000.0)    # time.time()
    with pytest.raises(pr.TimeError) as e:
        r.submit("c1", "web", "support", now=5231.7)               # time.monotonic()
    msg = str(e.value)
    assert "time went backwards" in msg and "clock" in msg and "epoch" in msg
    assert r.now == 1_764_000_000.0
    # an ordinary step back (a retried call) gets no clock lecture
    r2 = make(cfg())
    r2.advance(now=100.0)
    with pytest.raises(pr.TimeError) as e:
        r2.advance(now=99.0)
    assert "clock" not in str(e.value)


@pytest.mark.parametrize("path,value,allowed", [
    (("operators", 0, "kind"), "robot", "bot, human"),
    (("traffic", 0, "handle", "dist"), "gamma", "exp, fixed, lognormal"),
    (("router", "groups", 0, "policy"), "evenly", "even"),
])
def test_a_scenario_with_a_wrong_enum_value_lists_the_allowed_ones(path, value, allowed):
    example = Path(pr.__file__).parent / "sim" / "example.toml"
    data = tomllib.loads(example.read_text())
    bad = copy.deepcopy(data)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(pr.ConfigError) as e:
        scenario_from(bad)
    assert repr(value) in str(e.value) and "expected one of" in str(e.value)
    assert allowed in str(e.value)


def test_a_config_with_a_wrong_policy_lists_the_policies():
    with pytest.raises(pr.ConfigError, match="expected one of: .*least_ratio"):
        pr.Router({"channels": [{"name": "web"}],
                   "groups": [{"name": "support", "policy": "most_free"}]})
