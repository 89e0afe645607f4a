"""Skills with relaxation, and tiers (levels with Group.level_step), on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def floor(**kw):
    return cfg(pr.Group("support", **kw))


def test_skills_pick_a_qualified_operator(make):
    r = make(floor())
    r.add_operator("novice", ["support"], 5, status="online", now=0.0, skills={"en": 1})
    r.add_operator("expert", ["support"], 1, status="online", now=0.0,
                   skills={"en": 4, "billing": 2})
    # even would pick the novice (more free slots), but only the expert has en >= 2
    assert r.submit("c1", "web", "support", skills={"en": 2}, now=1.0)[0].operator == "expert"
    assert r.submit("c2", "web", "support", skills={"billing": 1}, now=2.0) == [
        pr.Queued(request="c2", group="support", channel="web", at=2.0)]
    assert r.request("c2").skills == {"billing": 1}
    # the novice has room but not the skill: c2 waits; plain work still goes to the novice
    assert r.submit("c3", "web", "support", now=3.0)[0].operator == "novice"
    r.finish("c1", now=4.0)
    assert r.request("c2").operator == "expert"
    assert r.operator("expert").skills == {"en": 4, "billing": 2}


def test_relax_drops_requirements_as_the_wait_grows(make):
    r = make(floor(relax=[pr.Relax(after=30.0, drop=["billing"])]))
    r.add_operator("plain", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", skills={"billing": 2}, now=0.0)
    assert r.advance(now=29.9) == []
    assert r.advance(now=30.0) == [
        pr.Assigned(request="c1", operator="plain", group="support", channel="web", at=30.0,
                    waited=30.0)]


def test_a_freed_operator_skips_what_it_cannot_take(make):
    r = make(floor())
    r.add_operator("a", ["support"], 1, status="online", now=0.0, skills={"en": 1})
    r.submit("x", "web", "support", now=0.0)
    r.submit("c1", "web", "support", skills={"de": 1}, now=1.0)   # a cannot take it
    r.submit("c2", "web", "support", now=2.0)
    assert r.finish("x", now=3.0)[1].request == "c2"


def test_tiers_come_in_after_their_step(make):
    r = make(cfg(pr.Group("support", level_step=20.0)))
    r.add_operator("senior", ["support"], 1, status="online", now=0.0, levels={"support": 3})
    r.add_operator("lead", ["support"], 1, status="online", now=0.0, levels={"support": 2})
    assert r.operator("senior").levels == {"support": 3}
    r.submit("c1", "web", "support", now=0.0)
    assert r.advance(now=19.0) == []
    assert r.advance(now=20.0)[0].operator == "lead"          # level 2 after 20 s
    r.submit("c2", "web", "support", now=21.0)
    assert r.advance(now=60.9) == []
    assert r.advance(now=61.0)[0] == pr.Assigned(              # level 3 after 40 s
        request="c2", operator="senior", group="support", channel="web", at=61.0, waited=40.0)


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.submit("n", "web", "support", skills={"en": 6}, now=5.0), pr.InvalidArgument,
     "from 1 to 5"),
    (lambda r: r.submit("n", "web", "support", skills={"en": 0}, now=5.0), pr.InvalidArgument,
     "from 1 to 5"),
    (lambda r: r.submit("n", "web", "support", skills=["en"], now=5.0), pr.InvalidArgument,
     "dict"),
    (lambda r: r.submit("n", "web", "support", skills={"": 1}, now=5.0), pr.InvalidArgument,
     "non-empty"),
    (lambda r: r.submit("n", "web", "support", skills={f"s{i}": 1 for i in range(70)},
                        now=5.0), pr.InvalidArgument, "at most 64"),
    (lambda r: r.add_operator("b", ["support"], 1, skills={"en": True}, now=5.0),
     pr.InvalidArgument, "level"),
    (lambda r: r.add_operator("b", ["support"], 1, levels={"other": 2}, now=5.0),
     pr.InvalidArgument, "not in"),
    (lambda r: r.add_operator("b", ["support"], 1, levels={"nope": 2}, now=5.0),
     pr.UnknownId, "nope"),
    (lambda r: r.add_operator("b", ["support"], 1, levels={"support": 9}, now=5.0),
     pr.InvalidArgument, "from 1 to 5"),
])
def test_bad_skills_change_nothing(make, call, exc, fragment):
    r = make(cfg(pr.Group("support", relax=[pr.Relax(after=10.0, drop=["en"])],
                          level_step=5.0), pr.Group("other")))
    r.add_operator("a", ["support"], 1, status="online", now=0.0, skills={"en": 1})
    r.submit("c1", "web", "support", skills={"en": 3}, now=1.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before


@pytest.mark.parametrize("group, fragment", [
    ({"name": "g", "relax": [{"after": 0, "drop": ["en"]}]}, "after"),
    ({"name": "g", "relax": [{"after": 5, "drop": []}]}, "drop"),
    ({"name": "g", "level_step": -1}, "level_step"),
])
def test_bad_skill_config(engine, group, fragment):
    with pytest.raises(pr.ConfigError, match=fragment):
        engine({"channels": [{"name": "web"}], "groups": [group]})
