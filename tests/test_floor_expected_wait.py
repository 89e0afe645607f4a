"""Telling a waiting customer where they stand (issue 14, point 5), as a support lead
would check it on the floor: the place in line and the wait announced, as the line moves,
when a colleague leaves, when customers give up, when a VIP comes in, and the widget that
hides itself when the wait would be too long. On both engines (``make``)."""

from __future__ import annotations

import math

import pytest

import pyroute as pr
from conftest import cfg
from pyroute import _ewt

CHANNELS = [pr.Channel("web", priority=10, target_wait=30.0),
            pr.Channel("email", priority=0, target_wait=3600.0)]


def floor(**group):
    return cfg(pr.Group("support", **group), channels=CHANNELS)


def staffed(make, names="ab", **group):
    """Operators with one chat at a time each, online from 0."""
    r = make(floor(**group))
    for n in names:
        r.add_operator(n, ["support"], 1, status="online", now=0.0)
    return r


def queued(events):
    return [e for e in events if isinstance(e, pr.Queued)]


def steady_morning(r, gap=10.0, start=0.0, n=12):
    """Two busy operators and a line of chats that has been served one every ``gap``
    seconds: each finish pulls the next waiting chat. Returns the time after it."""
    t = start
    r.submit("busy-a", "web", "support", now=t)
    r.submit("busy-b", "web", "support", now=t)
    for i in range(n):
        r.submit(f"w{i}", "web", "support", now=t + 0.5)
    active = ["busy-a", "busy-b"]
    for i in range(n - 2):
        t += gap
        done = active.pop(0)
        events = r.finish(done, now=t)
        active.append(next(e.request for e in events if isinstance(e, pr.Assigned)))
    return t


# ------------------------------------------------------------------ the place in line

def test_each_customer_is_told_their_place_in_line(make):
    r = staffed(make)
    r.submit("x1", "web", "support", now=0.0)
    r.submit("x2", "web", "support", now=0.0)     # both operators busy from here
    places = [queued(r.submit(f"c{i}", "web", "support", now=1.0 + i))[0].position
              for i in range(5)]
    assert places == [1, 2, 3, 4, 5]
    # nothing answered from the line yet: no wait is promised
    assert r.request("c4").expected_wait is None
    # an e-mail has its own line
    assert queued(r.submit("m1", "email", "support", now=7.0))[0].position == 1
    # as the line moves, a customer's place moves up
    r.finish("x1", now=20.0)
    assert r.request("c4").position == 4
    r.cancel("c1", now=21.0)
    assert r.request("c4").position == 3
    assert r.request("c0").state == "active"
    assert r.request("c0").position is None and r.request("c0").expected_wait is None


def test_a_vip_goes_to_the_front_and_everyone_behind_moves_back(make):
    r = staffed(make)
    r.submit("x1", "web", "support", now=0.0)
    r.submit("x2", "web", "support", now=0.0)
    for i in range(3):
        r.submit(f"c{i}", "web", "support", now=1.0 + i)
    assert queued(r.submit("vip", "web", "support", priority=5, now=5.0))[0].position == 1
    assert [r.request(f"c{i}").position for i in range(3)] == [2, 3, 4]
    assert r.queue("support", "web")[0] == "vip"


# ------------------------------------------------------------------ the wait announced

def test_the_wait_announced_follows_how_fast_the_line_has_been_moving(make):
    r = staffed(make)
    t = steady_morning(r, gap=10.0)
    # the line has been served once every 10 s; the next to join has two ahead of it
    line = r.queue("support", "web")
    events = r.submit("late", "web", "support", now=t + 1.0)
    q = queued(events)[0]
    assert q.position == len(line) + 1
    # about one turn every 10 s (the decayed average of the gaps seen: within 15 %)
    assert q.expected_wait == pytest.approx(10.0 * q.position, rel=0.15)
    # what a customer who has not arrived yet would be told: the same, one place further
    ahead = r.expected_wait("support", "web", now=t + 1.0)
    assert ahead == pytest.approx(10.0 * (q.position + 1), rel=0.15)
    assert ahead > q.expected_wait
    # the customer at the front is told less than the one at the back
    assert r.request(line[0]).expected_wait < r.request("late").expected_wait


