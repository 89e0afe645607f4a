"""The floor as a support lead sees it: departments bound to channels, bans that act on
what already waits, a bot line that falls back, admission per channel (issue 12, points
4, 5, 6 and 8), on both engines."""

from __future__ import annotations

import warnings

import pytest

import pyroute as pr
from conftest import cfg

CHANNELS = [pr.Channel("web", priority=10, target_wait=30.0),
            pr.Channel("phone", priority=20, target_wait=20.0, cost="all"),
            pr.Channel("email", priority=0, target_wait=3600.0)]


def centre(*groups):
    return cfg(*groups, channels=CHANNELS)


# ------------------------------------------------------------ departments and channels

def test_sales_answers_only_web_chat_and_phone_an_email_to_sales_is_refused(make):
    r = make(centre(pr.Group("sales", channels=["web", "phone"]), pr.Group("support")))
    r.add_operator("sam", ["sales"], 3, status="online", now=0.0)
    assert r.accepting("sales", "web", now=0.0)
    assert not r.accepting("sales", "email", now=0.0)     # the widget offers no e-mail
    assert r.submit("m1", "email", "sales", visitor="v1", now=1.0) == [
        pr.Rejected(request="m1", at=1.0, reason="channel")]
    view = r.request("m1")
    assert (view.state, view.channel, view.group, view.visitor) == (
        "rejected", "email", "sales", "v1")
    # sam was not disturbed; the refusal is counted as such
    assert r.operator("sam").load == 0
    stats = r.stats(now=1.0)
    assert stats.groups["sales"].outcomes.rejected == {"channel": 1}
    assert stats.channels["email"].outcomes.rejected == {"channel": 1}
    assert stats.groups["sales"].outcomes.abandoned == 0
    # web chat and phone go to sales as usual
    assert r.submit("w1", "web", "sales", now=2.0)[0].operator == "sam"
    # nobody asks sales about e-mail: its e-mail queue is empty, nobody would be picked
    assert r.queue("sales", "email") == []
    assert r.pick("sales", "email") is None
    assert r.pick("sales", "web") == "sam"
    # support takes everything
    assert r.submit("m2", "email", "support", now=3.0)[0] == pr.Queued(
        request="m2", group="support", channel="email", at=3.0, position=1)


def test_a_department_that_names_an_unknown_channel_is_refused_at_once():
    with pytest.raises(pr.ConfigError, match=r"groups\[0\]\.channels\[1\].*'sales'.*'fax'"):
        pr.Router(centre(pr.Group("sales", channels=["web", "fax"])))
    with pytest.raises(pr.ConfigError, match=r"'sales' repeats channel 'web'"):
        pr.Router(centre(pr.Group("sales", channels=["web", "web"])))
    with pytest.raises(pr.ConfigError, match=r"'sales' lists no channel"):
        pr.Router(centre(pr.Group("sales", channels=[])))
    # escalating to a line that takes none of the group's channels could never work
    with pytest.raises(pr.ConfigError, match=r"escalate_to.*'mail'.*'chat'"):
        pr.Router(centre(pr.Group("chat", channels=["web"], escalate_to="mail"),
                         pr.Group("mail", channels=["email"])))
    # nor could an overflow rule that leads only to such groups
    with pytest.raises(pr.ConfigError, match=r"overflow\[0\]\.to.*'chat'"):
        pr.Router(centre(pr.Group("chat", channels=["web"],
                                  overflow=[pr.Overflow(to=["mail"], after=10.0)]),
                         pr.Group("mail", channels=["email"])))
    # a TOML/JSON config is checked the same way
    with pytest.raises(pr.ConfigError, match="'fax'"):
        pr.RouterConfig.from_json(
            b'{"channels":[{"name":"web"}],"groups":[{"name":"g","channels":["fax"]}]}')


