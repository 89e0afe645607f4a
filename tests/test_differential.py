"""Differential tests: the native engine against the reference engine, command by command.

(a) ``TestEnginesInLockstep``: a Hypothesis ``RuleBasedStateMachine`` in the manner of
    PyRoaringBitMap's (a bitmap and a ``set`` driven in lockstep): the same valid and
    invalid commands go to ``pyroute.Router`` and ``pyroute.reference.Router``, through
    the methods, ``apply`` and ``apply_many``; after every rule both must have returned the
    same events (compared as values and as MessagePack bytes) or raised the same
    exception, pass ``check()``, and have equal ``_state()`` and views.
(b) ``test_seeded_stress``: for many seeds, a random config and 400 commands of
    ``workload.CommandStream`` through both engines, compared the same way; a failure
    names the seed and the step to replay.
"""

from __future__ import annotations

import math
import os
import random

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle, RuleBasedStateMachine, initialize, invariant, rule,
)

import pyroute as pr
from pyroute import protocol
from pyroute import reference
from routing_model import DTS, configs
from workload import CommandStream, random_config

ENC = msgspec.msgpack.Encoder()

#: Argument values that are wrong on purpose, next to the valid ones.
BAD_GROUP = "no-such-group"
BAD_CHANNEL = "no-such-channel"


def outcome(router, fn, before=None, rebuild=None):
    """Run ``fn(router)``; return a comparable summary of what happened. When ``before``
    (the router's ``_state()`` before the call) is given, a call that raises must have left
    the state as it was, but for being brought to its ``now`` (the timers due fired, their
    events held): exactly the state that ``rebuild(router)`` — the accepted commands
    replayed on a new router, then ``stats(now)`` — has."""
    try:
        events = fn(router)
    except pr.BatchError as e:
        assert isinstance(e.error, pr.RoutingError) and e.__cause__ is e.error
        return ("BatchError", e.index, type(e.error), e.events, ENC.encode(e.events))
    except pr.RoutingError as e:
        if before is not None:
            after = router._state()
            if repr(after) != repr(before):
                assert rebuild is not None and not isinstance(e, pr.TimeError), (
                    f"{router.engine}: a call that raised {type(e).__name__}: {e} "
                    f"changed the state")
                twin = rebuild(router)
                assert repr(after) == repr(twin._state()), (
                    f"{router.engine}: a call that raised {type(e).__name__}: {e} did more "
                    f"than bring the router to its now:\n{after}\n{twin._state()}")
        return (type(e),)
    if before is None:
        return ("ok", events)
    assert isinstance(events, list), events
    return ("ok", events, ENC.encode(events))


def assert_same_state(native, ref, where: str = "") -> None:
    native.check()
    ref.check()
    a, b = native._state(), ref._state()
    assert a == b, f"{where}_state() differs:\nnative    {a}\nreference {b}"
    # repr tells 1 from 1.0 and True from 1, which == does not
    assert repr(a) == repr(b), f"{where}_state() differs in types:\n{a!r}\n{b!r}"
    return a, b


