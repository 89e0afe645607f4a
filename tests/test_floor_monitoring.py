"""The live board as a support lead reads it: a poll at ``now`` is true at ``now``, and
the figures a lead asks for (docs/semantics.md, "Time" and "Monitoring")."""

from __future__ import annotations

import json

import pytest

import pyroute as pr
from pyroute import reference

ENGINES = [pytest.param(pr.Router, id="native"), pytest.param(reference.Router, id="reference")]

T10 = 36_000.0          # 10:00:00, seconds since midnight


def sales_and_support():
    """Sales overflows to support after 60 s of waiting; web chats, 30 s target."""
    return pr.RouterConfig(
        channels=[pr.Channel("web", target_wait=30.0)],
        groups=[pr.Group("sales", overflow=[pr.Overflow(to=["support"], after=60.0)]),
                pr.Group("support")])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_poll_at_ten_shows_the_overflow_that_fired_at_nine_fifty_nine_thirty(engine):
    r = engine(sales_and_support())
    r.add_operator("sam", ["sales"], 1, status="online", now=T10 - 120)
    r.add_operator("sue", ["support"], 1, status="online", now=T10 - 120)
    r.submit("busy-sales", "web", "sales", now=T10 - 110)       # sam is busy
    r.submit("busy-support", "web", "support", now=T10 - 100)   # sue is busy
    r.submit("c1", "web", "sales", now=T10 - 90)                # overflow due 09:59:30
    board = r.stats(now=T10)
    assert board.at == T10
    assert board.groups["support"].waiting == 1                 # c1 is in support's queue
    assert r.queue("support") == ["c1"]
    assert r.request("c1").eligible_groups == ("sales", "support")
    assert r.now == T10
    # the next call tells what happened, at the time it happened, before its own events
    out = r.finish("busy-support", now=T10 + 1)
    assert out == [
        pr.Overflowed(request="c1", group="sales", to=("support",), reason="after",
                      at=T10 - 30),
        pr.Finished(request="busy-support", operator="sue", at=T10 + 1),
        pr.Assigned(request="c1", operator="sue", group="support", channel="web",
                    at=T10 + 1, waited=91.0)]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_clock_default_reads_the_board_at_the_routers_clock(engine):
    ticks = iter([T10 - 120, T10 - 110, T10 - 90, T10])
    r = engine(sales_and_support(), clock=lambda: next(ticks))
    r.add_operator("sam", ["sales"], 1, status="online")
    r.submit("busy", "web", "sales")
    r.submit("c1", "web", "sales")
    board = r.stats()
    assert board.at == T10 and board.groups["support"].waiting == 1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", [T10 - 1, float("nan"), "10:00", True])
def test_a_board_read_with_a_bad_time_changes_nothing(engine, bad):
    r = engine(sales_and_support())
    r.add_operator("sam", ["sales"], 1, status="online", now=T10 - 120)
    r.submit("busy", "web", "sales", now=T10 - 110)
    r.submit("c1", "web", "sales", now=T10)
    before = r._state()
    with pytest.raises(pr.TimeError):
        r.stats(now=bad)
    assert r._state() == before


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_finish_after_a_poll_still_tells_the_overflow_next(engine):
    r = engine(sales_and_support())
    r.add_operator("sam", ["sales"], 1, status="online", now=T10 - 120)
    r.submit("busy", "web", "sales", now=T10 - 110)
    r.submit("c1", "web", "sales", now=T10 - 90)
    r.stats(now=T10)
    with pytest.raises(pr.InvalidState):
        r.finish("c1", now=T10)                 # still queued (in support now)
    with pytest.raises(pr.BatchError) as ei:
        r.apply_many([pr.Finish(request="nope", now=T10)])
    assert ei.value.events == []                # nothing applied: the events wait
    out = r.apply_many([pr.Advance(now=T10 + 1)])
    assert [type(e).__name__ for e in out] == ["Overflowed"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_operator_who_answers_an_offer_that_expired_before_the_poll_is_told(engine):
    config = pr.RouterConfig(channels=[pr.Channel("web")],
                             groups=[pr.Group("support", accept_timeout=10.0)])
    r = engine(config)
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.add_operator("bob", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)          # offered to alice until 11
    assert r.stats(now=15.0).total.in_progress == 1    # expired, offered to bob
    assert r.accept("c1", operator="alice", now=16.0) == [
        pr.OfferExpired(request="c1", operator="alice", at=11.0),
        pr.Offered(request="c1", operator="bob", group="support", channel="web", at=11.0,
                   expires_at=21.0)]
    with pytest.raises(pr.InvalidState, match="offered to 'bob'"):
        r.accept("c1", operator="alice", now=16.0)     # now she has been told


@pytest.mark.parametrize("engine", ENGINES)
def test_a_durable_router_polled_between_commands_replays_to_the_same_state(engine,
                                                                             tmp_path):
    import random

    from test_journal import commands_for
    config, cmds = commands_for(7, 200)
    rng = random.Random(7)
    polled = engine.open(tmp_path / "polled", config, fsync="never")
    plain = engine(config)
    # a read moves the clock to its now: poll only at times no later command goes before
    later = [float("inf")] * (len(cmds) + 1)
    for i in range(len(cmds) - 1, -1, -1):
        now = cmds[i].now if isinstance(cmds[i].now, float) else float("inf")
        later[i] = min(later[i + 1], now if now == now else float("inf"))
    polls = 0
    for i, cmd in enumerate(cmds):
        if cmd.now is not None and cmd.now <= later[i + 1] and rng.random() < 0.3:
            try:
                polled.stats(now=cmd.now)
                polls += 1
            except pr.TimeError:
                pass
        outs = []
        for router in (polled, plain):
            try:
                outs.append(router.apply(cmd))
            except pr.RoutingError as e:
                outs.append(type(e))
        assert outs[0] == outs[1], cmd          # the same events in the same lists
    assert polls > 20
    state = plain._state()
    assert polled._state() == state
    polled.close()
    with engine.open(tmp_path / "polled", config) as reopened:
        reopened.stats(now=state["now"])        # a refused last command fired what was due
        assert reopened._state() == state


# ------------------------------------------------------------------------------ service

def test_the_live_page_polls_a_board_that_is_current_and_the_stream_tells_why():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from starlette.testclient import TestClient

    from pyroute.service import Service, build_app
    clock = [T10 - 120]
    svc = Service(pr.Router(sales_and_support()), {"tok": "supervisor"},
                  clock=lambda: clock[0])
    auth = {"Authorization": "Bearer tok"}
    with TestClient(build_app(svc)) as client:
        for cmd in [{"type": "AddOperator", "operator": "sam", "groups": ["sales"],
                     "limit": 1, "status": "online"},
                    {"type": "Submit", "request": "busy", "channel": "web", "group": "sales"},
                    {"type": "Submit", "request": "c1", "channel": "web", "group": "sales"}]:
            assert client.post("/v1/commands", json=[cmd], headers=auth).status_code == 200
            clock[0] += 10
        with client.stream("GET", "/v1/events", headers=auth) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": connected")
            clock[0] = T10                       # c1's overflow was due at 09:59:30
            board = client.get("/v1/stats", headers=auth).json()
            assert board["at"] == T10 and board["groups"]["support"]["waiting"] == 1
            data = next(line for line in lines if line.startswith("data: "))
            ev = json.loads(data[6:])
            assert ev["type"] == "Overflowed" and ev["request"] == "c1"
            assert ev["at"] == T10 - 100 + 60