def test_support_overflows_to_sales_only_with_the_chats_sales_takes(make):
    r = make(centre(pr.Group("support", overflow=[pr.Overflow(to=["sales", "back"],
                                                               after=30.0)]),
                    pr.Group("sales", channels=["web"]), pr.Group("back")))
    r.submit("w1", "web", "support", now=0.0)
    r.submit("m1", "email", "support", now=0.0)
    assert r.advance(now=30.0) == [
        pr.Overflowed(request="w1", group="support", to=("sales", "back"), reason="after",
                      at=30.0),
        pr.Overflowed(request="m1", group="support", to=("back",), reason="after", at=30.0)]
    assert r.request("m1").eligible_groups == ("support", "back")
    # a sales operator coming online takes the chat, never the e-mail
    assert r.add_operator("sam", ["sales"], 5, status="online", now=31.0) == [
        pr.Assigned(request="w1", operator="sam", group="sales", channel="web", at=31.0,
                    waited=31.0)]
    assert r.queue("back") == ["m1"]


def test_an_email_is_not_transferred_or_escalated_to_sales_which_takes_only_chat(make):
    r = make(centre(pr.Group("support", escalate_to="sales"),
                    pr.Group("sales", channels=["web", "phone"]),
                    pr.Group("mail", channels=["email"])))
    r.add_operator("sue", ["support"], 2, status="online", now=0.0)
    r.add_operator("sam", ["sales", "mail"], 2, status="online", now=0.0)
    r.submit("m1", "email", "support", now=1.0)
    before = r._state()
    with pytest.raises(pr.InvalidState,
                       match=r"group 'sales' does not take channel 'email'; groups that "
                             r"take 'email': 'support', 'mail'"):
        r.transfer("m1", group="sales", now=2.0)
    with pytest.raises(pr.InvalidState, match=r"escalate.*'sales' does not take.*'email'"):
        r.escalate("m1", now=2.0)
    assert r._state() == before
    # to an operator: through their group that takes e-mail (sam's first group does not)
    events = r.transfer("m1", operator="sam", now=3.0)
    assert events[0] == pr.Transferred(request="m1", at=3.0, from_operator="sue",
                                       group="mail", operator="sam", escalated=False)
    assert events[1].operator == "sam" and events[1].group == "mail"
    r.add_operator("cy", ["sales"], 2, status="online", now=4.0)
    with pytest.raises(pr.InvalidState,
                       match=r"operator 'cy' is in no group that takes channel 'email'"):
        r.transfer("m1", operator="cy", now=5.0)


# ------------------------------------------------------------------------------ bans

def troll_floor(**kw):
    return cfg(pr.Group("support", **kw))


def test_a_troll_with_two_chats_waiting_is_banned_both_close_as_banned(make):
    r = make(troll_floor())
    r.add_operator("alice", ["support"], 2, status="online", now=0.0)
    r.submit("t0", "web", "support", visitor="troll", now=1.0)      # with alice
    r.submit("f1", "web", "support", visitor="friend", now=2.0)     # with alice
    r.submit("t1", "web", "support", visitor="troll", now=3.0)      # waiting
    r.submit("f2", "web", "support", visitor="friend", now=4.0)     # waiting
    r.submit("t2", "email", "support", visitor="troll", now=5.0)    # waiting
    # alice bans from the conversation in front of her
    who = r.request("t0").visitor
    assert who == "troll"
    assert r.ban(who, reason="abuse", now=60.0) == [
        pr.Cancelled(request="t1", at=60.0, waited=57.0, early=False, reason="banned"),
        pr.Cancelled(request="t2", at=60.0, waited=55.0, early=False, reason="banned")]
    # the chat alice has stays with her: she decides
    assert r.request("t0").state == "active"
    assert r.operator("alice").active == ("t0", "f1")
    assert r.queue("support") == ["f2"]
    assert r.request("t1").state == "cancelled"
    outcomes = r.stats(now=60.0).total.outcomes
    assert outcomes.abandoned == 0 and outcomes.cancelled_early == 0
    # a customer who leaves is still one who left
    assert r.cancel("f2", now=61.0) == [
        pr.Cancelled(request="f2", at=61.0, waited=57.0, early=False)]
    assert r.stats(now=61.0).total.outcomes.abandoned == 1
    assert r.submit("t3", "web", "support", visitor="troll", now=62.0) == [
        pr.Rejected(request="t3", at=62.0, reason="banned")]


