"""KPIs by the group and line that handled the work (docs/semantics.md, "Glossary of
outcomes"): a conversation escalated or overflowed into a group is that group's work,
with the wait of its stay there; channel and router-wide totals count each conversation
once. The same figures on both engines; the simulator's rows in tests/test_sim.py."""

from __future__ import annotations

import pytest

import pyroute as pr

T = 36_000.0   # 10:00:00


def floor() -> pr.RouterConfig:
    """Support (line 1) escalates to tech (line 2); web chats 30 s target, e-mail 1 h."""
    return pr.RouterConfig(
        channels=[pr.Channel("web", priority=10, target_wait=30.0, early_cancel=20.0),
                  pr.Channel("email", priority=0, target_wait=3600.0)],
        groups=[pr.Group("support", line=1, escalate_to="tech"),
                pr.Group("tech", hidden=True, line=2)])


def rates_in_range(o: pr.Outcomes) -> None:
    for figure in (o.service_level, o.p_abandon):
        assert figure is None or 0.0 <= figure <= 1.0


def test_a_chat_escalated_to_tech_is_techs_work_with_its_wait_there(make):
    r = make(floor())
    r.add_operator("ann", ["support"], 2, status="online", now=T)
    r.add_operator("tom", ["tech"], 1, now=T)            # tech's operator starts later
    r.submit("c1", "web", "support", now=T)              # ann, at once
    r.submit("c2", "web", "support", now=T + 10)         # ann, at once
    r.submit("c3", "web", "support", now=T + 20)         # waits for ann
    r.submit("c4", "web", "support", now=T + 30)         # waits behind c3
    out = r.finish("c2", now=T + 70)                     # c3 answered after 50 s
    assert [(e.request, e.waited) for e in out if isinstance(e, pr.Assigned)] == [("c3", 50.0)]
    r.cancel("c4", now=T + 100)                          # gave up after 70 s: abandoned
    r.escalate("c1", now=T + 120)                        # to tech: nobody online there
    assert r.request("c1").state == "queued"
    out = r.set_status("tom", "online", now=T + 160)     # c1 waited 40 s in tech's queue
    assert [(e.request, e.group, e.waited) for e in out if isinstance(e, pr.Assigned)] == [
        ("c1", "tech", 40.0)]
    r.submit("e1", "email", "support", now=T + 200)      # ann has a slot: at once
    board = r.stats(now=T + 300)

    tech = board.groups["tech"].outcomes
    assert (tech.answered, tech.abandoned, tech.submitted) == (1, 0, 0)
    assert tech.mean_wait == 40.0                        # its wait in tech, not since arrival
    assert tech.service_level == 0.0                     # 40 s against the 30 s target
    support = board.groups["support"].outcomes
    assert (support.submitted, support.answered, support.abandoned) == (5, 4, 1)
    assert support.mean_wait == pytest.approx(50.0 / 4)  # c1, c2, e1 at once; c3 50 s
    assert support.service_level == pytest.approx(3 / 5)
    assert support.p_abandon == pytest.approx(1 / 5)
    # lines sum their groups' stays: line 1 is support's work, line 2 tech's
    assert board.lines[1] == support and board.lines[2] == tech

    # the floor counts c1 once: answered at its first answer, the wait from arrival
    web, email = board.channels["web"].outcomes, board.channels["email"].outcomes
    assert (web.submitted, web.answered, web.abandoned) == (4, 3, 1)
    assert web.mean_wait == pytest.approx(50.0 / 3) and web.service_level == 0.5
    assert (email.answered, email.service_level) == (1, 1.0)
    total = board.total.outcomes
    assert total.submitted == web.submitted + email.submitted == 5
    assert total.answered == web.answered + email.answered == 4
    assert total.abandoned == web.abandoned + email.abandoned == 1
    assert total.service_level == pytest.approx(3 / 5)
    for o in [total, web, email, support, tech, *board.lines.values()]:
        rates_in_range(o)


def test_an_overflowed_chat_is_the_work_of_the_group_that_answers_it(make):
    config = pr.RouterConfig(
        channels=[pr.Channel("web", target_wait=30.0, early_cancel=20.0)],
        groups=[pr.Group("support", line=1, overflow=[pr.Overflow(to=["tech"], after=60.0)]),
                pr.Group("tech", line=2)])
    r = make(config)
    r.add_operator("ann", ["support"], 1, status="online", now=T)
    r.add_operator("tom", ["tech"], 1, now=T)
    r.submit("c1", "web", "support", now=T)              # ann
    r.submit("c2", "web", "support", now=T + 10)         # waits; overflows at T + 70
    r.submit("c3", "web", "support", now=T + 20)         # waits; overflows at T + 80
    out = r.set_status("tom", "online", now=T + 90)      # tom takes c2 from tech's queue
    assert [(e.request, e.group, e.waited) for e in out if isinstance(e, pr.Assigned)] == [
        ("c2", "tech", 80.0)]
    r.cancel("c3", now=T + 100)                          # left from support's queue
    board = r.stats(now=T + 100)
    support, tech = board.groups["support"].outcomes, board.groups["tech"].outcomes
    # c2 is tech's work (answered through tech, the wait of its stay); the abandoned c3 is
    # counted in its home group, the one it was submitted to
    assert (support.answered, support.abandoned, support.service_level) == (1, 1, 0.5)
    assert (tech.answered, tech.abandoned, tech.mean_wait, tech.service_level) == (
        1, 0, 80.0, 0.0)
    web = board.channels["web"].outcomes
    assert (web.answered, web.abandoned) == (support.answered + tech.answered,
                                             support.abandoned + tech.abandoned)
    for o in [board.total.outcomes, web, support, tech]:
        rates_in_range(o)