class EnginesInLockstep(RuleBasedStateMachine):
    """Drives both engines with the same commands and compares them after every step."""

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.native = None
        self.ref = None
        self.now = 0.0
        self.n = 0
        self.ids: list = []         # every request id a rule used
        self.ops: list = []         # every operator id a rule added (some since removed)
        self.n_ops = 0
        self.holds: list = []       # every hold id a rule used
        self.n_holds = 0
        self.before = (None, None)  # both engines' _state() after the last step
        self.log: list = []         # the commands both engines accepted, in order

    # ------------------------------------------------------------------ plumbing
    @initialize(config=configs(), data=st.data())
    def build(self, config, data):
        """Both engines from one config, with one to three operators online."""
        self.config = config
        self.native = pr.Router(config)
        self.ref = reference.Router(config)
        self.channels = [c.name for c in config.channels]
        self.groups = [g.name for g in config.groups]
        self.before = (self.native._state(), self.ref._state())
        for _ in range(data.draw(st.integers(1, 3))):
            groups = data.draw(st.lists(st.sampled_from(self.groups), min_size=1,
                                        max_size=len(self.groups), unique=True))
            self.run(pr.AddOperator(operator=self.new_operator(data), groups=tuple(groups),
                                    limit=data.draw(st.integers(1, 3)), status="online",
                                    now=0.0), "method")
            self.before = (self.native._state(), self.ref._state())

    def both(self, fn, what, mutating=True):
        """Call ``fn`` on both engines and require the same outcome. The state each
        engine had before a mutating call is the one the last invariant check saw (every
        rule makes exactly one mutating call)."""
        a = outcome(self.native, fn, self.before[0] if mutating else None, self.replayed)
        b = outcome(self.ref, fn, self.before[1] if mutating else None, self.replayed)
        assert a == b, f"{what}:\nnative    {a}\nreference {b}"
        assert repr(a) == repr(b), f"{what}:\nnative    {a!r}\nreference {b!r}"
        return a

    def replayed(self, router):
        """A new router of ``router``'s engine given the accepted commands only, then read
        at ``router``'s time: what the journal would rebuild, and what ``router`` must be
        after a refused call (or a read) brought it to its now."""
        twin = type(router)(self.config)
        for cmd in self.log:
            twin.apply(cmd)
        twin.stats(now=router.now)
        return twin

    def tick(self, dt):
        self.now += dt
        return self.now

    def run(self, cmd, via):
        """Apply one command by method call, ``apply`` or a one-command ``apply_many``."""
        if via == "apply":
            out = self.both(lambda r: r.apply(cmd), f"apply({cmd!r})")
        elif via == "many":
            out = self.both(lambda r: r.apply_many([cmd]), f"apply_many([{cmd!r}])")
        else:
            name, kwargs = as_call(cmd)
            out = self.both(lambda r: getattr(r, name)(**kwargs), f"{name}(**{kwargs!r})")
        if out[0] == "ok":
            self.log.append(cmd)
        return out

    def new_operator(self, data):
        self.n_ops += 1
        op = f"op{self.n_ops}" if data.draw(st.booleans()) else self.n_ops
        self.ops.append(op)
        return op

    def operator(self, data):
        """Mostly an operator that was added (it may have been removed since), sometimes
        one that never was."""
        if self.ops and data.draw(st.integers(0, 7)):
            return data.draw(st.sampled_from(self.ops))
        return "ghost"

    def group_list(self, data):
        names = self.groups + [BAD_GROUP] if data.draw(st.integers(0, 15)) == 0 else self.groups
        groups = data.draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
        if groups and data.draw(st.integers(0, 20)) == 0:
            groups.append(groups[0])                       # listed twice: InvalidArgument
        return groups

    # ------------------------------------------------------------------ rules
    SUBMIT_ARGS = dict(
        target=requests, data=st.data(), dt=st.sampled_from(DTS),
        priority=st.sampled_from((0, 0, 0, 1, 5, -2, 10**6, 10**6 + 1)),
        visitor=st.sampled_from((None, None, None, "v-1", 7, 1.5)),
        via=st.sampled_from(("method", "apply", "many")))

    def _submit(self, data, dt, priority, visitor, via):
        self.n += 1
        rid = f"c{self.n}" if data.draw(st.booleans()) else self.n
        self.ids.append(rid)
        channel = data.draw(st.sampled_from(self.channels * 4 + [BAD_CHANNEL]))
        group = data.draw(st.sampled_from(self.groups * 4 + [BAD_GROUP]))
        self.run(pr.Submit(request=rid, channel=channel, group=group, priority=priority,
                           visitor=visitor, now=self.tick(dt)), via)
        return rid

    # Rules are drawn about evenly: conversations come and go more often than operators,
    # so submit and finish are each two rules.
    submit = rule(**SUBMIT_ARGS)(_submit)
    submit_more = rule(**SUBMIT_ARGS)(_submit)

    @rule(rid=requests, dt=st.sampled_from(DTS))
    def submit_again(self, rid, dt):
        """The same id again: DuplicateId while it is live or kept in history."""
        self.run(pr.Submit(request=rid, channel=self.channels[0], group=self.groups[0],
                           now=self.tick(dt)), "method")

    FINISH_ARGS = dict(rid=st.one_of(requests, requests, requests, st.sampled_from(("ghost", 0))),
                       dt=st.sampled_from(DTS),
                       via=st.sampled_from(("method", "apply", "many")))

    def _finish(self, rid, dt, via):
        self.run(pr.Finish(request=rid, now=self.tick(dt)), via)

    finish = rule(**FINISH_ARGS)(_finish)
    finish_more = rule(**FINISH_ARGS)(_finish)

    @rule(rid=requests, dt=st.sampled_from(DTS), via=st.sampled_from(("method", "apply")))
    def cancel(self, rid, dt, via):
        self.run(pr.Cancel(request=rid, now=self.tick(dt)), via)

    @rule(data=st.data(), dt=st.sampled_from(DTS),
          limit=st.sampled_from((0, 1, 2, 3, 5, 1, 2, 3, -1)),
          status=st.sampled_from(("online",) * 4 + ("away", "offline", "busy")),
          via=st.sampled_from(("method", "apply", "many")))
    def add_operator(self, data, dt, limit, status, via):
        if self.ops and data.draw(st.integers(0, 7)) == 0:
            op = data.draw(st.sampled_from(self.ops))      # DuplicateId, unless removed
        else:
            op = self.new_operator(data)
        self.run(pr.AddOperator(operator=op, groups=tuple(self.group_list(data)), limit=limit,
                                status=status, now=self.tick(dt)), via)

    @rule(data=st.data(), requeue=st.booleans(), dt=st.sampled_from(DTS),
          via=st.sampled_from(("method", "apply", "many")))
    def remove_operator(self, data, requeue, dt, via):
        self.run(pr.RemoveOperator(operator=self.operator(data), requeue=requeue,
                                   now=self.tick(dt)), via)

    @rule(data=st.data(),
          status=st.sampled_from(("online", "online", "away", "offline", "Online")),
          requeue=st.booleans(), dt=st.sampled_from(DTS),
          via=st.sampled_from(("method", "apply", "many")))
    def set_status(self, data, status, requeue, dt, via):
        self.run(pr.SetStatus(operator=self.operator(data), status=status, requeue=requeue,
                              now=self.tick(dt)), via)

    @rule(data=st.data(), dt=st.sampled_from(DTS), via=st.sampled_from(("method", "apply")))
    def set_groups(self, data, dt, via):
        self.run(pr.SetGroups(operator=self.operator(data), groups=tuple(self.group_list(data)),
                              now=self.tick(dt)), via)

    @rule(data=st.data(), limit=st.sampled_from((0, 1, 2, 4, 6, -1)),
          dt=st.sampled_from(DTS), via=st.sampled_from(("method", "apply")))
    def set_limit(self, data, limit, dt, via):
        self.run(pr.SetLimit(operator=self.operator(data), limit=limit, now=self.tick(dt)),
                 via)

    @rule(data=st.data(), dt=st.sampled_from(DTS),
          seconds=st.sampled_from((2.0, 30.0, 30.0, 0.0, math.nan, "30")),
          via=st.sampled_from(("method", "apply", "many")))
    def hold(self, data, dt, seconds, via):
        """A platform that places conversations itself holds a slot (some ids again: a
        live one is DuplicateId)."""
        self.n_holds += 1
        hid = (data.draw(st.sampled_from(self.holds))
               if self.holds and data.draw(st.integers(0, 7)) == 0 else f"h{self.n_holds}")
        self.holds.append(hid)
        exclude = self.operator(data) if data.draw(st.integers(0, 3)) == 0 else None
        channel = data.draw(st.sampled_from(self.channels * 4 + [BAD_CHANNEL]))
        group = data.draw(st.sampled_from(self.groups * 4 + [BAD_GROUP]))
        self.run(pr.Hold(group=group, channel=channel, hold=hid, seconds=seconds,
                         exclude=exclude, now=self.tick(dt)), via)

    @rule(data=st.data(), dt=st.sampled_from(DTS))
    def conversation_for_a_hold(self, data, dt):
        """The held conversation arrives: submitted preferring the held operator, and the
        hold released in the same batch."""
        if not self.holds:
            return
        hid = data.draw(st.sampled_from(self.holds))
        ops = [op for op in self.ops if op != "ghost"]
        self.n += 1
        rid = f"c{self.n}"
        self.ids.append(rid)
        prefer = data.draw(st.sampled_from(ops)) if ops else None
        now = self.tick(dt)
        cmds = [pr.Submit(request=rid, channel=data.draw(st.sampled_from(self.channels)),
                          group=data.draw(st.sampled_from(self.groups)), prefer=prefer,
                          prefer_for=60.0, now=now),
                pr.ReleaseHold(hold=hid, now=now)]
        if data.draw(st.booleans()):
            out = self.both(lambda r: r.apply_many(cmds), f"apply_many({cmds!r})")
            self.log += cmds if out[0] == "ok" else cmds[:out[1]]
            return
        # apply_each: a refused command is an item of the answer, and those after it go on
        out = self.both(lambda r: [x if type(x) is list else ["refused", type(x).__name__, str(x)]
                                   for x in r.apply_each(cmds)], f"apply_each({cmds!r})")
        assert out[0] == "ok" and len(out[1]) == len(cmds), out
        self.log += [c for c, x in zip(cmds, out[1]) if x[:1] != ["refused"]]

    @rule(data=st.data(), dt=st.sampled_from(DTS), via=st.sampled_from(("method", "apply")))
    def release_hold(self, data, dt, via):
        hid = data.draw(st.sampled_from(self.holds)) if self.holds else "never-held"
        self.run(pr.ReleaseHold(hold=hid, now=self.tick(dt)), via)

    @rule(dt=st.sampled_from(DTS + (0.25, 29.5, 30.0, 31.0, 120.0)),
          via=st.sampled_from(("method", "apply")))
    def advance(self, dt, via):
        self.run(pr.Advance(now=self.tick(dt)), via)

    @rule(bad=st.sampled_from((-1.0, -1e-9, math.nan, math.inf, -math.inf, "soon", True,
                               10**400)),
          call=st.sampled_from(("advance", "submit", "set_limit", "finish", "stats")))
    def bad_time(self, bad, call):
        """A ``now`` that is not a finite number at or after the last one: TimeError from
        both, reported before any other problem, and the clock does not move."""
        if isinstance(bad, float) and bad < 0:
            last = self.before[0]["now"]
            now = last + bad if math.isfinite(last) else math.nan    # before any call: -inf
        else:
            now = bad
        cmd = {"advance": pr.Advance(now=now),
               "submit": pr.Submit(request="late", channel=BAD_CHANNEL, group=self.groups[0],
                                   now=now),
               "set_limit": pr.SetLimit(operator="ghost", limit=1, now=now),
               "finish": pr.Finish(request="ghost", now=now), "stats": None}[call]
        if cmd is None:
            assert self.both(lambda r: r.stats(now=now), "stats", True) == (pr.TimeError,)
            return
        assert self.run(cmd, "method") == (pr.TimeError,)

    @rule(data=st.data(), size=st.integers(1, 6))
    def batch(self, data, size):
        """``apply_many`` of a small batch, sometimes failing part-way (BatchError: the
        commands before the failure stay applied, in both engines alike)."""
        cmds = []
        for _ in range(size):
            now = self.tick(data.draw(st.sampled_from(DTS)))
            kind = data.draw(st.sampled_from(("submit", "submit", "finish", "status", "limit",
                                              "groups", "add", "remove", "advance", "bad")))
            op = self.operator(data)
            if kind == "submit":
                self.n += 1
                self.ids.append(f"c{self.n}")
                cmds.append(pr.Submit(request=f"c{self.n}",
                                      channel=data.draw(st.sampled_from(self.channels)),
                                      group=data.draw(st.sampled_from(self.groups)),
                                      priority=data.draw(st.sampled_from((0, 1, -2))), now=now))
            elif kind == "finish":
                cmds.append(pr.Finish(request=f"c{data.draw(st.integers(1, max(1, self.n)))}",
                                      now=now))
            elif kind == "status":
                cmds.append(pr.SetStatus(operator=op,
                                         status=data.draw(st.sampled_from(
                                             ("online", "away", "offline"))),
                                         requeue=data.draw(st.booleans()), now=now))
            elif kind == "limit":
                cmds.append(pr.SetLimit(operator=op, limit=data.draw(st.integers(0, 4)),
                                        now=now))
            elif kind == "groups":
                cmds.append(pr.SetGroups(operator=op, groups=tuple(self.group_list(data)),
                                         now=now))
            elif kind == "add":
                cmds.append(pr.AddOperator(operator=self.new_operator(data),
                                           groups=tuple(self.group_list(data)),
                                           limit=data.draw(st.integers(0, 3)),
                                           status="online", now=now))
            elif kind == "remove":
                cmds.append(pr.RemoveOperator(operator=op, requeue=data.draw(st.booleans()),
                                              now=now))
            elif kind == "advance":
                cmds.append(pr.Advance(now=now))
            else:
                cmds.append(pr.Advance(now=now - 1.0))     # TimeError inside the batch
        out = self.both(lambda r: r.apply_many(cmds), f"apply_many({cmds!r})")
        self.log += cmds if out[0] == "ok" else cmds[:out[1]]

    @rule(dt=st.sampled_from(DTS + (0.25, 29.5, 30.0, 31.0, 120.0)))
    def poll(self, dt):
        """A lead's board read at ``now``: the timers due fire, and both engines show the
        same figures; the next call returns the events first."""
        now = self.tick(dt)
        self.both(lambda r: r.stats(now=now), f"stats(now={now!r})", False)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def engines_agree(self):
        if self.native is None:
            return
        n, r = self.native, self.ref
        now = max(self.now, n.now)
        assert n.stats(now=now) == r.stats(now=now)
        self.before = assert_same_state(n, r)
        for g in self.groups + [BAD_GROUP]:
            for c in [None] + self.channels:
                self.both(lambda x: x.queue(g, c), f"queue({g!r}, {c!r})", False)
        for op in self.ops + ["ghost"]:
            self.both(lambda x: x.operator(op), f"operator({op!r})", False)
        for rid in self.ids:
            self.both(lambda x: x.request(rid), f"request({rid!r})", False)


