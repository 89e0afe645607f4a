"""Chatwoot routed by pyroute, against the contract fake of Chatwoot (tests/chatwoot_fake.py):
signed webhooks in, assignments out through Chatwoot's API, agent presence polled, and
the bad input a platform sends (no or wrong signatures, an old timestamp, unknown inboxes
and teams, an API that is down)."""

from __future__ import annotations

import time

import msgspec
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

import pyroute as pr  # noqa: E402
from pyroute import errors  # noqa: E402
from pyroute.integrations.chatwoot import (  # noqa: E402
    AgentSettings, Chatwoot, ChatwootConfig, signature,
)
from pyroute.service import Service, build_app  # noqa: E402

from chatwoot_fake import FakeChatwoot  # noqa: E402

ALICE, BOB, CAROL, DAN = 11, 12, 13, 14
WEB, TELEGRAM, STRAY_INBOX = 1, 2, 9
BILLING, STRAY_TEAM = 5, 77


class Clock:
    """Wall-clock seconds that the test moves on."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def router_config() -> pr.RouterConfig:
    return pr.RouterConfig(
        channels=[pr.Channel("web", priority=10, target_wait=60.0),
                  pr.Channel("telegram", priority=0, target_wait=300.0)],
        groups=[pr.Group("support", overflow=[pr.Overflow(to=["billing"], after=300.0)]),
                pr.Group("billing")])


def cw_config(**kw) -> ChatwootConfig:
    base = dict(url="http://chatwoot.test", account_id=1, api_access_token="cw-token",
                webhook_secret="hook-secret", inboxes={"1": "web", "2": "telegram"},
                teams={"5": "billing"}, default_group="support",
                agents={str(ALICE): AgentSettings(limit=2, groups=["support"]),
                        str(BOB): AgentSettings(limit=3, groups=["support", "billing"]),
                        "carol@example.com": AgentSettings(limit=1, groups=["billing"])},
                poll_every=3600.0, reconcile_every=3600.0, retry_base=0.005,
                retry_max=0.02)
    base.update(kw)
    return ChatwootConfig(**base)


class Floor:
    """pyroute serving Chatwoot (the fake), and the helpers a test drives them with."""

    def __init__(self, client, svc, cw, fake, clock) -> None:
        self.c, self.svc, self.cw, self.fake, self.clock = client, svc, cw, fake, clock

    @property
    def router(self):
        return self.svc.router

    def settle(self, timeout: float = 5.0) -> None:
        """Chatwoot's webhooks delivered, and pyroute's assignments delivered back (while
        the API is up), until nothing moves."""
        end = time.monotonic() + timeout
        while True:
            sent = self.fake.flush(self.c.post)
            while self.cw.pending() and not (self.fake.down or self.fake.fail_status):
                assert time.monotonic() < end, "assignments were not delivered"
                time.sleep(0.002)
            if not sent and not self.fake.outbox:
                return
            assert time.monotonic() < end, "webhooks kept coming"

    def poll(self):
        return self.c.portal.call(self.cw.poll_agents)

    def reconcile(self):
        """One read of Chatwoot's open conversations and its corrections."""
        return self.c.portal.call(self.cw.reconciler.run_once)

    def later(self, seconds: float) -> None:
        self.clock.t += seconds
        self.c.get("/v1/stats", headers={"Authorization": "Bearer tok"})   # timers fire

    def holder(self, display: int):
        view, _, _, _ = self.cw.current(display)
        return view.operator if view is not None and view.state == "active" else None

    def state(self, display: int):
        view, _, _, _ = self.cw.current(display)
        return None if view is None else view.state


@pytest.fixture
def make_floor():
    stack = []

    def make(cfg: ChatwootConfig = None, agents=None, auto_assignment=False) -> Floor:
        clock = Clock()
        fake = FakeChatwoot(clock=clock)
        fake.add_inbox(WEB, "Website", auto_assignment=auto_assignment)
        fake.add_inbox(TELEGRAM, "Telegram")
        fake.teams[BILLING] = "Billing"
        for agent_id, name, limit in agents or [(ALICE, "Alice", 2), (BOB, "Bob", 3),
                                                (CAROL, "Carol", 1)]:
            fake.add_agent(agent_id, name, limit=limit)
        router = pr.Router(router_config(), clock=clock)
        svc = Service(router, {"tok": "supervisor"}, clock=clock)
        cw = Chatwoot(svc, cfg or cw_config(), transport=fake.transport, clock=clock)
        client = TestClient(build_app(svc, chatwoot=cw))
        client.__enter__()
        stack.append(client)
        floor = Floor(client, svc, cw, fake, clock)
        end = time.monotonic() + 5
        while not cw.counts["polls"] or not cw.reconciler.done:   # the first presence
            assert time.monotonic() < end                           # poll and reading,
            time.sleep(0.002)                                       # at start
        return floor

    yield make
    for client in stack:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------------- the floor's day
