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


# ------------------------------------------------------------------------------ live figures

def web_and_mail():
    return pr.RouterConfig(
        channels=[pr.Channel("web", target_wait=30.0), pr.Channel("email", target_wait=3600.0),
                  pr.Channel("call", target_wait=20.0, cost="all")],
        groups=[pr.Group("support"), pr.Group("sales", overflow=[pr.Overflow(
            to=["support"], after=600.0)]), pr.Group("bots")])


@pytest.mark.parametrize("engine", ENGINES)
def test_at_ten_two_of_four_web_chats_are_over_the_30s_target_mean_wait_25s(engine):
    r = engine(web_and_mail())
    for i, ago in enumerate((45.0, 35.0, 15.0, 5.0)):      # nobody online: all wait
        r.submit(f"w{i}", "web", "support", now=T10 - ago)
    board = r.stats(now=T10)
    web = board.channels["web"]
    assert (web.waiting, web.over_target, web.mean_wait) == (4, 2, 25.0)
    assert web.longest_wait == 45.0
    assert board.groups["support"].over_target == 2
    assert board.groups["support"].mean_wait == 25.0
    assert (board.total.over_target, board.total.mean_wait) == (2, 25.0)
    # twenty seconds later the third has passed the target too
    later = r.stats(now=T10 + 20)
    assert (later.channels["web"].over_target, later.channels["web"].mean_wait) == (3, 45.0)
    # the e-mail target is an hour: an e-mail waiting 10 min is not over it
    r.submit("m1", "email", "support", now=T10 + 20)
    board = r.stats(now=T10 + 620)
    assert board.channels["email"].over_target == 0
    assert board.groups["support"].over_target == 4     # the web chats, by their target
    # the first one is answered: it no longer counts
    r.add_operator("ann", ["support"], 1, status="online", now=T10 + 620)
    board = r.stats(now=T10 + 620)
    assert board.channels["web"].waiting == 3 and board.channels["web"].over_target == 3
    assert board.channels["web"].mean_wait == pytest.approx((655 + 635 + 625) / 3)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_overflowed_chat_counts_in_both_queues_with_its_wait_since_arrival(engine):
    r = engine(web_and_mail())
    r.submit("s1", "web", "sales", now=T10 - 700)         # in support's queue too since -100
    board = r.stats(now=T10)
    assert board.groups["sales"].over_target == board.groups["support"].over_target == 1
    assert board.groups["support"].mean_wait == 700.0
    assert board.total.over_target == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_two_operators_at_four_of_five_with_email_capped_at_one(engine):
    r = engine(web_and_mail())
    for op in ("ann", "bob"):
        r.add_operator(op, ["support"], 5, status="online", now=T10 - 60,
                       channel_limits={"email": 1})
    for i in range(7):
        r.submit(f"w{i}", "web", "support", now=T10 - 50 + i)
    r.submit("m1", "email", "support", now=T10 - 40)      # ann: 4 chats... and bob 3 + mail
    held = {op: r.operator(op).active for op in ("ann", "bob")}
    assert sorted(len(v) for v in held.values()) == [4, 4]
    board = r.stats(now=T10)
    email = board.channels["email"]
    assert email.free_slots == 2           # one slot each
    assert email.can_take == 1             # but whoever holds the e-mail is at its cap
    assert board.channels["web"].can_take == 2
    assert board.channels["call"].can_take == 0    # a call needs an empty operator
    r.add_operator("cid", ["support"], 5, status="online", now=T10)   # no cap, empty
    board = r.stats(now=T10)
    assert board.channels["call"].can_take == 1
    assert board.channels["email"].can_take == 1 + 5
    assert board.channels["web"].can_take == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_the_bots_fifty_free_slots_do_not_hide_that_no_human_is_free(engine):
    r = engine(web_and_mail())
    r.add_operator("bot", ["bots"], 50, status="online", now=T10 - 60, kind="bot")
    r.add_operator("ann", ["support"], 2, status="online", now=T10 - 60)
    r.submit("w1", "web", "support", now=T10 - 30)
    r.submit("w2", "web", "support", now=T10 - 20)
    board = r.stats(now=T10)
    total = board.total
    assert (total.online, total.bots_online) == (2, 1)
    assert (total.free_slots, total.bot_free_slots) == (50, 50)   # humans: 50 - 50 = 0
    support, bots = board.groups["support"], board.groups["bots"]
    assert (support.online, support.bots_online, support.free_slots) == (1, 0, 0)
    assert (bots.bots_online, bots.bot_free_slots) == (1, 50)
    web = board.channels["web"]
    assert (web.can_take, web.bot_can_take) == (50, 50)
    assert web.bots_online == 1 and web.bot_free_slots == 50
    r.finish("w1", now=T10 + 1)
    board = r.stats(now=T10 + 1)
    assert board.total.free_slots - board.total.bot_free_slots == 1
    assert board.channels["web"].can_take - board.channels["web"].bot_can_take == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_non_target_share_per_channel_and_group(engine):
    r = engine(web_and_mail())
    r.add_operator("ann", ["support", "sales"], 5, status="online", now=T10 - 60)
    r.submit("w1", "web", "support", now=T10 - 50)
    r.submit("w2", "web", "sales", now=T10 - 40)
    r.submit("m1", "email", "support", now=T10 - 30)
    r.categorize("w1", "non_target", now=T10 - 20)
    r.finish("w2", now=T10 - 15)
    r.categorize("w2", "non_target", now=T10 - 10)        # ended: still counted
    r.categorize("m1", "billing", now=T10 - 5)
    r.categorize("m1", "non_target", now=T10)              # re-tagged
    board = r.stats(now=T10)
    assert board.categories == {"non_target": 3}
    assert board.channels["web"].categories == {"non_target": 2}
    assert board.channels["email"].categories == {"non_target": 1}
    assert board.groups["support"].categories == {"non_target": 2}
    assert board.groups["sales"].categories == {"non_target": 1}
    assert board.groups["bots"].categories == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_unresolved_at_the_end_of_the_period(engine):
    r = engine(web_and_mail())
    r.add_operator("ann", ["support"], 1, status="online", now=T10 - 3600)
    r.submit("w1", "web", "support", now=T10 - 3000)      # ann
    r.submit("w2", "web", "support", now=T10 - 2000)      # waits
    r.submit("w3", "web", "support", now=T10 - 1000)      # waits
    r.finish("w1", now=T10 - 900)                         # ann takes w2
    r.cancel("w3", now=T10 - 60)
    r.submit("m1", "email", "support", now=T10 - 30)      # waits
    board = r.stats(now=T10)                              # the hour 09:00-10:00 ends
    assert board.channels["web"].unresolved == 1          # w2 in progress
    assert board.channels["email"].unresolved == 1        # m1 waiting
    assert board.groups["support"].unresolved == 2
    assert board.total.unresolved == 2