def test_when_a_colleague_logs_off_the_announced_wait_doubles(make):
    r = staffed(make)
    t = steady_morning(r, gap=10.0)
    before = r.expected_wait("support", "web", now=t)
    r.set_status("b", "offline", now=t)            # b keeps its chat, takes no more
    after = r.expected_wait("support", "web", now=t)
    assert after == pytest.approx(2 * before)
    # and nobody online at all: no promise (the widget shows the offline form anyway)
    r.set_status("a", "offline", now=t)
    assert r.expected_wait("support", "web", now=t) is None
    assert not r.accepting("support", "web", now=t)


def test_someone_free_means_no_wait(make):
    r = staffed(make)
    assert r.expected_wait("support", "web", now=0.0) == 0.0
    r.submit("x1", "web", "support", now=0.0)
    assert r.expected_wait("support", "web", now=0.0) == 0.0   # b is still free
    r.submit("x2", "web", "support", now=0.0)
    assert r.expected_wait("support", "web", now=0.0) is None  # nothing to go by yet


def test_a_line_that_stalls_announces_longer_waits_as_it_stalls(make):
    r = staffed(make)
    t = steady_morning(r, gap=10.0)
    first = r.expected_wait("support", "web", now=t)
    # nobody finishes for five minutes: the time without a service start counts
    later = r.expected_wait("support", "web", now=t + 300.0)
    assert later > 2 * first


def test_customers_who_give_up_shorten_the_wait_of_those_behind_them(make):
    # two floors served at the same pace; on the second, customers keep giving up
    floors = {"patient": staffed(make), "impatient": staffed(make)}
    for name, r in floors.items():
        r.submit("busy-a", "web", "support", now=0.0)
        r.submit("busy-b", "web", "support", now=0.0)
        for i in range(40):
            r.submit(f"w{i}", "web", "support", now=0.5)
        active = ["busy-a", "busy-b"]
        for k in range(10):
            events = r.finish(active.pop(0), now=10.0 * (k + 1))
            active.append(next(e.request for e in events if isinstance(e, pr.Assigned)))
            if name == "impatient":            # the one at the back gives up
                r.cancel(r.queue("support", "web")[-1], now=10.0 * (k + 1) + 5.0)
    patient, impatient = floors["patient"], floors["impatient"]
    assert len(patient.queue("support", "web")) == 30
    assert len(impatient.queue("support", "web")) == 20
    # the customer in 20th place: those ahead may give up too, so the wait is shorter
    p20 = patient.request(patient.queue("support", "web")[19])
    i20 = impatient.request(impatient.queue("support", "web")[19])
    assert p20.position == i20.position == 20
    assert i20.expected_wait < 0.9 * p20.expected_wait
    # the head of the line waits one service gap on both: the same pace (read at the
    # same moment: time without a service start counts)
    patient.advance(105.0)
    p1 = patient.request(patient.queue("support", "web")[0])
    i1 = impatient.request(impatient.queue("support", "web")[0])
    assert i1.expected_wait == pytest.approx(p1.expected_wait, rel=1e-12)


# ------------------------------------------------------------------ the formula, by hand