def test_agents_come_from_chatwoot_with_their_limits_and_presence(make_floor):
    f = make_floor()
    assert f.router.operator(ALICE).limit == 2
    assert list(f.router.operator(BOB).groups) == ["support", "billing"]
    assert f.router.operator(CAROL).limit == 1          # matched by e-mail
    assert f.router.operator(ALICE).status == "online"
    f.fake.set_presence(ALICE, "busy")
    f.fake.set_presence(BOB, "offline")
    f.poll()
    assert f.router.operator(ALICE).status == "away"
    assert f.router.operator(BOB).status == "offline"
    del f.fake.agents[CAROL]                            # removed from the account
    f.poll()
    assert f.router.operator(CAROL).status == "offline"


def test_a_new_conversation_is_assigned_in_chatwoot(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    # even distribution: Bob has 3 free slots, Alice 2
    assert f.fake.conversations[d]["assignee_id"] == BOB == f.holder(d)
    assert f.router.request(f"cw-{d}").channel == "web"
    d2 = f.fake.open_conversation(TELEGRAM, team_id=BILLING)
    f.settle()
    assert f.router.request(f"cw-{d2}").group == "billing"
    assert f.fake.conversations[d2]["assignee_id"] in (BOB, CAROL)


def test_a_conversation_nobody_can_take_waits_and_goes_to_the_first_free_slot(make_floor):
    f = make_floor(agents=[(ALICE, "Alice", 1)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                    groups=["support"])}))
    first = f.fake.open_conversation(WEB)
    second = f.fake.open_conversation(WEB)
    f.settle()
    assert f.fake.conversations[first]["assignee_id"] == ALICE
    assert f.fake.conversations[second]["assignee_id"] is None     # waits, unassigned
    assert f.state(second) == "queued"
    f.later(30)
    f.fake.resolve(first)
    f.settle()
    assert f.fake.conversations[second]["assignee_id"] == ALICE
    assert f.fake.max_held[ALICE] == 1


def test_priorities_decide_who_is_served_first(make_floor):
    f = make_floor(agents=[(ALICE, "Alice", 1)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                    groups=["support"])}))
    busy = f.fake.open_conversation(WEB)
    low = f.fake.open_conversation(TELEGRAM, priority="low")
    urgent = f.fake.open_conversation(TELEGRAM, priority="urgent")
    f.settle()
    f.fake.resolve(busy)
    f.settle()
    assert f.fake.conversations[urgent]["assignee_id"] == ALICE
    assert f.fake.conversations[low]["assignee_id"] is None


def test_resolved_frees_the_slot_and_a_customer_message_reopens(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    agent = f.fake.conversations[d]["assignee_id"]
    f.fake.resolve(d)
    f.settle()
    assert f.state(d) == "finished"
    assert f.router.operator(agent).load == 0
    f.fake.customer_writes(d)           # Chatwoot reopens it; the agent is still on it
    f.settle()
    assert f.cw.current(d)[1] == f"cw-{d}#2"
    assert f.holder(d) == agent == f.fake.conversations[d]["assignee_id"]


def test_a_resolved_waiting_conversation_is_cancelled(make_floor):
    f = make_floor(agents=[(ALICE, "Alice", 1)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                    groups=["support"])}))
    f.fake.open_conversation(WEB)
    waiting = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.resolve(waiting)             # the customer gave up; an agent closed it
    f.settle()
    assert f.state(waiting) == "cancelled"


def test_a_human_reassignment_in_chatwoot_is_followed(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    assert f.holder(d) == BOB
    f.fake.human_assign(d, ALICE)
    f.settle()
    assert f.holder(d) == ALICE == f.fake.conversations[d]["assignee_id"]
    assert f.router.operator(BOB).load == 0
    assert f.fake.reassigned_by_api == 0        # pyroute did not fight the human
    f.fake.set_team(d, BILLING)                 # moved to the billing team
    f.settle()
    assert f.router.request(f"cw-{d}").group == "billing"
    assert f.holder(d) == f.fake.conversations[d]["assignee_id"]


def test_unassigned_by_a_human_goes_back_to_the_queue(make_floor):
    f = make_floor(agents=[(ALICE, "Alice", 1)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                    groups=["support"])}))
    d = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.human_assign(d, None)
    f.settle()
    # routed anew: Alice is the only one with room, so Chatwoot shows her again
    assert f.fake.conversations[d]["assignee_id"] == ALICE == f.holder(d)