def test_with_advance_every_the_stream_reports_an_overflow_without_a_poll():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from starlette.testclient import TestClient

    from pyroute.service import Service, build_app
    clock = [T10 - 120]
    svc = Service(pr.Router(sales_and_support()), {"tok": "supervisor"},
                  clock=lambda: clock[0], advance_every=0.02)
    auth = {"Authorization": "Bearer tok"}
    with TestClient(build_app(svc)) as client:
        cmds = [{"type": "AddOperator", "operator": "sam", "groups": ["sales"], "limit": 1,
                 "status": "online"},
                {"type": "Submit", "request": "busy", "channel": "web", "group": "sales"},
                {"type": "Submit", "request": "c1", "channel": "web", "group": "sales"}]
        assert client.post("/v1/commands", json=cmds, headers=auth).status_code == 200
        with client.stream("GET", "/v1/events", headers=auth) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": connected")
            clock[0] = T10                       # c1's overflow is due at 09:59:00
            data = next(line for line in lines if line.startswith("data: "))
            ev = json.loads(data[6:])
            assert ev["type"] == "Overflowed" and ev["at"] == T10 - 60
        assert svc.router.queue("support") == ["c1"]


def test_advance_every_must_be_a_positive_number():
    from pyroute.service import Service
    with pytest.raises(pr.ConfigError, match="advance_every"):
        Service(pr.Router(sales_and_support()), {"tok": "supervisor"}, advance_every=0)
