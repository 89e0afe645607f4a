"""Categories (categorize, RequestView.category, Stats.categories) and early cancellations,
on both engines."""

from __future__ import annotations

import pytest

import pyroute as pr
from conftest import cfg


def test_categorize_live_and_ended_conversations(make):
    r = make(cfg(history=10))
    r.add_operator("alice", ["support"], 1, status="online", now=0.0)
    r.submit("c1", "web", "support", now=1.0)          # active
    r.submit("c2", "web", "support", now=2.0)          # queued
    assert r.categorize("c1", "billing", now=3.0) == []
    assert r.categorize("c2", "non_target", now=3.0) == []
    assert r.request("c1").category == "billing"
    assert r.request("c2").category == "non_target"
    r.finish("c1", now=4.0)                             # c2 goes to alice
    assert r.request("c1") == pr.RequestView("c1", "finished", "web", "support", 0, "alice",
                                             1.0, ("support",), "billing")
    # re-tagging an ended conversation replaces its category
    r.categorize("c1", "bug", now=5.0)
    assert r.request("c1").category == "bug"
    assert r.stats(now=5.0).categories == {"non_target": 1, "bug": 1}
    r.categorize("c2", "bug", now=6.0)
    assert r.stats(now=6.0).categories == {"bug": 2}
    assert r.apply(pr.Categorize(request="c2", name="bug", now=7.0)) == []
    assert r.stats(now=7.0).categories == {"bug": 2}


def test_counts_outlive_history(make):
    r = make(cfg(history=1))
    r.submit("c1", "web", "support", now=0.0)
    r.categorize("c1", "non_target", now=0.5)
    r.cancel("c1", now=1.0)
    r.submit("c2", "web", "support", now=2.0)
    r.cancel("c2", now=3.0)                             # pushes c1 out of history
    with pytest.raises(pr.UnknownId):
        r.request("c1")
    with pytest.raises(pr.UnknownId):
        r.categorize("c1", "bug", now=4.0)
    assert r.stats(now=4.0).categories == {"non_target": 1}


def test_rejected_conversations_can_be_categorized(make):
    r = make(cfg(pr.Group("support"), pr.Group("hidden", hidden=True)))
    r.submit("c1", "web", "hidden", now=0.0)
    r.categorize("c1", "spam", now=1.0)
    assert r.request("c1").category == "spam"


def test_categorize_fires_due_timers(make):
    r = make(cfg(pr.Group("support", overflow=[pr.Overflow(to=["b"], after=5.0)]),
                 pr.Group("b")))
    r.submit("c1", "web", "support", now=0.0)
    assert r.categorize("c1", "x", now=9.0) == [
        pr.Overflowed(request="c1", group="support", to=("b",), reason="after", at=5.0)]


@pytest.mark.parametrize("call, exc, fragment", [
    (lambda r: r.categorize("nope", "x", now=10.0), pr.UnknownId, "nope"),
    (lambda r: r.categorize(None, "x", now=10.0), pr.InvalidArgument, "str or an int"),
    (lambda r: r.categorize("c1", "", now=10.0), pr.InvalidArgument, "non-empty"),
    (lambda r: r.categorize("c1", None, now=10.0), pr.InvalidArgument, "category"),
    (lambda r: r.categorize("c1", "x" * 201, now=10.0), pr.InvalidArgument, "200"),
    (lambda r: r.categorize("c1", "x", now=1.0), pr.TimeError, "earlier"),
])
def test_bad_input_changes_nothing(make, call, exc, fragment):
    r = make(cfg(pr.Group("support", overflow=[pr.Overflow(to=["b"], after=50.0)]),
                 pr.Group("b")))
    r.submit("c1", "web", "support", now=2.0)
    r.categorize("c1", "billing", now=3.0)
    r.advance(now=10.0)
    before = r._state()
    with pytest.raises(exc, match=fragment):
        call(r)
    assert r._state() == before


@pytest.mark.parametrize("early_cancel, left_at, early", [
    (20.0, 19.9, True), (20.0, 20.0, False), (0.0, 0.0, False), (60.0, 59.0, True)])
def test_early_cancellation_threshold(make, early_cancel, left_at, early):
    r = make(cfg(channels=[pr.Channel("web", early_cancel=early_cancel)]))
    r.submit("c1", "web", "support", now=0.0)
    assert r.cancel("c1", now=left_at) == [
        pr.Cancelled(request="c1", at=left_at, waited=left_at, early=early)]