def test_taken_by_an_agent_pyroute_does_not_route_leaves_pyroute(make_floor):
    f = make_floor()
    f.fake.add_agent(DAN, "Dan", limit=9)       # not in agents, no default_groups
    f.poll()
    d = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.human_assign(d, DAN)
    f.settle()
    assert f.state(d) == "finished"
    assert f.fake.conversations[d]["assignee_id"] == DAN
    assert f.cw.counts["taken_outside"] == 1


def test_pending_conversations_belong_to_a_bot_until_handed_off(make_floor):
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.fake.conversations[d]["status"] = "pending"      # an agent bot answers first
    f.fake.outbox.clear()
    f.fake._queue(f.fake.payload(d, "conversation_created"))
    f.settle()
    assert f.state(d) is None                           # not routed
    with f.fake.lock:
        f.fake._change(d, status="open")                # the bot hands off
    f.settle()
    assert f.fake.conversations[d]["assignee_id"] is not None
    assert f.holder(d) == f.fake.conversations[d]["assignee_id"]


def test_a_stale_status_is_ignored(make_floor):
    """Resolved, then reopened by the customer at once, and Chatwoot's jobs deliver the
    webhooks the other way round: the late "resolved" is older than the "open" applied."""
    f = make_floor()
    d = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.resolve(d)
    f.clock.t += 1
    f.fake.customer_writes(d)
    f.fake.outbox.reverse()
    f.settle()
    assert f.fake.conversations[d]["status"] == "open"
    assert f.state(d) == "active" and f.holder(d) == f.fake.conversations[d]["assignee_id"]
    assert f.cw.counts["stale"] == 2     # the resolve's status_changed and its updated


def test_auto_assignment_on_a_routed_inbox_is_warned_at_start(make_floor, caplog):
    with caplog.at_level("WARNING", logger="pyroute.chatwoot"):
        f = make_floor(auto_assignment=True)
    assert f.cw.counts["auto_assignment_on"] == 1
    assert any("auto-assignment on" in r.getMessage() and "Website" in r.getMessage()
               for r in caplog.records)


def test_status_route_reports_the_counters(make_floor):
    f = make_floor()
    assert f.c.get("/chatwoot/status").status_code == 401
    r = f.c.get("/chatwoot/status", headers={"Authorization": "Bearer tok"})
    assert r.status_code == 200 and r.json()["pending_assignments"] == 0


# ---------------------------------------------------------------------- bad input
def _post(f, body: bytes, headers: dict):
    return f.c.post("/chatwoot/webhook", content=body, headers=headers)


def _created(f, display=500, inbox=WEB, team=None) -> bytes:
    f.fake.conversations[display] = {
        "inbox_id": inbox, "status": "open", "assignee_id": None, "team_id": team,
        "priority": None, "created_at": f.clock(), "updated_at": f.clock(), "messages": []}
    return msgspec.json.encode(f.fake.payload(display, "conversation_created"))


def _signed(f, body: bytes, ts=None, secret="hook-secret") -> dict:
    ts = str(int(f.clock() if ts is None else ts))
    return {"Content-Type": "application/json", "X-Chatwoot-Timestamp": ts,
            "X-Chatwoot-Signature": signature(secret, ts, body)}


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "tampered body", "old",
                                  "future", "no timestamp", "odd timestamp"])
def test_unsigned_or_wrongly_signed_webhooks_are_401_and_change_nothing(make_floor, case):
    f = make_floor()
    body = _created(f)
    headers = {"unsigned": {"Content-Type": "application/json"},
               "wrong secret": _signed(f, body, secret="guess"),
               "tampered body": _signed(f, body.replace(b'"open"', b'"opened"')),
               "old": _signed(f, body, ts=f.clock() - 301),
               "future": _signed(f, body, ts=f.clock() + 301),
               "no timestamp": {k: v for k, v in _signed(f, body).items()
                                if k != "X-Chatwoot-Timestamp"},
               "odd timestamp": {**_signed(f, body), "X-Chatwoot-Timestamp": b"\xb2"}}[case]
    before = f.router._state()
    r = _post(f, body, headers)
    assert r.status_code == 401 and r.json()["error"]
    assert f.router._state() == before
    assert f.cw.counts["unauthorized"] == 1