def test_a_ban_ends_the_offer_in_front_of_an_operator_who_then_takes_the_next_customer(make):
    r = make(troll_floor(accept_timeout=30.0))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    assert r.submit("t1", "web", "support", visitor="troll", now=1.0)[0].operator == "alice"
    r.submit("t2", "web", "support", visitor="troll", now=2.0)
    r.submit("f1", "web", "support", visitor="friend", now=3.0)
    # both of the troll's chats end before alice's freed slot takes the friend
    assert r.ban("troll", now=10.0) == [
        pr.Cancelled(request="t1", at=10.0, waited=9.0, early=False, reason="banned"),
        pr.Cancelled(request="t2", at=10.0, waited=8.0, early=False, reason="banned"),
        pr.Offered(request="f1", operator="alice", group="support", channel="web", at=10.0,
                   expires_at=40.0)]
    assert r.stats(now=10.0).total.outcomes.cancelled_early == 0


def test_a_ban_can_leave_what_already_waits(make):
    r = make(troll_floor())
    r.submit("t1", "web", "support", visitor="troll", now=1.0)
    assert r.ban("troll", now=2.0, cancel_waiting=False) == []
    assert r.apply(pr.Ban(visitor="troll", now=3.0, cancel_waiting=False)) == []
    assert r.request("t1").state == "queued"
    assert r.apply(pr.Ban(visitor="troll", now=4.0)) == [
        pr.Cancelled(request="t1", at=4.0, waited=3.0, early=False, reason="banned")]


def test_a_journal_written_before_bans_cancelled_replays_as_it_ran():
    from pyroute import protocol
    old = protocol.from_record([12, "troll", None, "spam", 5.0])
    assert old == pr.Ban(visitor="troll", reason="spam", now=5.0, cancel_waiting=False)
    assert protocol.padded(12, ["troll", None, "spam", 5.0]) == [
        "troll", None, "spam", 5.0, False]
    new = pr.Ban(visitor="troll", now=5.0)
    assert protocol.from_record(list(protocol.record(new))) == new and new.cancel_waiting


# ------------------------------------------------------------------------------ bots

def bot_floor(**kw):
    return cfg(pr.Group("bots", line=0, escalate_to="first", **kw),
               pr.Group("first", line=1))


def test_the_bot_is_down_at_night_customers_go_straight_to_the_first_line(make):
    r = make(bot_floor())
    r.add_operator("bot", ["bots"], 1000, status="offline", kind="bot", now=0.0)
    r.add_operator("alice", ["first"], 1, status="online", now=0.0)
    assert r.accepting("bots", "web", now=0.0)
    assert r.submit("c1", "web", "bots", now=1.0) == [
        pr.Overflowed(request="c1", group="bots", to=("first",), reason="no_operators",
                      at=1.0),
        pr.Assigned(request="c1", operator="alice", group="first", channel="web", at=1.0,
                    waited=0.0)]
    # by day the bot answers first
    r.set_status("bot", "online", now=2.0)
    assert r.submit("c2", "web", "bots", now=3.0)[0].operator == "bot"
    # the bot goes down while conversations wait for it: they move to the first line
    r.set_limit("bot", 1, now=4.0)
    r.submit("c3", "web", "bots", now=5.0)
    assert r.set_status("bot", "offline", now=6.0)[1:] == [
        pr.Overflowed(request="c3", group="bots", to=("first",), reason="no_operators",
                      at=6.0)]
    assert r.request("c3").eligible_groups == ("bots", "first")
    # and nobody at all: the widget shows the offline form
    r.set_status("alice", "offline", now=7.0)
    assert not r.accepting("bots", "web", now=7.0)