def as_call(cmd):
    """A command as (method name, keyword arguments)."""
    name = protocol.BY_TYPE[type(cmd)].name
    kwargs = msgspec.structs.asdict(cmd)
    if "groups" in kwargs:
        kwargs["groups"] = list(kwargs["groups"])
    return name, kwargs


TestEnginesInLockstep = EnginesInLockstep.TestCase
# Shrink one failure at a time: each distinct one costs minutes of replays otherwise.
TestEnginesInLockstep.settings = settings(TestEnginesInLockstep.settings,
                                          report_multiple_bugs=False)


# ---------------------------------------------------------------------------- (b) stress

N_SEEDS = 30 if os.environ.get("CI") else 150


def _batch_outcome(router, cmds):
    try:
        return router.apply_many(cmds), None
    except pr.BatchError as e:
        return e.events, (e.index, type(e.error))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_seeded_stress(seed):
    """400 commands of ``workload.CommandStream`` (with its few invalid ones) through both
    engines; now and then several go through one ``apply_many``."""
    rng = random.Random(seed)
    config = random_config(rng)
    native, ref = pr.Router(config), reference.Router(config)
    stream = CommandStream(config, rng)
    batching = random.Random(seed ^ 0x5EED)     # keeps the stream itself as workload.py has it
    polling = random.Random(seed ^ 0x57A75)     # a board read now and then, at the next now
    step = 0
    while step < 400:
        k = batching.choice((1,) * 9 + (2, 5))
        cmds = [stream.next() for _ in range(k)]
        where = f"seed={seed} step={step} cmds={cmds!r}: "
        if polling.random() < 0.2 and cmds[0].now is not None:
            reads = []
            for router in (native, ref):
                try:
                    reads.append(router.stats(now=cmds[0].now))
                except pr.RoutingError as e:
                    reads.append(type(e))
            assert reads[0] == reads[1], f"{where}stats differ:\n{reads[0]}\n{reads[1]}"
        if k == 1:
            outs = []
            for router in (native, ref):
                try:
                    outs.append((router.apply(cmds[0]), None))
                except pr.RoutingError as e:
                    outs.append((None, type(e)))
        else:
            outs = [_batch_outcome(native, cmds), _batch_outcome(ref, cmds)]
        (ev_n, err_n), (ev_r, err_r) = outs
        assert err_n == err_r, f"{where}native raised {err_n}, reference {err_r}"
        assert ev_n == ev_r, f"{where}events differ:\nnative    {ev_n}\nreference {ev_r}"
        assert ENC.encode(ev_n) == ENC.encode(ev_r), f"{where}events differ in types"
        stream.observe(ev_n)      # offers to answer, answered conversations to transfer
        try:
            assert_same_state(native, ref)
        except AssertionError as e:
            raise AssertionError(f"{where}{e}") from None
        step += k
