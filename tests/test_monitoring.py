"""Outcome counters in stats(): answered, mean wait, service level, abandoned, early
cancellations, rejections by reason — per channel, per group and in total, both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def test_outcomes(make):
    r = make(cfg(pr.Group("support", max_queue=2, overflow=[pr.Overflow(to=["b"], after=50)]),
                 pr.Group("b"), pr.Group("h", hidden=True),
                 channels=[pr.Channel("web", target_wait=30.0), pr.Channel("email")]))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=0.0)          # answered at once: wait 0
    r.submit("c2", "web", "support", now=1.0)          # waits
    r.submit("c3", "web", "support", now=2.0)          # waits
    r.submit("c4", "web", "support", now=3.0)          # overloaded
    r.submit("c5", "web", "h", now=3.0)                # hidden
    r.ban("v", now=3.0)
    r.submit("c6", "email", "support", visitor="v", now=4.0)   # banned
    r.cancel("c3", now=10.0)                            # early: not abandoned
    r.finish("c1", now=41.0)                            # c2 answered after 40 s: missed target
    r.add_operator("bob", ["b"], 1, status="online", now=42.0)
    s = r.stats(now=60.0)
    web = s.channels["web"].outcomes
    # service level: answered within target / (answered + abandoned + rejected); the early
    # cancel is out of it, the refused are misses
    assert web == pr.Outcomes(answered=2, mean_wait=20.0, service_level=1 / 4, abandoned=0,
                              cancelled_early=1, rejected={"overloaded": 1, "hidden": 1},
                              submitted=5, p_abandon=0.0)
    assert s.channels["email"].outcomes == pr.Outcomes(rejected={"banned": 1}, submitted=1,
                                                       service_level=0.0)
    assert s.groups["support"].outcomes == pr.Outcomes(
        answered=2, mean_wait=20.0, service_level=1 / 4, abandoned=0, cancelled_early=1,
        rejected={"overloaded": 1, "banned": 1}, submitted=5, p_abandon=0.0)
    assert s.groups["h"].outcomes == pr.Outcomes(rejected={"hidden": 1}, submitted=1,
                                                 service_level=0.0)
    assert s.groups["b"].outcomes == pr.Outcomes()
    assert s.total.outcomes == pr.Outcomes(
        answered=2, mean_wait=20.0, service_level=1 / 5, abandoned=0, cancelled_early=1,
        rejected={"overloaded": 1, "hidden": 1, "banned": 1}, submitted=6, p_abandon=0.0)


def test_answer_counts_once_and_through_the_answering_group(make):
    r = make(cfg(pr.Group("a", accept_timeout=10.0), pr.Group("b"),
                 channels=[pr.Channel("web", target_wait=5.0)]))
    r.add_operator("x", ["a"], 1, status="online", now=0.0)
    r.submit("c1", "web", "a", now=0.0)                 # offered: not answered yet
    assert r.stats(now=1.0).total.outcomes.answered == 0
    r.accept("c1", now=4.0)                             # answered at 4: within target
    r.set_status("x", "offline", requeue=True, now=6.0)
    r.set_status("x", "online", now=7.0)                # re-offered and accepted again
    r.accept("c1", now=8.0)
    o = r.stats(now=9.0).groups["a"].outcomes
    assert (o.answered, o.mean_wait, o.service_level) == (1, 4.0, 1.0)
    # cancelling an answered conversation is not an abandonment
    r.cancel("c1", now=30.0)
    assert r.stats(now=30.0).total.outcomes.abandoned == 0


def test_outcomes_encode(make):
    import msgspec
    r = make(cfg())
    r.submit("c1", "web", "support", now=0.0)
    r.cancel("c1", now=30.0)                            # after early_cancel: abandoned
    data = msgspec.json.decode(msgspec.json.encode(r.stats(now=31.0)))
    assert data["channels"]["web"]["outcomes"]["abandoned"] == 1
    assert data["channels"]["web"]["outcomes"]["mean_wait"] is None


def test_longest_wait(make):
    r = make(cfg(pr.Group("support", overflow=[pr.Overflow(to=["b"], after=30.0)]),
                 pr.Group("b"), channels=[pr.Channel("web"), pr.Channel("email")]))
    s = r.stats(now=0.0)
    assert s.total.longest_wait is None and s.channels["web"].longest_wait is None
    r.submit("c1", "web", "support", now=0.0)
    r.submit("c2", "email", "support", now=5.0)
    r.submit("c3", "web", "support", priority=9, now=6.0)
    s = r.stats(now=10.0)
    assert (s.channels["web"].longest_wait, s.channels["email"].longest_wait) == (10.0, 5.0)
    assert s.groups["support"].longest_wait == 10.0 and s.groups["b"].longest_wait is None
    assert s.total.longest_wait == 10.0
    r.advance(now=31.0)                          # c1 overflows to b: waits there too
    assert r.stats(now=31.0).groups["b"].longest_wait == 31.0
    r.add_operator("a", ["support"], 1, status="online", now=32.0)   # takes c3 (priority)
    r.cancel("c1", now=33.0)
    r.advance(now=40.0)                          # c2 overflows to b at 35
    s = r.stats(now=40.0)
    assert s.channels["web"].longest_wait is None
    assert s.groups["support"].longest_wait == 35.0                  # c2, since 5.0
    assert s.groups["b"].longest_wait == 35.0    # the customer's wait, not the group's


def test_longest_wait_stays_right_through_heavy_churn(make):
    # many requests enter and leave; the native index drops stale entries lazily
    r = make(cfg())
    r.add_operator("a", ["support"], 1, status="online", now=0.0)
    t = 0.0
    for i in range(300):
        t += 1.0
        r.submit(f"c{i}", "web", "support", now=t)
        if i % 3:
            r.cancel(f"c{i - 1}", now=t) if r.request(f"c{i - 1}").state == "queued" else None
    waiting = [rid for rid in r.queue("support")]
    oldest = min(r.request(x).arrived_at for x in waiting)
    assert r.stats(now=t).groups["support"].longest_wait == t - oldest