def test_one_operator_one_gap_worked_by_hand(make):
    r = staffed(make, names="a")
    r.submit("x", "web", "support", now=0.0)
    r.submit("c1", "web", "support", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    r.finish("x", now=9.0)    # c1 served after 8 s of non-empty line, one member online
    # c2 at the front: 8 member-seconds per service start
    assert (r.request("c2").position, r.request("c2").expected_wait) == (1, 8.0)
    # a second later, c3 joins behind c2: 9 member-seconds per start, two turns
    q = queued(r.submit("c3", "web", "support", now=10.0))[0]
    assert (q.position, q.expected_wait) == (2, 2 * 9.0)
    # c2 gives up: an abandonment, theta = abandonments / waiting-seconds
    r.cancel("c2", now=12.0)
    view = r.request("c3")
    # service: one start behind 8 + 1 + 2 member-seconds -> r = 1/11 a second.
    # waiting-seconds: 1..9 gave 1 (c1) + 7 x 2 (c1, c2) = 15 before c1's start (decayed
    # once since), 9..12 gave 1 (c2) + 2 x 2 (c2, c3) = 5
    D = _ewt.DECAY
    rate = 1.0 / 11.0
    theta = 1.0 / (D * 15.0 + 5.0)
    assert view.position == 1
    assert view.expected_wait == pytest.approx(1.0 / rate)
    q4 = queued(r.submit("c4", "web", "support", now=12.0))[0]
    assert q4.expected_wait == pytest.approx(1.0 / rate + 1.0 / (rate + theta))


def test_long_lines_use_the_closed_form_and_it_matches_the_sum():
    st = [0.0, 0.0, 0.0, 10.0, 100.0, 3.0, 600.0]
    for pos in (1, 5, 16, 17, 40, 500, 10_000):
        got = _ewt.predict(st, 0, 1, pos, 0.0)
        want = math.fsum(1.0 / (0.1 + i * 0.005) for i in range(pos))
        assert got == pytest.approx(want, rel=1e-9)


# ------------------------------------------------------------------ admission by wait

def test_the_widget_hides_itself_when_the_wait_would_be_too_long(make):
    r = staffed(make, max_expected_wait=45.0)
    t = steady_morning(r, gap=10.0, n=4)       # 2 left waiting, served every 10 s
    assert r.expected_wait("support", "web", now=t) == pytest.approx(30.0, rel=0.15)
    assert r.accepting("support", "web", now=t)
    assert queued(r.submit("n1", "web", "support", now=t))[0].position == 3
    # a fourth in line would wait ~40 s: still in; a fifth ~50 s: over 45
    r.submit("n2", "web", "support", now=t)
    assert not r.accepting("support", "web", now=t)
    assert r.submit("n3", "web", "support", now=t) == [
        pr.Rejected(request="n3", at=t, reason="overloaded")]
    assert r.stats(now=t).groups["support"].outcomes.rejected == {"overloaded": 1}
    assert r.request("n3").state == "rejected"
    # e-mail has its own line: still accepted
    assert r.accepting("support", "email", now=t)
    # the line moves: accepted again
    r.cancel("n2", now=t + 1.0)
    assert r.accepting("support", "web", now=t + 1.0)


def test_no_prediction_admits(make):
    r = staffed(make, names="a", max_expected_wait=1.0)
    r.submit("x", "web", "support", now=0.0)
    # nothing served from the line yet: nothing to refuse on
    for i in range(3):
        assert queued(r.submit(f"c{i}", "web", "support", now=1.0 + i))
    assert r.accepting("support", "web", now=5.0)


# ------------------------------------------------------------------ bad input

def test_expected_wait_refuses_unknown_names_and_bad_times(make):
    r = staffed(make)
    with pytest.raises(pr.UnknownId, match="group"):
        r.expected_wait("nope", "web", now=0.0)
    with pytest.raises(pr.UnknownId, match="channel"):
        r.expected_wait("support", "fax", now=0.0)
    with pytest.raises(pr.UnknownId):
        r.expected_wait(3, "web", now=0.0)
    with pytest.raises(pr.TimeError, match="finite"):
        r.expected_wait("support", "web", now=math.nan)


def test_hidden_or_foreign_queues_have_no_prediction(make):
    r = make(cfg(pr.Group("support"), pr.Group("bots", hidden=True),
                 pr.Group("mail", channels=["email"]), channels=CHANNELS))
    assert r.expected_wait("bots", "web", now=0.0) is None
    assert r.expected_wait("mail", "web", now=0.0) is None


@pytest.mark.parametrize("bad", [0, -5.0, math.inf, "30", True])
def test_max_expected_wait_must_be_positive_seconds(engine, bad):
    with pytest.raises(pr.ConfigError, match="max_expected_wait"):
        engine({"channels": [{"name": "web"}],
                "groups": [{"name": "support", "max_expected_wait": bad}]})


# ------------------------------------------------------------------ what survives

def test_a_restarted_router_announces_the_same_waits(tmp_path):
    cfg_ = floor()
    r = pr.Router.open(tmp_path, cfg_, fsync="never")
    for n in "ab":
        r.add_operator(n, ["support"], 1, status="online", now=0.0)
    t = steady_morning(r, gap=10.0)
    r.snapshot()
    r.submit("after", "web", "support", now=t + 1.0)
    want = (r.expected_wait("support", "web", now=t + 2.0), r.request("after"))
    r.close()
    again = pr.Router.open(tmp_path, cfg_, fsync="never")
    assert (again.expected_wait("support", "web", now=t + 2.0), again.request("after")) == want
    again.close()
