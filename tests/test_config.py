"""RouterConfig from Python, dicts, TOML and JSON; errors that name the field and say what
to fix. Router construction runs on both engines through the ``engine`` fixture."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import pyroute as pr
from pyroute.config import POLICIES

TOML = """\
aging = 0.5
order = "priority"
seed = 7
history = 10

[[channels]]
name = "web"
priority = 10
target_wait = 30.0

[[channels]]
name = "telegram"
priority = 5
target_wait = 120.0
early_cancel = 10.0

[[groups]]
name = "first_line"
policy = "round_robin"
overflow = [{ to = ["sales"], after = 60.0 }, { to = ["billing"], when_no_operators = true }]

[[groups]]
name = "sales"
priority = 2

[[groups]]
name = "billing"
hidden = true
overflow = [{ to = ["sales"], when_queue_over = 3 }]
"""

EXPECTED = pr.RouterConfig(
    channels=(pr.Channel("web", priority=10, target_wait=30.0),
              pr.Channel("telegram", priority=5, target_wait=120.0, early_cancel=10.0)),
    groups=(pr.Group("first_line", policy="round_robin",
                     overflow=(pr.Overflow(to=("sales",), after=60.0),
                               pr.Overflow(to=("billing",), when_no_operators=True))),
            pr.Group("sales", priority=2),
            pr.Group("billing", hidden=True,
                     overflow=(pr.Overflow(to=("sales",), when_queue_over=3),))),
    aging=0.5, order="priority", seed=7, history=10)


def as_json(**over) -> dict:
    """A minimal valid config as plain data, with top-level fields replaced."""
    data = {"channels": [{"name": "web"}], "groups": [{"name": "g"}]}
    data.update(over)
    return data


def config_error(data) -> str:
    """Decode ``data`` as JSON text and as a dict; both must raise ConfigError. Returns
    the JSON message (the dict path says the same thing)."""
    with pytest.raises(pr.ConfigError) as from_json:
        pr.RouterConfig.from_json(json.dumps(data))
    with pytest.raises(pr.ConfigError) as from_dict:
        pr.Router(data)
    for err in (from_json.value, from_dict.value):
        assert isinstance(err, ValueError) and isinstance(err, pr.RoutingError)
    msg = str(from_json.value)
    assert msg
    return msg


# ------------------------------------------------------------------------------ valid configs

def test_defaults():
    c = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    assert (c.aging, c.order, c.seed, c.history) == (0.0, "priority", 0, 100_000)
    assert (c.channels[0].priority, c.channels[0].target_wait, c.channels[0].early_cancel) \
        == (0, 60.0, 20.0)
    g = c.groups[0]
    assert (g.policy, g.priority, g.overflow, g.hidden) == ("even", 0, (), False)


def test_router_config_from_toml(tmp_path):
    path = tmp_path / "router.toml"
    path.write_text(TOML)
    assert pr.RouterConfig.from_toml(path) == EXPECTED
    assert pr.RouterConfig.from_toml(str(path)) == EXPECTED


def test_router_from_toml_on_both_engines(engine, tmp_path):
    path = tmp_path / "router.toml"
    path.write_text(TOML)
    r = engine.from_toml(str(path))
    assert isinstance(r, engine)
    assert r.config == EXPECTED
    # the config is live: round_robin, the after-60 rule, the hidden group
    r.add_operator("a", ["first_line"], 1, status="online", now=0.0)
    r.add_operator("s", ["sales"], 1, status="online", now=0.0)
    assert r.submit("c1", "telegram", "first_line", now=1.0) == [
        pr.Assigned(request="c1", operator="a", group="first_line", channel="telegram",
                    at=1.0, waited=0.0)]
    assert r.submit("c2", "web", "first_line", now=2.0) == [
        pr.Queued(request="c2", group="first_line", channel="web", at=2.0, position=1)]
    assert r.advance(62.0) == [
        pr.Overflowed(request="c2", group="first_line", to=("sales",), reason="after",
                      at=62.0),
        pr.Assigned(request="c2", operator="s", group="sales", channel="web", at=62.0,
                    waited=60.0)]
    assert r.submit("c3", "web", "billing", now=63.0) == [
        pr.Rejected(request="c3", at=63.0, reason="hidden")]


def test_from_toml_passes_keywords_through(engine, tmp_path):
    path = tmp_path / "router.toml"
    path.write_text(TOML)
    r = engine.from_toml(path, clock=lambda: 42.0)
    assert r.stats().at == 42.0


def test_router_config_from_json_text_bytes_and_path(tmp_path):
    data = msgspec.json.encode(EXPECTED)
    assert pr.RouterConfig.from_json(data) == EXPECTED
    assert pr.RouterConfig.from_json(data.decode()) == EXPECTED
    path = tmp_path / "router.json"
    path.write_bytes(data)
    assert pr.RouterConfig.from_json(path) == EXPECTED


def test_config_as_a_dict(engine):
    data = json.loads(msgspec.json.encode(EXPECTED))
    r = engine(data)
    assert r.config == EXPECTED
    small = engine({"channels": [{"name": "web", "priority": 3}],
                    "groups": [{"name": "g", "policy": "ordered"}]})
    assert small.config.groups[0].policy == "ordered"
    small.add_operator("a", ["g"], 1, status="online", now=0.0)
    assert small.submit(1, "web", "g", now=1.0) == [
        pr.Assigned(request=1, operator="a", group="g", channel="web", at=1.0, waited=0.0)]


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_is_accepted(engine, policy):
    r = engine(pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g", policy=policy)]))
    assert r.config.groups[0].policy == policy


def test_cyclic_overflow_chain_is_accepted(engine):
    r = engine(as_json(groups=[{"name": "a", "overflow": [{"to": ["b"], "after": 1.0}]},
                               {"name": "b", "overflow": [{"to": ["a"], "after": 1.0}]}]))
    assert [g.name for g in r.config.groups] == ["a", "b"]


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        EXPECTED.aging = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        EXPECTED.groups[0].policy = "even"  # type: ignore[misc]


# ------------------------------------------------------------------------------ errors

def test_misspelt_field_names_the_path_and_the_field():
    msg = config_error(as_json(groups=[{"name": "g", "polcy": "even"}]))
    assert "$.groups[0]" in msg and "polcy" in msg


def test_misspelt_top_level_field():
    msg = config_error(as_json(agging=1.0))
    assert "unknown field" in msg and "agging" in msg   # msgspec gives no path at the root


def test_misspelt_field_in_a_nested_overflow():
    msg = config_error(as_json(groups=[{"name": "g"}, {"name": "h", "overflow": [
        {"to": ["g"], "afer": 3}]}]))
    assert "$.groups[1].overflow[0]" in msg and "afer" in msg


def test_unknown_policy_names_the_path_and_the_value():
    msg = config_error(as_json(groups=[{"name": "g"}, {"name": "h", "policy": "fastest"}]))
    assert "$.groups[1].policy" in msg and "fastest" in msg


def test_unknown_policy_message_lists_the_choices():
    msg = config_error(as_json(groups=[{"name": "g", "policy": "fastest"}]))
    assert all(p in msg for p in POLICIES)


def test_wrong_type_names_the_path():
    msg = config_error(as_json(channels=[{"name": "web", "priority": "high"}]))
    assert "$.channels[0].priority" in msg and "int" in msg


@pytest.mark.parametrize("field, value, path", [
    ("target_wait", 0, "$.channels[0].target_wait"),
    ("target_wait", -5.0, "$.channels[0].target_wait"),
    ("early_cancel", -1.0, "$.channels[0].early_cancel"),
    ("priority", 10**7, "$.channels[0].priority"),
    ("name", "", "$.channels[0].name"),
])
def test_channel_values_out_of_range(field, value, path):
    msg = config_error(as_json(channels=[{"name": "web", field: value}]))
    assert path in msg


@pytest.mark.parametrize("over, path", [
    ({"aging": -1.0}, "$.aging"),
    ({"order": "fifo"}, "$.order"),
    ({"seed": -1}, "$.seed"),
    ({"history": -1}, "$.history"),
    ({"channels": []}, "$.channels"),
    ({"groups": []}, "$.groups"),
])
def test_top_level_values_out_of_range(over, path):
    msg = config_error(as_json(**over))
    assert path in msg


def test_missing_required_field():
    msg = config_error({"channels": [{"name": "web"}]})
    assert "groups" in msg


def test_duplicate_channel_names():
    msg = config_error(as_json(channels=[{"name": "web"}, {"name": "mail"}, {"name": "web"}]))
    assert "'web'" in msg and "$.channels[2].name" in msg and "$.channels[0]" in msg
    assert "unique" in msg


def test_duplicate_group_names():
    msg = config_error(as_json(groups=[{"name": "g"}, {"name": "g"}]))
    assert "'g'" in msg and "$.groups[1].name" in msg and "unique" in msg


def test_overflow_to_an_unknown_group():
    msg = config_error(as_json(groups=[
        {"name": "g", "overflow": [{"to": ["sales", "nope"], "after": 5.0}]},
        {"name": "sales"}]))
    assert "$.groups[0].overflow[0].to[1]" in msg and "'nope'" in msg
    # says what it could have been
    assert "g" in msg.split("known groups:")[1] and "sales" in msg.split("known groups:")[1]


def test_overflow_repeating_a_target():
    msg = config_error(as_json(groups=[
        {"name": "g", "overflow": [{"to": ["g", "g"], "after": 5.0}]}]))
    assert "$.groups[0].overflow[0].to[1]" in msg and "'g'" in msg


@pytest.mark.parametrize("rule", [
    {"to": ["g"]},
    {"to": ["g"], "when_no_operators": False},
    {"to": ["g"], "after": 5.0, "when_no_operators": True},
    {"to": ["g"], "after": 5.0, "when_queue_over": 3},
    {"to": ["g"], "when_no_operators": True, "when_queue_over": 0},
], ids=["none", "false", "after+no_operators", "after+queue_over", "no_operators+queue_over"])
def test_overflow_needs_exactly_one_trigger(rule):
    msg = config_error(as_json(groups=[{"name": "g", "overflow": [rule]}]))
    assert "$.groups[0].overflow[0]" in msg
    assert "exactly one" in msg and "after" in msg and "when_no_operators" in msg
    assert "when_queue_over" in msg


def test_overflow_with_no_targets():
    msg = config_error(as_json(groups=[{"name": "g", "overflow": [{"to": [], "after": 1}]}]))
    assert "$.groups[0].overflow[0].to" in msg


def test_python_built_config_is_checked_by_both_engines(engine):
    bad = [
        (pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g", policy="fastest")]),
         "$.groups[0].policy"),
        (pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("web")], groups=[pr.Group("g")]),
         "$.channels[1].name"),
        (pr.RouterConfig(channels=[pr.Channel("web")],
                         groups=[pr.Group("g", overflow=[pr.Overflow(to=["x"], after=1.0)])]),
         "$.groups[0].overflow[0].to[0]"),
        (pr.RouterConfig(channels=[pr.Channel("web")],
                         groups=[pr.Group("g", overflow=[pr.Overflow(to=["g"])])]),
         "$.groups[0].overflow[0]"),
        (pr.RouterConfig(channels=[pr.Channel("web", priority=1.5)], groups=[pr.Group("g")]),
         "$.channels[0].priority"),
        (pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")],
                         aging=float("nan")), "$.aging"),
        (pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")],
                         aging=float("inf")), "$.aging"),
    ]
    for config, path in bad:
        with pytest.raises(pr.ConfigError) as ei:
            engine(config)
        assert path in str(ei.value), (path, str(ei.value))


@pytest.mark.parametrize("config", [None, "router.toml", 3, ["web"]])
def test_config_of_the_wrong_type(engine, config):
    with pytest.raises(pr.ConfigError, match="RouterConfig or a dict") as ei:
        engine(config)
    assert type(config).__name__ in str(ei.value)


def test_toml_error_names_the_file_and_the_field(engine, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(TOML.replace('policy = "round_robin"', 'policy = "round-robin"'))
    for load in (pr.RouterConfig.from_toml, engine.from_toml):
        with pytest.raises(pr.ConfigError) as ei:
            load(path)
        msg = str(ei.value)
        assert str(path) in msg and "$.groups[0].policy" in msg and "round-robin" in msg


def test_toml_semantic_error_names_the_file(tmp_path):
    path = tmp_path / "dup.toml"
    path.write_text(TOML + '\n[[groups]]\nname = "sales"\n')
    with pytest.raises(pr.ConfigError) as ei:
        pr.RouterConfig.from_toml(path)
    assert str(path) in str(ei.value) and "$.groups[3].name" in str(ei.value)


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[[channels]\nname = web\n")
    with pytest.raises(pr.ConfigError) as ei:
        pr.RouterConfig.from_toml(path)
    assert str(path) in str(ei.value)


def test_missing_toml_file(engine, tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(pr.ConfigError) as ei:
        engine.from_toml(path)
    assert str(path) in str(ei.value) and "cannot read" in str(ei.value)


def test_json_syntax_error():
    with pytest.raises(pr.ConfigError, match="not valid JSON"):
        pr.RouterConfig.from_json('{"channels": [')


def test_json_file_error_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(as_json(groups=[{"name": "g", "hiden": True}])))
    with pytest.raises(pr.ConfigError) as ei:
        pr.RouterConfig.from_json(Path(path))
    assert str(path) in str(ei.value) and "hiden" in str(ei.value)


def test_config_error_is_a_value_error():
    assert issubclass(pr.ConfigError, ValueError)
    assert issubclass(pr.ConfigError, pr.RoutingError)
    with pytest.raises(ValueError):
        pr.RouterConfig.from_json("[]")