def test_a_signed_webhook_inside_the_window_is_applied_once(make_floor):
    f = make_floor()
    body = _created(f)
    headers = {**_signed(f, body, ts=f.clock() - 299), "X-Chatwoot-Delivery": "d-1"}
    assert _post(f, body, headers).json()["applied"] is True
    assert _post(f, body, headers).json() == {"applied": False,
                                              "ignored": "delivery seen before"}
    assert f.state(500) in ("active", "queued")


def test_unsigned_webhooks_only_when_configured(make_floor):
    f = make_floor(cfg=cw_config(webhook_secret="", allow_unsigned=True))
    body = _created(f)
    assert _post(f, body, {"Content-Type": "application/json"}).json()["applied"] is True


@pytest.mark.parametrize("inbox,team,counter", [(STRAY_INBOX, None, "unknown_inbox"),
                                                (WEB, STRAY_TEAM, "unknown_team")])
def test_unknown_inbox_or_team_is_logged_counted_and_answered_200(make_floor, caplog,
                                                                  inbox, team, counter):
    f = make_floor()
    f.fake.add_inbox(STRAY_INBOX, "SMS")       # in Chatwoot, not in chatwoot.inboxes
    body = _created(f, inbox=inbox, team=team)
    before = f.router._state()
    with caplog.at_level("INFO", logger="pyroute.chatwoot"):
        r = _post(f, body, _signed(f, body))
    assert r.status_code == 200                   # Chatwoot would not retry anyway
    assert f.router._state() == before
    assert f.cw.counts[counter] == 1
    assert any(str(inbox if team is None else team) in rec.getMessage()
               for rec in caplog.records)


def test_a_body_that_is_not_a_webhook_is_422(make_floor):
    f = make_floor()
    body = b'{"event": 7}'
    assert _post(f, body, _signed(f, body)).status_code == 422


def test_chatwoot_down_retries_with_backoff_and_delivers_when_back(make_floor, caplog):
    f = make_floor()
    f.fake.down = True
    with caplog.at_level("WARNING", logger="pyroute.chatwoot"):
        d = f.fake.open_conversation(WEB)
        f.settle()
        end = time.monotonic() + 5
        while f.cw.counts["retries"] < 3:
            assert time.monotonic() < end
            time.sleep(0.002)
    # pyroute keeps the slot taken for the agent it chose; nothing is lost
    assert f.holder(d) == BOB
    assert f.fake.conversations[d]["assignee_id"] is None
    assert any("retry" in r.getMessage() and "ConnectError" in r.getMessage()
               for r in caplog.records)
    refused = [c for c in f.fake.api_calls if c[0] == "refused"]
    assert len(refused) >= 3
    f.fake.down = False
    f.settle()
    assert f.fake.conversations[d]["assignee_id"] == BOB


def test_http_errors_from_chatwoot_are_retried_and_say_what_to_fix(make_floor, caplog):
    f = make_floor()
    f.fake.fail_status = 503
    d = f.fake.open_conversation(WEB)
    with caplog.at_level("WARNING", logger="pyroute.chatwoot"):
        f.settle()
        end = time.monotonic() + 5
        while f.cw.counts["retries"] < 2:
            assert time.monotonic() < end
            time.sleep(0.002)
    assert any("HTTP 503" in r.getMessage() for r in caplog.records)
    f.fake.fail_status = None
    f.settle()
    assert f.fake.conversations[d]["assignee_id"] == BOB


def test_a_conversation_deleted_in_chatwoot_ends_in_pyroute(make_floor):
    f = make_floor()
    f.fake.down = True
    d = f.fake.open_conversation(WEB)
    f.settle()
    del f.fake.conversations[d]
    f.fake.down = False
    f.settle()
    end = time.monotonic() + 5
    while f.state(d) != "finished":
        assert time.monotonic() < end
        time.sleep(0.002)
    assert f.router.operator(BOB).load == 0


def test_presence_poll_failure_keeps_presence(make_floor, caplog):
    f = make_floor()
    f.fake.fail_status = 500
    with caplog.at_level("WARNING", logger="pyroute.chatwoot"):
        assert "HTTP 500" in f.poll()
    assert f.router.operator(ALICE).status == "online"


