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
        pr.Queued(request="c2", group="support", channel="web", at=2.0, position=1)]
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


# --- the native core's sub-heaps by required skills (issue 16, point 9) -----------------
# Requests that require skills wait in one sub-heap per mask still required, moved when a
# relaxation drops a skill; a freed operator's walk skips the sub-heaps needing a skill it
# lacks. Nothing of this may show: these drive both engines with many relaxations coming
# due at the same instants as other timers, and compare every event and the state.

def _skill_floor():
    return pr.RouterConfig(
        channels=[pr.Channel("web", priority=5), pr.Channel("email")],
        groups=[pr.Group("a", relax=[pr.Relax(after=3.0, drop=["x"]),
                                     pr.Relax(after=5.0, drop=["y"])],
                         overflow=[pr.Overflow(to=["b"], after=2.0)]),
                pr.Group("b", relax=[pr.Relax(after=4.0, drop=["y", "z"])], level_step=2.0),
                pr.Group("c", accept_timeout=3.0)],
        history=50)


@pytest.mark.parametrize("seed", range(40))
def test_skill_sub_heaps_agree_with_the_reference(seed):
    import random

    from pyroute import reference
    from test_differential import assert_same_state, outcome

    rng = random.Random(seed)
    config = _skill_floor()
    native, ref = pr.Router(config), reference.Router(config)
    skills = ["x", "y", "z", "w"]
    now = 0.0
    n_req = n_op = 0
    live: list[str] = []
    ops: list[str] = []

    def both(fn, where):
        a = outcome(native, fn)
        b = outcome(ref, fn)
        assert a == b, f"{where}: native {a}\nreference {b}"
        assert_same_state(native, ref, f"{where}: ")

    for step in range(160):
        now += rng.choice([0.0, 0.0, 1.0, 1.0, 2.0])
        k = rng.random()
        t = now
        if k < 0.12 or not ops:
            n_op += 1
            op = f"op{n_op}"
            ops.append(op)
            sk = {s: rng.randint(1, 3) for s in rng.sample(skills, rng.randint(0, 2))}
            groups = rng.sample(["a", "b", "c"], rng.randint(1, 2))
            lv = {g: rng.randint(1, 3) for g in groups if g == "b" and rng.random() < 0.5}
            limit = rng.randint(1, 2)
            both(lambda r: r.add_operator(op, groups, limit, "online", now=t, skills=sk,
                                          levels=lv), f"seed {seed} step {step}")
        elif k < 0.6:
            n_req += 1
            rid = f"c{n_req}"
            live.append(rid)
            sk = {s: rng.randint(1, 3) for s in rng.sample(skills, rng.randint(0, 3))}
            ch = rng.choice(["web", "email"])
            g = rng.choice(["a", "a", "b", "c"])
            prio = rng.randint(0, 2)
            both(lambda r: r.submit(rid, ch, g, prio, None, t, sk or None),
                 f"seed {seed} step {step}")
        elif k < 0.8 and live:
            rid = rng.choice(live)
            state = native.request(rid).state
            if state == "offered":
                both(lambda r: r.accept(rid, now=t), f"seed {seed} step {step}")
            elif state == "active":
                both(lambda r: r.finish(rid, now=t), f"seed {seed} step {step}")
                live.remove(rid)
            else:
                both(lambda r: r.cancel(rid, now=t), f"seed {seed} step {step}")
                live.remove(rid)
        elif k < 0.9:
            op = rng.choice(ops)
            st_ = rng.choice(["online", "online", "away"])
            both(lambda r: r.set_status(op, st_, now=t, requeue=True), f"seed {seed} step {step}")
        else:
            both(lambda r: r.advance(now=t), f"seed {seed} step {step}")
        live = [x for x in live if native.request(x).state in ("queued", "offered", "active")]
        if step % 40 == 39:       # the sub-heaps survive a snapshot
            native = pr.Router._restore(config, native._snapshot())
            assert_same_state(native, ref, f"seed {seed} step {step} restored: ")


def test_a_freed_slot_skips_requests_nobody_can_take(make):
    # the shape of issue 16's point 9, small: what waits for a skill nobody has is
    # skipped, what relaxes is taken once it relaxes, in queue order
    r = make(floor(relax=[pr.Relax(after=10.0, drop=["de"])]))
    r.add_operator("a", ["support"], 1, status="online", now=0.0)
    r.submit("busy", "web", "support", now=0.0)
    for i in range(50):
        r.submit(f"x{i}", "web", "support", skills={"x": 1}, now=1.0)
    r.submit("de", "web", "support", skills={"de": 1}, now=2.0)
    r.submit("plain", "web", "support", now=3.0)
    assert r.finish("busy", now=4.0)[1].request == "plain"
    assert len(r.finish("plain", now=11.0)) == 1       # Finished, nothing pulled
    assert r.request("de").state == "queued"
    ev = r.advance(now=12.0)                             # "de" relaxes at 2 + 10
    assert [(e.request, e.operator) for e in ev] == [("de", "a")]
    assert all(r.request(f"x{i}").state == "queued" for i in range(50))