def test_a_bot_line_with_its_own_rule_keeps_it():
    r = pr.Router(cfg(pr.Group("bots", line=0, escalate_to="first",
                               overflow=[pr.Overflow(to=["night"], when_no_operators=True)]),
                      pr.Group("first"), pr.Group("night")))
    assert [e.to for e in r.submit("c1", "web", "bots", now=0.0)
            if isinstance(e, pr.Overflowed)] == [("night",)]


def test_a_bot_line_with_nowhere_to_fall_back_warns():
    with pytest.warns(pr.ConfigWarning, match="'bots' is line 0.*no escalate_to"):
        pr.Router(cfg(pr.Group("bots", line=0), pr.Group("first")))
    with pytest.warns(pr.ConfigWarning, match="'first', which does not take email"):
        pr.Router(cfg(pr.Group("bots", line=0, escalate_to="first"),
                      pr.Group("first", channels=["web"])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pr.Router(bot_floor())


# ------------------------------------------------------------------ admission per channel

def test_the_chat_queue_is_full_but_email_is_still_accepted(make):
    r = make(cfg(pr.Group("support", max_queue=2)))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("w0", "web", "support", now=1.0)                        # alice is busy
    r.submit("w1", "web", "support", now=2.0)
    r.submit("w2", "web", "support", now=3.0)
    assert not r.accepting("support", "web", now=3.0)
    assert r.accepting("support", "email", now=3.0)
    assert r.submit("w3", "web", "support", now=4.0) == [
        pr.Rejected(request="w3", at=4.0, reason="overloaded")]
    assert r.submit("m1", "email", "support", now=5.0) == [
        pr.Queued(request="m1", group="support", channel="email", at=5.0, position=1)]
    # room for chat only counts operators who take chat: bob answers e-mail only
    r.add_operator("bob", ["support"], 3, status="online", channel_limits={"web": 0},
                   now=6.0)
    assert r.operator("bob").active == ("m1",)
    assert not r.accepting("support", "web", now=6.0)
    assert r.submit("w4", "web", "support", now=7.0)[0].reason == "overloaded"


def test_nobody_on_the_floor_takes_calls_tonight_the_call_button_is_hidden(make):
    r = make(centre(pr.Group("support")))
    r.add_operator("ann", ["support"], 3, status="online", channel_limits={"phone": 0},
                   now=0.0)
    r.add_operator("ben", ["support"], 0, status="online", now=0.0)   # limit 0: nothing
    assert not r.accepting("support", "phone", now=0.0)
    assert r.accepting("support", "web", now=0.0)
    # a call that comes anyway waits for someone who takes calls
    assert r.submit("p1", "phone", "support", now=1.0) == [
        pr.Queued(request="p1", group="support", channel="phone", at=1.0, position=1)]
    r.add_operator("cat", ["support"], 2, status="away", now=2.0)
    assert not r.accepting("support", "phone", now=2.0)
    assert r.set_status("cat", "online", now=3.0)[1].request == "p1"
    assert r.accepting("support", "phone", now=3.0)       # cat is busy, but on the floor


def test_a_group_with_nobody_counts_the_groups_its_rules_reach_at_once(make):
    r = make(cfg(pr.Group("night", overflow=[pr.Overflow(to=["day"], when_no_operators=True)]),
                 pr.Group("later", overflow=[pr.Overflow(to=["day"], after=60.0)]),
                 pr.Group("day")))
    r.add_operator("dora", ["day"], 1, status="online", now=0.0)
    assert r.accepting("night", "web", now=0.0)      # it would go to day at once
    assert not r.accepting("later", "web", now=0.0)  # it would wait a minute for nobody
    r.set_status("dora", "away", now=1.0)
    assert not r.accepting("night", "web", now=1.0)