@pytest.mark.parametrize("change,message", [
    ({"inboxes": {"1": "sms"}}, "unknown channel 'sms'"),
    ({"teams": {"5": "nowhere"}}, "unknown group 'nowhere'"),
    ({"webhook_secret": ""}, "allow_unsigned"),
    ({"api_access_token": ""}, "api_access_token"),
    ({"url": "chatwoot.test"}, "http(s) URL"),
    ({"retry_base": 0.0}, "retry_base"),
    ({"reconcile_every": float("nan")}, "chatwoot.reconcile_every must be seconds > 0"),
])
def test_config_errors_say_what_to_fix(change, message):
    cfg = cw_config(**change)
    with pytest.raises(errors.ConfigError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        cfg.check(router_config())


def test_groups_with_offers_are_refused():
    config = pr.RouterConfig(channels=[pr.Channel("web"), pr.Channel("telegram")],
                             groups=[pr.Group("support", accept_timeout=20.0),
                                     pr.Group("billing")])
    with pytest.raises(errors.ConfigError, match="no offers"):
        cw_config().check(config)


def test_toml_is_read_with_field_paths(tmp_path):
    p = tmp_path / "chatwoot.toml"
    p.write_text('[chatwoot]\nurl = "https://chat.example.com"\naccount_id = 3\n'
                 'api_access_token = "t"\nwebhook_secret = "s"\n'
                 'inboxes = { "4" = "web" }\n'
                 '[chatwoot.agents."7"]\nlimit = 4\ngroups = ["support"]\n')
    cfg = ChatwootConfig.from_toml(p)
    assert cfg.account_id == 3 and cfg.agents["7"].limit == 4
    p.write_text('[chatwoot]\nurl = "x"\naccount_id = "three"\n')
    with pytest.raises(errors.ConfigError, match=r"account_id"):
        ChatwootConfig.from_toml(p)


def test_reopened_while_its_agent_is_full_waits_unassigned_then_returns(make_floor):
    """Chatwoot reopens a conversation with its old assignee; if that agent has no room
    now, pyroute unassigns it in Chatwoot (no agent over its limit), keeps it for the
    agent for prefer_for, and assigns it when the agent has room."""
    f = make_floor(agents=[(ALICE, "Alice", 1)],
                   cfg=cw_config(agents={str(ALICE): AgentSettings(limit=1,
                                                                    groups=["support"])}))
    old = f.fake.open_conversation(WEB)
    f.settle()
    f.fake.resolve(old)
    f.settle()
    busy = f.fake.open_conversation(WEB)
    f.settle()
    assert f.fake.conversations[busy]["assignee_id"] == ALICE
    f.fake.customer_writes(old)             # reopened, still showing Alice
    f.settle()
    assert f.fake.conversations[old]["assignee_id"] is None
    # the reopen itself showed Alice with two for a moment (Chatwoot's doing); pyroute
    # put it right and never assigned over the limit
    assert f.fake.held(ALICE) == 1 and f.fake.api_overruns == 0
    f.fake.resolve(busy)
    f.settle()
    assert f.fake.conversations[old]["assignee_id"] == ALICE == f.holder(old)


def test_the_openapi_document_covers_the_chatwoot_routes(make_floor):
    from starlette.routing import Route

    from pyroute.service import openapi_document
    f = make_floor()
    doc = openapi_document(chatwoot=True)
    routes = {(m.lower(), r.path.replace(":path}", "}")) for r in f.c.app.routes
              if isinstance(r, Route) for m in r.methods if m != "HEAD"}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
    assert {("post", "/chatwoot/webhook"), ("get", "/chatwoot/status")} <= documented
    both = openapi_document(rocketchat=True, chatwoot=True)
    assert {"Hook", "ChatwootHook"} <= set(both["components"]["schemas"])


def test_an_assignment_not_delivered_before_a_restart_is_delivered_after(make_floor):
    """pyroute assigned a conversation and stopped before telling Chatwoot (the journal
    has the assignment, the delivery queue was in memory): the restarted service posts
    the holder of every conversation it has assigned once the agents are known."""
    clock = Clock()
    fake = FakeChatwoot(clock=clock)
    fake.add_inbox(WEB, "Website")
    fake.add_agent(ALICE, "Alice", limit=2)
    d = fake.open_conversation(WEB)
    fake.outbox.clear()                  # delivered before the restart, applied
    router = pr.Router(router_config(), clock=clock)
    router.add_operator(ALICE, ["support"], 2, "online", now=clock())
    router.submit(f"cw-{d}", channel="web", group="support", now=clock())
    svc = Service(router, {"tok": "supervisor"}, clock=clock)
    cw = Chatwoot(svc, cw_config(agents={str(ALICE): AgentSettings(limit=2,
                                                                   groups=["support"])}),
                  transport=fake.transport, clock=clock)
    with TestClient(build_app(svc, chatwoot=cw)):
        end = time.monotonic() + 5
        while fake.conversations[d]["assignee_id"] != ALICE:
            assert time.monotonic() < end
            time.sleep(0.002)
