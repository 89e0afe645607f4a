"""Hypothesis strategies for configs and command sequences, and an event-driven model of
the router, shared by ``test_invariants.py`` and ``test_differential.py``.

The model is rebuilt from the events alone (who holds what, each conversation's state,
loads, assignment order), so a test can compare it with the views after every call: the
events and the views must tell the same story.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any, Callable, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import pyroute as pr
from pyroute import reference
from pyroute.config import POLICIES

# When an example fails, Hypothesis's pytest plugin imports its patch writer, whose libcst
# import emits a DeprecationWarning (mypy_extensions.TypedDict); under the project's
# ``filterwarnings = error`` that turns every falsifying example into a pytest
# INTERNALERROR that hides it. Import it once here, with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - libcst not installed: nothing to pre-import
        pass

#: Every property test takes the (function-scoped, parametrised) ``engine``/``make``
#: fixture; it only hands over a class, so reusing it across examples is safe.
#: One failure is shrunk at a time (each costs many replays of a whole scenario).
PROPERTY_SETTINGS = settings(
    suppress_health_check=list(settings.default.suppress_health_check)
    + [HealthCheck.function_scoped_fixture],
    report_multiple_bugs=False)

CHANNEL_NAMES = ("web", "chat", "mail")
GROUP_NAMES = ("g0", "g1", "g2")
#: A small pool, str and int ids mixed, so commands hit existing and unknown operators.
OPERATOR_IDS = ("ann", "bob", "cy", 4, 5)
DTS = (0.0, 0.0, 0.0, 0.5, 1.0, 2.5, 5.0, 20.0, 60.0)
STATES = ("queued", "active", "finished", "cancelled", "rejected")


# ---------------------------------------------------------------------------- configs

@st.composite
def overflow_rules(draw, names: tuple[str, ...]) -> pr.Overflow:
    to = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names),
                             unique=True)))
    kind = draw(st.sampled_from(("after", "no_operators", "queue_over")))
    if kind == "after":
        return pr.Overflow(to=to, after=draw(st.sampled_from((0.0, 1.0, 2.5, 5.0, 30.0, 60.0))))
    if kind == "no_operators":
        return pr.Overflow(to=to, when_no_operators=True)
    return pr.Overflow(to=to, when_queue_over=draw(st.integers(0, 3)))


@st.composite
def configs(draw, *, policies: tuple[str, ...] = POLICIES, overflow: bool = True,
            aging: tuple[float, ...] = (0.0, 0.0, 0.1, 1.0),
            orders: tuple[str, ...] = ("priority", "priority", "deadline"),
            hidden: bool = True,
            history: tuple[int, ...] = (100_000, 100_000, 3, 0)) -> pr.RouterConfig:
    """A small RouterConfig: 1-3 channels, 1-3 groups, optional overflow and hidden groups."""
    n_ch = draw(st.integers(1, len(CHANNEL_NAMES)))
    channels = [pr.Channel(CHANNEL_NAMES[i], priority=draw(st.sampled_from((0, 5, 10))),
                           target_wait=draw(st.sampled_from((30.0, 120.0, 3600.0))),
                           early_cancel=draw(st.sampled_from((20.0, 0.0, 5.0))))
                for i in range(n_ch)]
    n_g = draw(st.integers(1, len(GROUP_NAMES)))
    names = GROUP_NAMES[:n_g]
    groups = []
    for i, name in enumerate(names):
        rules = draw(st.lists(overflow_rules(names), max_size=2)) if overflow else []
        groups.append(pr.Group(
            name, policy=draw(st.sampled_from(policies)),
            priority=draw(st.sampled_from((0, 0, 3))), overflow=tuple(rules),
            hidden=hidden and i > 0 and draw(st.integers(0, 5)) == 0))
    return pr.RouterConfig(channels=channels, groups=groups,
                           aging=draw(st.sampled_from(aging)),
                           order=draw(st.sampled_from(orders)),
                           seed=draw(st.integers(0, 2**32)),
                           history=draw(st.sampled_from(history)))


# ---------------------------------------------------------------------------- commands

KINDS = ("submit", "submit", "submit", "finish", "finish", "cancel", "status", "status",
         "limit", "groups", "add", "remove", "advance")


@st.composite
def scenarios(draw, config=None, *, max_commands: int = 50,
              kinds: tuple[str, ...] = KINDS) -> tuple[pr.RouterConfig, list]:
    """(config, commands): a few operators, then a random mix of ``kinds`` of commands
    whose times never go backwards.

    A reference router follows the commands as they are drawn, so that they mostly name
    things in a useful state (finish an answered conversation, take away an operator who
    holds some); ids still come from small pools, and about one command in six is invalid
    on purpose (an unknown or removed operator, finishing a queued conversation, a
    duplicate id, ...). The guide only steers the choices: the test runs its own router."""
    cfg = draw(config if config is not None else configs())
    guide = reference.Router(cfg)
    chs = [c.name for c in cfg.channels]
    gs = [g.name for g in cfg.groups]
    group_lists = st.lists(st.sampled_from(gs), min_size=1, max_size=len(gs),
                           unique=True).map(tuple)
    maybe_groups = st.one_of(group_lists, st.just(()) | group_lists)
    statuses = st.sampled_from(("online", "online", "online", "away", "offline"))
    cmds: list = []
    now = 0.0
    submitted: list = []

    def emit(cmd) -> None:
        cmds.append(cmd)
        try:
            guide.apply(cmd)
        except pr.RoutingError:
            pass

    def present() -> list:
        out = []
        for op in OPERATOR_IDS:
            try:
                out.append((op, guide.operator(op).load))
            except pr.UnknownId:
                pass
        return out

    def operator(busy: bool = False):
        ops = present()
        if busy and any(load for _, load in ops) and draw(st.integers(0, 3)):
            return draw(st.sampled_from([op for op, load in ops if load]))
        if ops and draw(st.integers(0, 9)):
            return draw(st.sampled_from([op for op, _ in ops]))
        return draw(st.sampled_from(OPERATOR_IDS))

    def conversation(states: tuple[str, ...]):
        live = []
        for rid in submitted[-12:]:
            try:
                if guide.request(rid).state in states:
                    live.append(rid)
            except pr.UnknownId:
                pass
        if live and draw(st.integers(0, 7)):
            return draw(st.sampled_from(live))
        return draw(st.sampled_from(submitted))

    def add(op) -> None:
        emit(pr.AddOperator(operator=op, groups=draw(maybe_groups),
                            limit=draw(st.sampled_from((1, 2, 3, 0))), status=draw(statuses),
                            now=now))

    for op in draw(st.lists(st.sampled_from(OPERATOR_IDS), min_size=1, max_size=4,
                            unique=True)):
        add(op)
    # sampled_from draws the length uniformly (integers() favours short runs), and still
    # shrinks towards 1
    for _ in range(draw(st.sampled_from(range(1, max_commands + 1)))):
        now += draw(st.sampled_from(DTS))
        kind = draw(st.sampled_from(kinds))
        if kind in ("finish", "cancel") and not submitted:
            kind = "submit"
        if kind == "submit":
            n = len(submitted)
            if submitted and draw(st.integers(0, 19)) == 0:
                rid = draw(st.sampled_from(submitted))            # DuplicateId
            else:
                rid = f"r{n}" if draw(st.booleans()) else n
            submitted.append(rid)
            emit(pr.Submit(request=rid, channel=draw(st.sampled_from(chs)),
                           group=draw(st.sampled_from(gs)),
                           priority=draw(st.sampled_from((0, 0, 1, 5, -2))), now=now))
        elif kind == "finish":
            emit(pr.Finish(request=conversation(("active",)), now=now))
        elif kind == "cancel":
            emit(pr.Cancel(request=conversation(("queued", "active")), now=now))
        elif kind == "status":
            emit(pr.SetStatus(operator=operator(busy=True), status=draw(statuses),
                              requeue=draw(st.booleans()), now=now))
        elif kind == "limit":
            emit(pr.SetLimit(operator=operator(busy=True), limit=draw(st.integers(0, 4)),
                             now=now))
        elif kind == "groups":
            emit(pr.SetGroups(operator=operator(), groups=draw(maybe_groups), now=now))
        elif kind == "add":
            add(draw(st.sampled_from(OPERATOR_IDS)))
        elif kind == "remove":
            emit(pr.RemoveOperator(operator=operator(busy=True), requeue=draw(st.booleans()),
                                   now=now))
        else:
            emit(pr.Advance(now=now))
    return cfg, cmds


# ---------------------------------------------------------------------------- the model

class Model:
    """What the events say: every conversation's state and holder, every operator's load
    and held conversations (in assignment order), the order of assignments and
    registrations (for tie-breaks) and the order in which conversations ended (for
    ``history``). ``anomalies`` collects events that contradict the story so far."""

    def __init__(self, config: pr.RouterConfig) -> None:
        self.config = config
        self.early = {c.name: c.early_cancel for c in config.channels}
        self.state: dict[Any, str] = {}
        self.holder: dict[Any, Any] = {}          # live: rid -> operator
        self.final_operator: dict[Any, Any] = {}  # ended: rid -> operator (or None)
        self.via: dict[Any, str] = {}             # live and active: rid -> group
        self.assigned_at: dict[Any, float] = {}   # rid -> time of its last Assigned
        self.held: dict[Any, list] = {}           # operator -> rids, assignment order
        self.ops: dict[Any, None] = {}            # registered operators, in order
        self.reg: dict[Any, int] = {}
        self.last_assign: dict[Any, int] = {}
        self.n_assign = 0
        self.n_reg = 0
        self.submit_index: dict[Any, int] = {}    # rid -> submission order
        self.n_submit = 0
        self.arrival: dict[Any, float] = {}
        # when it last started waiting: arrival, or when an answered one went back
        self.wait_since: dict[Any, float] = {}
        self.channel: dict[Any, str] = {}
        self.ended: list = []
        self.anomalies: list[str] = []
        #: per call: (operator, load after the assignment) for every Assigned
        self.assignments: list[tuple[Any, int]] = []

    # -- commands that succeeded
    def before(self, cmd) -> None:
        self.assignments = []

    def after(self, cmd, events: list) -> None:
        """Feed one successful call: its command and its events."""
        if isinstance(cmd, pr.Submit):
            self.submit_index[cmd.request] = self.n_submit
            self.n_submit += 1
            self.arrival[cmd.request] = cmd.now
            self.wait_since[cmd.request] = cmd.now
            self.channel[cmd.request] = cmd.channel
            # an id reused after it left the history starts a new life
            self.state.pop(cmd.request, None)
            self.final_operator.pop(cmd.request, None)
            if cmd.request in self.ended:
                self.ended.remove(cmd.request)
            own = [e for e in events if getattr(e, "request", None) == cmd.request
                   and isinstance(e, (pr.Queued, pr.Assigned, pr.Rejected))]
            if len(own) != 1:
                self.anomalies.append(f"submit of {cmd.request!r} gave {own!r}")
        if isinstance(cmd, pr.AddOperator):
            self.ops[cmd.operator] = None
            self.held[cmd.operator] = []
            self.n_reg += 1
            self.reg[cmd.operator] = self.n_reg
            self.last_assign[cmd.operator] = 0
        for ev in events:
            self.event(ev)
        if isinstance(cmd, pr.RemoveOperator):
            if self.held.get(cmd.operator):
                self.anomalies.append(
                    f"{cmd.operator!r} removed still holding {self.held[cmd.operator]!r}")
            self.ops.pop(cmd.operator, None)
            self.held.pop(cmd.operator, None)

    def _release(self, rid) -> Any:
        self.via.pop(rid, None)
        op = self.holder.pop(rid, None)
        if op is not None:
            self.held[op].remove(rid)
        return op

    def event(self, ev) -> None:
        if isinstance(ev, pr.Assigned):
            if self.state.get(ev.request) not in (None, "queued", "active"):
                self.anomalies.append(f"{ev!r} for a {self.state[ev.request]} conversation")
            if self.state.get(ev.request) == "active":   # requeued straight to another
                self.wait_since[ev.request] = ev.at
            self._release(ev.request)
            if ev.operator not in self.held:
                self.anomalies.append(f"{ev!r}: unknown operator")
                self.held[ev.operator] = []
            self.holder[ev.request] = ev.operator
            self.via[ev.request] = ev.group
            self.assigned_at[ev.request] = ev.at
            self.held[ev.operator].append(ev.request)
            self.state[ev.request] = "active"
            self.n_assign += 1
            self.last_assign[ev.operator] = self.n_assign
            self.assignments.append((ev.operator, len(self.held[ev.operator])))
            if ev.waited != ev.at - self.wait_since.get(ev.request, ev.at - ev.waited):
                self.anomalies.append(f"{ev!r}: waited is not at - when it started waiting")
        elif isinstance(ev, pr.Queued):
            if self.state.get(ev.request) not in (None, "active"):
                self.anomalies.append(f"{ev!r} for a {self.state[ev.request]} conversation")
            if self.state.get(ev.request) == "active":   # an answered one waits again
                self.wait_since[ev.request] = ev.at
            self._release(ev.request)
            self.state[ev.request] = "queued"
        elif isinstance(ev, pr.Finished):
            if self.holder.get(ev.request) != ev.operator:
                self.anomalies.append(
                    f"{ev!r} but the events gave it to {self.holder.get(ev.request)!r}")
            self._release(ev.request)
            self._end(ev.request, "finished", ev.operator)
        elif isinstance(ev, pr.Cancelled):
            if self.state.get(ev.request) not in ("queued", "active"):
                self.anomalies.append(f"{ev!r} for a {self.state.get(ev.request)} conversation")
            arrival = self.arrival[ev.request]
            early = (ev.at - arrival) < self.early[self.channel[ev.request]]
            if ev.early != early:
                self.anomalies.append(f"{ev!r}: early should be {early}")
            # time waiting since it last started: until its assignment if it is answered
            answered = self.state.get(ev.request) == "active"
            end = self.assigned_at.get(ev.request, ev.at) if answered else ev.at
            since = self.wait_since[ev.request]
            if ev.waited != end - since:
                self.anomalies.append(f"{ev!r}: waited should be {end - since}")
            self._end(ev.request, "cancelled", self._release(ev.request))
        elif isinstance(ev, pr.Rejected):
            if ev.request in self.state:
                self.anomalies.append(f"{ev!r} for a {self.state[ev.request]} conversation")
            self._end(ev.request, "rejected", None)

    def _end(self, rid, state: str, operator) -> None:
        self.state[rid] = state
        self.final_operator[rid] = operator
        self.ended.append(rid)

    def forgotten(self) -> set:
        """Ended conversations the router may have dropped from its history."""
        keep = self.config.history
        return set(self.ended[:max(0, len(self.ended) - keep)])


# ---------------------------------------------------------------------------- driving

def call(router, cmd):
    """Apply ``cmd``; return (events, None) or (None, the RoutingError)."""
    try:
        return router.apply(cmd), None
    except pr.RoutingError as e:
        return None, e


def drive(router, model: Model, commands: list,
          check: Callable[..., None],
          *, before: Optional[Callable[[Any, Model, Any], Any]] = None,
          flush: bool = False) -> None:
    """Run ``commands`` one by one, feeding the model and calling ``check(router, model,
    cmd, events, error, snapshot)`` after every call. With ``flush``, timers due by a
    command's ``now`` are fired first by an ``advance`` (itself checked), so ``before``
    sees the state the command meets."""
    for cmd in commands:
        if flush and not isinstance(cmd, pr.Advance):
            adv = pr.Advance(now=cmd.now)
            model.before(adv)
            events, error = call(router, adv)
            assert error is None, error
            model.after(adv, events)
            check(router, model, adv, events, error, None)
        snapshot = before(router, model, cmd) if before is not None else None
        model.before(cmd)
        events, error = call(router, cmd)
        if error is None:
            model.after(cmd, events)
        elif router._state()["pending"]:
            # refused, but checked at its now: the timers due fired first, and their
            # events wait for the next call; the model hears them now
            adv = pr.Advance(now=router.now)
            model.before(adv)
            held, err = call(router, adv)
            assert err is None and held, err
            model.after(adv, held)
        check(router, model, cmd, events, error, snapshot)


def operator_views(router, model: Model) -> dict:
    return {op: router.operator(op) for op in model.ops}


def eligible_with_room(op_view, request_view) -> bool:
    return (op_view.status == "online" and op_view.load < op_view.limit
            and bool(set(op_view.groups) & set(request_view.eligible_groups)))


def before_time(t: float) -> float:
    """The largest float below ``t``: "a tiny epsilon" earlier, as tiny as it gets."""
    return math.nextafter(t, -math.inf)


def counts(items) -> dict:
    out: dict = defaultdict(int)
    for x in items:
        out[x] += 1
    return out
