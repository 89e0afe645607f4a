"""The benchmark workloads of DESIGN §5, shared by ``pyroute bench`` and ``pytest bench/``.

The state (:func:`build`)
    ``operators`` operators with ``limit`` slots each, split evenly over ``groups`` groups
    (one group each, policy ``even``), ``channels`` channels of distinct priority, no
    overflow rules. With work conservation a conversation only waits where nobody eligible
    has room, so the groups play two parts:

    * *saturated* groups (all but the last ``free_groups``): every operator is full and
      the ``waiting`` conversations sit in their queues, spread evenly over the saturated
      groups and the channels;
    * *free* groups (the last ``free_groups``): operators at 40 % load and no queue. A
      submit there is assigned at once.

The timed operations
    * :class:`SubmitAssign` — a ``submit`` into a free group, which assigns at once. The
      conversation is finished untimed before the next call, so capacity stays the same.
    * :class:`FinishPull` — a ``finish`` of a conversation in a saturated group: the freed
      slot pulls the next waiting conversation. A new conversation is then submitted
      untimed into the queue the pulled one came from, so the queues keep their size.
    * :func:`mixed_stream` — a steady mix of ten commands, repeated: four submits that
      queue (saturated groups), one submit that assigns (free group), three finishes that
      pull, one finish in a free group and one cancel of a waiting conversation. Each
      block of ten works on one saturated and one free group, taking the groups in turn,
      so every group keeps its size however long the stream. Run through the
      Python API (one method call a command) by :func:`time_mixed_api`, and as one
      ``apply_many`` batch of prebuilt ``Command`` structs by :func:`time_mixed_batch`.
    * :class:`HeapqBaseline` — ``heapq.heappush`` / ``heappop`` on a plain list holding as
      many entries as there are waiting conversations: the floor of any queue in Python.

The issue 3 cases (:func:`measure_cases`): the same state and method with one feature
switched on (:class:`Features`), built anew for each:

    * *offers* (:data:`OFFERS`): every group has ``accept_timeout=60``. The conversations
      of the build are accepted as they are offered, so the state is the plain one.
      :class:`OfferSubmit` times a ``submit`` into a free group that is offered at once
      (``Offered``); :class:`OfferAccept` times the ``accept`` (naming the operator) of a
      conversation just offered in a free group. Both accept and finish their
      conversations untimed, so capacity stays the same.
    * *skills* (:data:`SKILLS`): every operator has 8 of the 16 :data:`SKILL_NAMES`, at
      levels 1-5 drawn uniformly. The conversations the build assigns require nothing;
      every other one (the waiting ones of the build, and those the operations submit)
      requires 1 or 2 (even odds) of the skills of one operator of its group drawn at
      random, at a level drawn uniformly from 1 to that operator's, so someone in the
      group can always take it (:meth:`State.requirement`). About 28 % of a group's
      operators can take a given one, so the policy's pick, or the head of a queue, often
      cannot and the engines must look further. :class:`SubmitAssign` and
      :class:`FinishPull` run as in the plain state, with skills; the conversation
      submitted untimed into a queue after a pull requires what the pulled one did, so
      the queues keep their mix.

Every call passes ``now`` explicitly (the clock is never read) and names conversations by
fresh ``str`` objects, as a host decoding requests would (:func:`fresh`): the id maps
hash them and compare them with the stored keys. Latencies are taken per
call with ``time.perf_counter_ns`` around the call alone (the bookkeeping around it is
untimed), less the timer's own overhead (the median of back-to-back readings). Timed
sections run with the garbage collector disabled, as ``timeit`` does, after a collection;
the built state is moved out of the collector's way with ``gc.freeze()``.
"""

from __future__ import annotations

import gc
import heapq
import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Optional

import msgspec

import pyroute as pr
from pyroute import reference

ENGINES: dict[str, Callable[..., Any]] = {"native": pr.Router, "reference": reference.Router}

#: (name, priority, target_wait): the channels of DESIGN §1, most urgent first.
CHANNELS = (
    ("web", 10, 30.0), ("app", 9, 45.0), ("calls", 8, 20.0), ("whatsapp", 6, 120.0),
    ("telegram", 5, 120.0), ("vk", 3, 900.0), ("social", 2, 3600.0), ("email", 0, 14400.0),
)

#: Seconds between two commands of the workload (``now`` only ever moves forward).
TICK = 1e-4


def fresh(rid: str) -> str:
    """An equal but new string: ids reach a router freshly decoded from a request, so
    the id maps must hash them and compare them with the stored keys."""
    return rid[:1] + rid[1:]


class WorkloadError(RuntimeError):
    """The engine did not do what the workload expects (a bug in it or in the workload)."""


class TooSlow(RuntimeError):
    """Building the state took longer than the budget allowed."""


@dataclass(frozen=True)
class Scale:
    """The size of the routing state a workload runs against."""

    operators: int = 10_000
    limit: int = 5
    groups: int = 50
    channels: int = 8
    waiting: int = 200_000
    free_groups: int = 5

    def __post_init__(self) -> None:
        if self.operators % self.groups:
            raise ValueError("operators must split evenly over the groups")
        if not 0 < self.free_groups < self.groups:
            raise ValueError("need at least one free and one saturated group")
        if self.waiting < self.saturated_groups:
            raise ValueError("every saturated group needs at least one waiting conversation")
        if self.limit < 3:
            raise ValueError("limit must be at least 3 (free groups run at 40 % load)")

    @property
    def per_group(self) -> int:
        return self.operators // self.groups

    @property
    def saturated_groups(self) -> int:
        return self.groups - self.free_groups

    def describe(self) -> str:
        return (f"{self.operators:,} operators (limit {self.limit}), {self.groups} groups, "
                f"{self.channels} channels, {self.waiting:,} waiting")


#: DESIGN §5: 10,000 operators (limit 5), 50 groups, 8 channels, 200,000 waiting.
DESIGN_SCALE = Scale()
#: ``pyroute bench --quick``: small enough to finish in a few seconds.
QUICK_SCALE = Scale(operators=1_000, groups=10, waiting=10_000, free_groups=2)


@dataclass(frozen=True)
class Plan:
    """How much to measure. The reference engine gets ``ref_share`` of the calls."""

    warmup: int = 2_000            # untimed calls before each latency measurement
    latency_calls: int = 5_000     # timed calls a round
    latency_rounds: int = 5
    mixed_commands: int = 20_000   # commands a throughput run (capped by the state's size)
    mixed_rounds: int = 5          # after one untimed warm-up run
    ref_share: float = 0.3
    sizes: tuple[int, ...] = (100, 1_000, 10_000, 100_000, 200_000, 1_000_000)
    size_calls: int = 2_000        # timed calls a round in the size sweep
    size_rounds: int = 3
    reference_budget_s: float = 60.0   # longest the reference may take to build a state

    def for_engine(self, engine: str) -> "Plan":
        if engine == "native":
            return self
        s = self.ref_share

        def k(x: int) -> int:
            return max(1, int(x * s))
        return replace(self, warmup=k(self.warmup), latency_calls=k(self.latency_calls),
                       mixed_commands=k(self.mixed_commands), size_calls=k(self.size_calls))


FULL_PLAN = Plan()
QUICK_PLAN = Plan(warmup=500, latency_calls=3_000, latency_rounds=3, mixed_commands=10_000,
                  mixed_rounds=3, ref_share=0.2, sizes=(100, 1_000, 10_000), size_calls=1_000,
                  size_rounds=2, reference_budget_s=20.0)

#: The skills of the *skills* state: languages and product areas.
SKILL_NAMES = ("en", "de", "fr", "es", "it", "pl", "tr", "ru",
               "billing", "refunds", "shipping", "accounts", "tech", "api", "mobile", "sales")


@dataclass(frozen=True)
class Features:
    """What a state switches on over the plain DESIGN §5 one (issue 3 cases)."""

    accept_timeout: Optional[float] = None   # every group offers: Group(accept_timeout=...)
    skills: int = 0                          # skills per operator (of SKILL_NAMES), levels 1-5

    def __post_init__(self) -> None:
        if not 0 <= self.skills <= len(SKILL_NAMES):
            raise ValueError(f"skills per operator must be 0 to {len(SKILL_NAMES)}")


PLAIN = Features()
#: The *offers* state: every group offers, with a minute to accept.
OFFERS = Features(accept_timeout=60.0)
#: The *skills* state: 8 skills per operator; submits require 1 or 2 of them.
SKILLS = Features(skills=8)


# ---------------------------------------------------------------------------------------
# The state


class State:
    """A router of one engine loaded to a :class:`Scale`, and what the workload knows
    about it: which conversations are active where, and the current time."""

    def __init__(self, engine: str, scale: Scale, seed: int = 1,
                 features: Features = PLAIN) -> None:
        self.engine = engine
        self.scale = scale
        self.features = features
        self.rng = random.Random(seed)
        # its own stream, so that the plain state draws exactly what it always did
        self.skill_rng = random.Random(seed + 1_000_003)
        spec = [CHANNELS[i] if i < len(CHANNELS) else (f"ch{i}", 0, 3600.0)
                for i in range(scale.channels)]
        self.channels = [name for name, _, _ in spec]
        self.groups = [f"g{i:02d}" for i in range(scale.groups)]
        self.saturated = self.groups[:scale.saturated_groups]
        self.free = self.groups[scale.saturated_groups:]
        config = pr.RouterConfig(
            channels=[pr.Channel(n, priority=p, target_wait=w) for n, p, w in spec],
            groups=[pr.Group(g, accept_timeout=features.accept_timeout)
                    for g in self.groups])
        self.router = ENGINES[engine](config)
        self.now = 0.0
        self._n = 0
        self.sat_ops: list[str] = []
        self.free_ops: list[str] = []
        self.group_ops: dict[str, list[str]] = {g: [] for g in self.groups}
        # operator -> its (skill, level) pairs (skills state only)
        self.op_skills: dict[str, list[tuple[str, int]]] = {}
        # saturated group -> its active (conversation, operator), in finishing order
        self.sat_active: dict[str, deque] = {g: deque() for g in self.saturated}
        # free group -> its active conversations, oldest first
        self.free_active: dict[str, deque] = {g: deque() for g in self.free}
        self.stale = False      # a mixed run changed the state behind the pools' back
        self.memory_before = 0
        self.memory_after = 0
        self.build_s = 0.0

    def new_id(self) -> str:
        self._n += 1
        return f"c{self._n}"

    def new_ids(self, n: int) -> list[str]:
        k = self._n
        self._n += n
        return [f"c{i}" for i in range(k + 1, k + n + 1)]

    def tick(self) -> float:
        self.now += TICK
        return self.now

    def operator_skills(self, op: str) -> Optional[dict[str, int]]:
        """Draw ``op``'s skills (skills state; None otherwise) and remember them."""
        k = self.features.skills
        if not k:
            return None
        rng = self.skill_rng
        pairs = [(name, rng.randint(1, 5)) for name in rng.sample(SKILL_NAMES, k)]
        self.op_skills[op] = pairs
        return dict(pairs)

    def requirement(self, group: str) -> dict[str, int]:
        """Skills for a conversation of ``group``: 1 or 2 of a random member's skills, at a
        level from 1 to the member's, so someone in the group can take it."""
        rng = self.skill_rng
        have = self.op_skills[rng.choice(self.group_ops[group])]
        return {name: rng.randint(1, level)
                for name, level in rng.sample(have, 1 + (rng.random() < 0.5))}

    def times(self, n: int) -> list[float]:
        t0 = self.now
        self.now = t0 + n * TICK
        return [t0 + (i + 1) * TICK for i in range(n)]

    def memory(self) -> Optional[int]:
        mem = getattr(self.router, "memory", None)
        return mem() if mem is not None else None

    def waiting(self) -> int:
        return self.router.stats(now=self.now).total.waiting

    def refresh(self) -> None:
        """Re-read which conversations are active (after a mixed run), from the views."""
        r = self.router
        per = self.scale.per_group
        sat: dict[str, list] = {g: [] for g in self.saturated}
        for i, op in enumerate(self.sat_ops):
            sat[self.saturated[i // per]] += [(rid, op) for rid in r.operator(op).active]
        for g, items in sat.items():
            self.rng.shuffle(items)
            self.sat_active[g] = deque(items)
        free: dict[str, list] = {g: [] for g in self.free}
        for i, op in enumerate(self.free_ops):
            free[self.free[i // per]] += r.operator(op).active
        for g, rids in free.items():
            self.free_active[g] = deque(rids)
        self.stale = False

    def queued_tail(self, group: str, n: int) -> list[str]:
        """Up to ``n`` conversations waiting in ``group``, the last to be served first."""
        r = self.router
        picked: list[str] = []
        if n <= 0:
            return picked
        for ch in reversed(self.channels):
            picked += reversed(r.queue(group, ch)[-(n - len(picked)):])
            if len(picked) >= n:
                break
        return picked


def build(engine: str, scale: Scale = DESIGN_SCALE, budget_s: Optional[float] = None,
          seed: int = 1, features: Features = PLAIN) -> State:
    """Build the benchmark state (see the module docstring) on ``engine``, with
    ``features`` switched on: with offers, the build accepts each conversation as it is
    offered; with skills, the waiting conversations require skills.

    Raises :class:`TooSlow` once building has taken more than ``budget_s`` seconds.
    """
    t_start = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        st = State(engine, scale, seed, features)
        r = st.router
        submit = r.submit
        accept = r.accept
        offers = features.accept_timeout is not None
        skilled = features.skills > 0
        per = scale.per_group
        C = len(st.channels)

        def over_budget(done: int, total: int) -> None:
            spent = time.perf_counter() - t_start
            if budget_s is not None and spent > budget_s:
                raise TooSlow(f"{engine}: building {scale.describe()} took over "
                              f"{budget_s:.0f} s ({done:,} of {total:,} conversations "
                              f"after {spent:.0f} s)")

        for i in range(scale.operators):
            g = st.groups[i // per]
            op = f"op{i:05d}"
            if skilled:
                r.add_operator(op, [g], scale.limit, "online", now=st.now,
                               skills=st.operator_skills(op))
            else:
                r.add_operator(op, [g], scale.limit, "online", now=st.now)
            (st.sat_ops if g in st.saturated else st.free_ops).append(op)
            st.group_ops[g].append(op)
        # fill the saturated groups, then 40 % of the free ones: all assigned at once
        preload = [(g, per * scale.limit) for g in st.saturated]
        preload += [(g, per * (scale.limit * 2 // 5)) for g in st.free]
        total = sum(n for _, n in preload) + scale.waiting
        done = 0
        for g, n in preload:
            for k in range(n):
                rid = st.new_id()
                ev = submit(rid, st.channels[k % C], g, 0, None, st.tick())
                if offers:
                    if ev[-1].__class__ is not pr.Offered:
                        raise WorkloadError(f"preloading {g}: {rid} was not offered: {ev}")
                    ev = accept(rid, None, st.tick())
                    if ev[-1].__class__ is not pr.Accepted:
                        raise WorkloadError(f"preloading {g}: {rid} was not accepted: {ev}")
                elif ev[-1].__class__ is not pr.Assigned:
                    raise WorkloadError(f"preloading {g}: {rid} was not assigned: {ev}")
            done += n
            over_budget(done, total)
        st.memory_before = st.memory() or 0
        S = len(st.saturated)
        for i in range(scale.waiting):
            g = st.saturated[i % S]
            ev = submit(st.new_id(), st.channels[(i // S) % C], g, 0, None, st.tick(),
                        st.requirement(g) if skilled else None)
            if ev[-1].__class__ is not pr.Queued:
                raise WorkloadError(f"a conversation of a saturated group was not queued: {ev}")
            if i & 4095 == 4095:
                over_budget(done + i, total)
        st.memory_after = st.memory() or 0
        st.refresh()
    finally:
        gc.collect()
        if gc_was:
            gc.enable()
    gc.freeze()
    st.build_s = time.perf_counter() - t_start
    return st


def release(st: State) -> None:
    """Drop a state and give its objects back to the garbage collector."""
    st.router = None
    st.sat_active.clear()
    st.free_active.clear()
    gc.unfreeze()
    gc.collect()


# ---------------------------------------------------------------------------------------
# Per-call operations: ``prepare()`` (untimed) returns the arguments of ``call`` (timed)


class SubmitAssign:
    """``submit`` into a free group: assigned at once. The previous call's conversation is
    finished in ``prepare`` (untimed) — which also checks it was assigned, since finishing
    a queued conversation raises ``InvalidState``. In the skills state the conversation
    requires skills (:meth:`State.requirement`), passed as a fresh dict."""

    name = "submit_assign"

    def __init__(self, st: State) -> None:
        self.st = st
        self.call = st.router.submit
        self._finish = st.router.finish
        self._prev: Optional[str] = None
        self._i = 0

    def prepare(self) -> tuple:
        st = self.st
        t = st.tick()
        if self._prev is not None:
            self._finish(self._prev, t)
        self._i += 1
        i = self._i
        rid = self._prev = st.new_id()
        g = st.free[i % len(st.free)]
        if st.features.skills:
            return (rid, st.channels[i % len(st.channels)], g, 0, None, t, st.requirement(g))
        return (rid, st.channels[i % len(st.channels)], g, 0, None, t)

    def settle(self) -> None:
        if self._prev is not None:
            self._finish(self._prev, self.st.tick())
            self._prev = None


class FinishPull:
    """``finish`` of an active conversation in a saturated group (the groups in turn): the
    slot pulls the next waiting one. ``prepare`` (untimed) checks the previous call pulled
    (the operator is full again), submits a new conversation into the queue the pulled one
    came from — requiring the skills it required, so the queues keep their mix — and keeps
    the pulled one to finish later."""

    name = "finish_pull"

    def __init__(self, st: State) -> None:
        if st.stale:
            st.refresh()
        self.st = st
        self.call = st.router.finish
        self._prev: Optional[tuple] = None
        self._k = 0

    def prepare(self) -> tuple:
        self.settle()
        st = self.st
        g = st.saturated[self._k % len(st.saturated)]
        self._k += 1
        rid, op = st.sat_active[g].popleft()
        self._prev = (op, g)
        return (fresh(rid), st.tick())

    def settle(self) -> None:
        if self._prev is None:
            return
        st = self.st
        r = st.router
        op, g = self._prev
        self._prev = None
        view = r.operator(op)
        if view.load != view.limit:
            hint = ("; with skills, a group needs enough waiting conversations for each of "
                    "its operators to have one it may take: use a larger scale"
                    if st.features.skills else "")
            raise WorkloadError(f"finish in {g} did not pull a waiting conversation{hint}")
        pulled = view.active[-1]
        req = r.request(pulled)
        ev = r.submit(st.new_id(), req.channel, g, 0, None, st.tick(), req.skills or None)
        if ev[-1].__class__ is not pr.Queued:
            raise WorkloadError(f"a resubmit into saturated {g} was not queued: {ev}")
        st.sat_active[g].append((pulled, op))


class OfferSubmit:
    """Offers state: ``submit`` into a free group, offered at once (``Offered``). The
    previous call's conversation is accepted and finished in ``prepare`` (untimed) — which
    checks it was offered, since accepting anything else raises ``InvalidState``."""

    name = "offer_submit"

    def __init__(self, st: State) -> None:
        if st.features.accept_timeout is None:
            raise WorkloadError("OfferSubmit needs a state whose groups offer")
        self.st = st
        self.call = st.router.submit
        self._accept = st.router.accept
        self._finish = st.router.finish
        self._prev: Optional[str] = None
        self._i = 0

    def prepare(self) -> tuple:
        st = self.st
        self.settle()
        self._i += 1
        i = self._i
        rid = self._prev = st.new_id()
        return (rid, st.channels[i % len(st.channels)], st.free[i % len(st.free)], 0, None,
                st.tick())

    def settle(self) -> None:
        if self._prev is not None:
            self._accept(self._prev, None, self.st.tick())
            self._finish(self._prev, self.st.tick())
            self._prev = None


class OfferAccept:
    """Offers state: ``accept(request, operator)`` of a conversation offered in a free
    group. ``prepare`` (untimed) finishes the previous one — which checks it was accepted,
    since finishing anything but an active conversation raises ``InvalidState`` — then
    submits a new one, checks it was offered, and passes the operator it went to."""

    name = "offer_accept"

    def __init__(self, st: State) -> None:
        if st.features.accept_timeout is None:
            raise WorkloadError("OfferAccept needs a state whose groups offer")
        self.st = st
        self.call = st.router.accept
        self._submit = st.router.submit
        self._finish = st.router.finish
        self._prev: Optional[str] = None
        self._i = 0

    def prepare(self) -> tuple:
        st = self.st
        self.settle()
        self._i += 1
        i = self._i
        rid = self._prev = st.new_id()
        ev = self._submit(rid, st.channels[i % len(st.channels)], st.free[i % len(st.free)],
                          0, None, st.tick())
        offer = ev[-1]
        if offer.__class__ is not pr.Offered:
            raise WorkloadError(f"a submit into a free group was not offered: {ev}")
        return (fresh(rid), fresh(offer.operator), st.tick())

    def settle(self) -> None:
        if self._prev is not None:
            self._finish(self._prev, self.st.tick())
            self._prev = None


class HeapqBaseline:
    """``heapq.heappush`` then ``heappop`` on a list of ``size`` (key, seq, id) entries:
    what a bare priority queue costs in Python, with no routing at all."""

    name = "heapq"

    def __init__(self, size: int) -> None:
        self.heap = [(0.0, i, f"c{i}") for i in range(size)]
        heapq.heapify(self.heap)
        self.seq = size
        self.push = heapq.heappush
        self.pop = heapq.heappop

    def item(self) -> tuple:
        self.seq += 1
        return (0.0, self.seq, f"c{self.seq}")


class DictBaseline:
    """A plain ``dict`` of ``size`` str ids, probed with fresh str objects (as a host passes
    ids it has just decoded): the id lookup every routing call makes, and nothing else.
    At the DESIGN scale the router's id map holds every live and kept conversation, so
    this is the floor under each ``submit``, ``finish`` and ``cancel``."""

    name = "dict"

    def __init__(self, size: int, seed: int = 7) -> None:
        self.size = size
        self.map = {f"bench-{i:09d}": i for i in range(size)}
        self.rng = random.Random(seed)

    def existing(self, n: int) -> list[str]:
        return [f"bench-{self.rng.randrange(self.size):09d}" for _ in range(n)]

    def missing(self, n: int) -> list[str]:
        return [f"new-{self.rng.randrange(10**9):09d}" for _ in range(n)]


# ---------------------------------------------------------------------------------------
# The mixed stream

#: One block of the mix: S submit that queues, s submit that assigns, F finish that
#: pulls, f finish in a free group, X cancel of a waiting conversation. Block b works on
#: the saturated groups and the free groups in turn: +4 -3 -1 waiting in its saturated
#: group, +1 -1 active in its free group, so every group keeps its size.
PATTERN = "SsFSXFSfFS"


def mixed_capacity(st: State) -> int:
    """The longest mixed stream the state can take before :meth:`State.refresh`."""
    if st.stale:
        st.refresh()
    stats = st.router.stats(now=st.now).groups
    blocks = min(min(len(st.sat_active[g]) // PATTERN.count("F"),
                     stats[g].waiting // PATTERN.count("X")) for g in st.saturated)
    return blocks * len(st.saturated) * len(PATTERN)


def mixed_stream(st: State, n: int) -> list[tuple[str, tuple]]:
    """``n`` commands of the steady mix, as (method name, positional args).

    Finishes take conversations active when the stream is made, cancels take waiting ones:
    the two sets are disjoint, so every command is valid whatever the engine pulls. The
    state is marked stale: the next operation re-reads it.
    """
    if n > mixed_capacity(st):
        raise ValueError(f"a mixed stream of {n} commands needs more active and waiting "
                         f"conversations than the state has (at most {mixed_capacity(st)})")
    L = len(PATTERN)
    S, F, C = st.saturated, st.free, st.channels
    blocks = -(-n // L)
    x = PATTERN.count("X")
    cancels = {g: deque(st.queued_tail(g, -(-blocks // len(S)) * x)) for g in S}
    sat, free = st.sat_active, st.free_active
    out: list[tuple[str, tuple]] = []
    ids = st.new_ids(n)
    times = st.times(n)
    for i in range(n):
        kind = PATTERN[i % L]
        b = i // L
        t = times[i]
        if kind == "S":
            out.append(("submit", (ids[i], C[i % len(C)], S[b % len(S)], 0, None, t)))
        elif kind == "s":
            g = F[b % len(F)]
            out.append(("submit", (ids[i], C[b % len(C)], g, 0, None, t)))
            free[g].append(ids[i])
        elif kind == "F":
            out.append(("finish", (fresh(sat[S[b % len(S)]].popleft()[0]), t)))
        elif kind == "f":
            out.append(("finish", (fresh(free[F[b % len(F)]].popleft()), t)))
        else:
            out.append(("cancel", (fresh(cancels[S[b % len(S)]].popleft()), t)))
    st.stale = True
    return out


def as_calls(st: State, stream: list[tuple[str, tuple]]) -> list[tuple[Callable, tuple]]:
    r = st.router
    methods = {"submit": r.submit, "finish": r.finish, "cancel": r.cancel}
    return [(methods[name], args) for name, args in stream]


def as_commands(stream: list[tuple[str, tuple]]) -> list[pr.Command]:
    out: list[pr.Command] = []
    for name, a in stream:
        if name == "submit":
            out.append(pr.Submit(request=a[0], channel=a[1], group=a[2], priority=a[3],
                                 visitor=a[4], now=a[5]))
        elif name == "finish":
            out.append(pr.Finish(request=a[0], now=a[1]))
        else:
            out.append(pr.Cancel(request=a[0], now=a[1]))
    return out


# ---------------------------------------------------------------------------------------
# Timing


def timer_overhead_ns(n: int = 20_000) -> int:
    """The median cost of two back-to-back ``perf_counter_ns`` readings."""
    pc = time.perf_counter_ns
    d = [0] * n
    for i in range(n):
        t0 = pc()
        t1 = pc()
        d[i] = t1 - t0
    d.sort()
    return d[n // 2]


class _NoGC:
    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.collect()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def time_calls(op: Any, n: int) -> list[int]:
    """Time ``n`` calls of ``op.call(*op.prepare())``, one by one; raw nanoseconds."""
    prepare = op.prepare
    call = op.call
    pc = time.perf_counter_ns
    out = [0] * n
    with _NoGC():
        for i in range(n):
            args = prepare()
            t0 = pc()
            call(*args)
            t1 = pc()
            out[i] = t1 - t0
    op.settle()
    return out


def time_heapq(base: HeapqBaseline, n: int) -> tuple[list[int], list[int]]:
    """Time ``n`` pushes and ``n`` pops (alternating, so the heap keeps its size)."""
    push, pop, heap, item = base.push, base.pop, base.heap, base.item
    pc = time.perf_counter_ns
    pushes = [0] * n
    pops = [0] * n
    with _NoGC():
        for i in range(n):
            x = item()
            t0 = pc()
            push(heap, x)
            t1 = pc()
            pop(heap)
            t2 = pc()
            pushes[i] = t1 - t0
            pops[i] = t2 - t1
    return pushes, pops


def time_dict(base: DictBaseline, n: int) -> tuple[list[int], list[int]]:
    """Time ``n`` lookups of present ids and ``n`` of absent ids (fresh str objects)."""
    get, found, absent = base.map.get, base.existing(n), base.missing(n)
    pc = time.perf_counter_ns
    hits = [0] * n
    misses = [0] * n
    with _NoGC():
        for i in range(n):
            k = found[i]
            t0 = pc()
            get(k)
            t1 = pc()
            hits[i] = t1 - t0
        for i in range(n):
            k = absent[i]
            t0 = pc()
            get(k)
            t1 = pc()
            misses[i] = t1 - t0
    return hits, misses


def time_mixed_api(st: State, n: int) -> float:
    """Seconds to run ``n`` mixed commands as method calls (one loop, prebuilt args)."""
    calls = as_calls(st, mixed_stream(st, n))
    pc = time.perf_counter_ns
    with _NoGC():
        t0 = pc()
        for f, a in calls:
            f(*a)
        t1 = pc()
    return (t1 - t0) / 1e9


def time_mixed_batch(st: State, n: int) -> float:
    """Seconds for one ``apply_many`` of ``n`` prebuilt mixed Command structs."""
    cmds = as_commands(mixed_stream(st, n))
    apply_many = st.router.apply_many
    pc = time.perf_counter_ns
    with _NoGC():
        t0 = pc()
        apply_many(cmds)
        t1 = pc()
    return (t1 - t0) / 1e9


def summarize(samples: list[int], overhead: int) -> dict[str, Any]:
    """Median, p99 (nearest rank), mean and max in nanoseconds, timer overhead removed."""
    s = sorted(x - overhead for x in samples)
    n = len(s)
    return {
        "median_ns": float(s[(n - 1) // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2),
        "p99_ns": float(s[max(0, math.ceil(0.99 * n) - 1)]),
        "mean_ns": sum(s) / n,
        "max_ns": float(s[-1]),
        "n": n,
    }


def latency(op: Any, plan: Plan, overhead: int, calls: Optional[int] = None,
            rounds: Optional[int] = None) -> dict[str, Any]:
    """Warm up, then time ``rounds`` rounds of ``calls`` calls; pooled median and p99."""
    calls = calls or plan.latency_calls
    rounds = rounds or plan.latency_rounds
    time_calls(op, plan.warmup)
    samples: list[int] = []
    medians = []
    for _ in range(rounds):
        got = time_calls(op, calls)
        samples += got
        medians.append(summarize(got, overhead)["median_ns"])
    out = summarize(samples, overhead)
    out["round_medians_ns"] = medians
    return out


def throughput(st: State, timer: Callable[[State, int], float], plan: Plan) -> dict[str, Any]:
    """Commands per second over ``mixed_rounds`` runs (after an untimed one)."""
    n = min(plan.mixed_commands, mixed_capacity(st))
    timer(st, n)
    rates = sorted(n / timer(st, n) for _ in range(plan.mixed_rounds))
    return {"ops_per_s": rates[(len(rates) - 1) // 2], "min_ops_per_s": rates[0],
            "max_ops_per_s": rates[-1], "commands": n, "runs": len(rates)}


def measure_engine(engine: str, scale: Scale, plan: Plan, overhead: int,
                   budget_s: Optional[float] = None,
                   progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every figure of DESIGN §5 for one engine at one scale."""
    plan = plan.for_engine(engine)
    progress(f"{engine}: building {scale.describe()}")
    st = build(engine, scale, budget_s)
    try:
        res: dict[str, Any] = {"engine": engine, "scale": asdict(scale),
                               "build_s": st.build_s}
        waiting = st.waiting()
        if waiting != scale.waiting:
            raise WorkloadError(f"{waiting} waiting after the build, not {scale.waiting}")
        progress(f"{engine}: submit that assigns")
        res["submit_assign"] = latency(SubmitAssign(st), plan, overhead)
        progress(f"{engine}: finish that pulls")
        res["finish_pull"] = latency(FinishPull(st), plan, overhead)
        progress(f"{engine}: mixed commands through the Python API")
        res["mixed_api"] = throughput(st, time_mixed_api, plan)
        progress(f"{engine}: mixed commands through apply_many")
        res["mixed_batch"] = throughput(st, time_mixed_batch, plan)
        st.refresh()
        waiting = st.waiting()
        if waiting != scale.waiting:
            raise WorkloadError(f"the workload let the queues drift: {waiting} waiting, "
                                f"not {scale.waiting}")
        res["memory"] = memory_figures(st)
        return res
    finally:
        release(st)


def memory_figures(st: State) -> dict[str, Any]:
    mem = st.memory()
    if mem is None:
        return {"bytes_total": None, "bytes_per_waiting": None}
    return {"bytes_total": mem,
            "bytes_waiting": st.memory_after - st.memory_before,
            "bytes_per_waiting": (st.memory_after - st.memory_before) / st.scale.waiting}


def measure_size(engine: str, scale: Scale, plan: Plan, overhead: int,
                 budget_s: Optional[float] = None) -> dict[str, Any]:
    """The lighter figures of the size sweep: submit and finish latency, memory."""
    plan = plan.for_engine(engine)
    st = build(engine, scale, budget_s)
    try:
        return {
            "build_s": st.build_s,
            "submit_assign": latency(SubmitAssign(st), plan, overhead, plan.size_calls,
                                     plan.size_rounds),
            "finish_pull": latency(FinishPull(st), plan, overhead, plan.size_calls,
                                   plan.size_rounds),
            "memory": memory_figures(st),
        }
    finally:
        release(st)


#: The issue 3 cases: (state label, its features, ((figure key, operation), ...)).
CASES: tuple[tuple[str, Features, tuple[tuple[str, type], ...]], ...] = (
    ("offers", OFFERS, (("offer_submit", OfferSubmit), ("offer_accept", OfferAccept))),
    ("skills", SKILLS, (("skills_submit_assign", SubmitAssign),
                        ("skills_finish_pull", FinishPull))),
)
CASE_KEYS = tuple(key for _, _, ops in CASES for key, _ in ops)


def measure_cases(engine: str, scale: Scale, plan: Plan, overhead: int,
                  budget_s: Optional[float] = None,
                  progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """The issue 3 cases for one engine: each state of :data:`CASES` built at ``scale``
    (``budget_s`` for each build) and its operations timed as the plain ones are."""
    plan = plan.for_engine(engine)
    res: dict[str, Any] = {"engine": engine, "scale": asdict(scale), "build_s": {}}
    for label, features, ops in CASES:
        progress(f"{engine}: building {scale.describe()}, {label}")
        st = build(engine, scale, budget_s, features=features)
        try:
            res["build_s"][label] = st.build_s
            for key, op in ops:
                progress(f"{engine}, {label}: {op.name.replace('_', ' ')}")
                res[key] = latency(op(st), plan, overhead)
            waiting = st.waiting()
            if waiting != scale.waiting:
                raise WorkloadError(f"{label}: the workload let the queues drift: {waiting} "
                                    f"waiting, not {scale.waiting}")
        finally:
            release(st)
    return res


def case_ratios(native: dict[str, Any], ref: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Reference median / native median for each issue 3 case."""
    out = {}
    for key in CASE_KEYS:
        n, r = native[key]["median_ns"], ref[key]["median_ns"]
        out[key] = {"native": n, "reference": r, "ratio": r / n if n > 0 else math.inf}
    return out


def run_cases(suite: "Suite", overhead: int,
              progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """The issue 3 cases for every engine of the suite, at the suite's scale (both engines
    at a tenth of the waiting conversations if the reference cannot build the full state
    within its budget, as for the plain figures)."""
    plan, scale = suite.plan, suite.scale
    res: dict[str, Any] = {
        "scale": asdict(scale), "accept_timeout": OFFERS.accept_timeout,
        "skills_per_operator": SKILLS.skills, "skill_names": len(SKILL_NAMES),
        "engines": {"native": measure_cases("native", scale, plan, overhead,
                                            progress=progress)},
        "notes": [],
    }
    if "reference" in suite.engines:
        try:
            ref = measure_cases("reference", scale, plan, overhead, plan.reference_budget_s,
                                progress)
            res["ratio_scale"] = asdict(scale)
            res["engines"]["reference"] = ref
            res["ratios"] = case_ratios(res["engines"]["native"], ref)
        except TooSlow as exc:
            small = replace(scale, waiting=max(scale.saturated_groups, scale.waiting // 10))
            res["notes"].append(
                f"Issue 3 cases: the reference engine was too slow to build the full state "
                f"({exc}); it ran at {small.describe()}, and so did the native engine for "
                f"the ratios.")
            ref = measure_cases("reference", small, plan, overhead, None, progress)
            nat = measure_cases("native", small, plan, overhead, None, progress)
            res["ratio_scale"] = asdict(small)
            res["engines"]["reference"] = ref
            res["engines"]["native_at_ratio_scale"] = nat
            res["ratios"] = case_ratios(nat, ref)
    return res


def measure_heapq(size: int, plan: Plan, overhead: int) -> dict[str, Any]:
    base = HeapqBaseline(size)
    time_heapq(base, plan.warmup)
    pushes: list[int] = []
    pops: list[int] = []
    for _ in range(plan.latency_rounds):
        a, b = time_heapq(base, plan.latency_calls)
        pushes += a
        pops += b
    return {"size": size, "push": summarize(pushes, overhead), "pop": summarize(pops, overhead)}


def measure_dict(size: int, plan: Plan, overhead: int) -> dict[str, Any]:
    base = DictBaseline(size)
    time_dict(base, plan.warmup)
    hits: list[int] = []
    misses: list[int] = []
    for _ in range(plan.latency_rounds):
        a, b = time_dict(base, plan.latency_calls)
        hits += a
        misses += b
    return {"size": size, "hit": summarize(hits, overhead), "miss": summarize(misses, overhead)}


# ---------------------------------------------------------------------------------------
# The whole run


@dataclass
class Suite:
    """What :func:`run` measures, and at which scale."""

    scale: Scale = DESIGN_SCALE
    plan: Plan = FULL_PLAN
    engines: tuple[str, ...] = ("native", "reference")
    sweep: bool = True
    cases: bool = True      # the issue 3 cases (offers, skills)
    notes: list[str] = field(default_factory=list)


def ratios(native: dict[str, Any], ref: dict[str, Any]) -> dict[str, dict[str, float]]:
    """How many times the native engine beats the reference, figure by figure."""
    out = {}
    for key in ("submit_assign", "finish_pull"):
        n, r = native[key]["median_ns"], ref[key]["median_ns"]
        out[key] = {"native": n, "reference": r, "ratio": r / n if n > 0 else math.inf}
    for key in ("mixed_api", "mixed_batch"):
        n, r = native[key]["ops_per_s"], ref[key]["ops_per_s"]
        out[key] = {"native": n, "reference": r, "ratio": n / r if r > 0 else math.inf}
    return out


def run(suite: Suite, progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the suite; return every figure as plain data (JSON-ready)."""
    t_start = time.perf_counter()
    plan, scale = suite.plan, suite.scale
    overhead = timer_overhead_ns()
    res: dict[str, Any] = {
        "scale": asdict(scale), "plan": asdict(plan), "timer_overhead_ns": overhead,
        "engines": {}, "notes": list(suite.notes),
    }
    res["engines"]["native"] = measure_engine("native", scale, plan, overhead,
                                              progress=progress)
    if "reference" in suite.engines:
        try:
            ref = measure_engine("reference", scale, plan, overhead, plan.reference_budget_s,
                                 progress)
            res["ratio_scale"] = asdict(scale)
            res["engines"]["reference"] = ref
            res["ratios"] = ratios(res["engines"]["native"], ref)
        except TooSlow as exc:
            small = replace(scale, waiting=max(scale.saturated_groups, scale.waiting // 10))
            res["notes"].append(
                f"The reference engine was too slow to build the full state ({exc}); it "
                f"ran at {small.describe()}, and so did the native engine for the ratios.")
            progress(f"reference too slow at full scale: ratios at {small.waiting:,} waiting")
            ref = measure_engine("reference", small, plan, overhead, None, progress)
            nat = measure_engine("native", small, plan, overhead, None, progress)
            res["ratio_scale"] = asdict(small)
            res["engines"]["reference"] = ref
            res["engines"]["native_at_ratio_scale"] = nat
            res["ratios"] = ratios(nat, ref)
    if suite.cases:
        res["offers_skills"] = cases = run_cases(suite, overhead, progress)
        res["notes"] += cases["notes"]
    if suite.cases:
        from . import journalbench
        progress("durability: building the native state")
        jst = build("native", scale)
        try:
            res["durability"] = journalbench.run(jst, plan, suite.scale is QUICK_SCALE,
                                                 progress)
        finally:
            release(jst)
            del jst
            gc.unfreeze()
            gc.collect()
    if suite.cases and suite.scale is not QUICK_SCALE:
        # servers in their own processes (redis-server, pyroute serve, workers): full runs
        from . import redisbench, servicebench
        res["redis"] = redisbench.run(False, progress)
        res["service"] = servicebench.run(False, progress)
    elif suite.cases:
        res["notes"].append("--quick leaves out the Redis and service load figures "
                            "(separate server processes); a full run measures them.")
    if suite.cases:
        from . import simbench
        res["simulator"] = simbench.run(suite.scale is QUICK_SCALE, progress)
        res["notes"] += res["simulator"]["notes"]
    progress(f"heapq baseline at {scale.waiting:,} entries")
    res["heapq"] = measure_heapq(scale.waiting, plan, overhead)
    # as many ids as the native router maps at this scale: waiting, active, and the
    # ended conversations it keeps in history (RouterConfig.history, by default)
    history = next(f.default for f in msgspec.structs.fields(pr.RouterConfig)
                   if f.name == "history")
    size = scale.waiting + scale.operators * scale.limit + history
    progress(f"dict baseline at {size:,} ids")
    res["dict"] = measure_dict(size, plan, overhead)
    res["sizes"] = []
    if suite.sweep:
        for size in plan.sizes:
            row: dict[str, Any] = {"waiting": size}
            sized = replace(scale, waiting=max(size, scale.saturated_groups))
            for engine in suite.engines:
                main = res["engines"].get(engine)
                if size == scale.waiting and main is not None:
                    row[engine] = {k: main[k] for k in
                                   ("build_s", "submit_assign", "finish_pull", "memory")}
                    continue
                progress(f"size sweep: {engine} at {size:,} waiting")
                try:
                    row[engine] = measure_size(engine, sized, plan, overhead,
                                               plan.reference_budget_s
                                               if engine == "reference" else None)
                except TooSlow as exc:
                    row[engine] = {"skipped": str(exc)}
            res["sizes"].append(row)
    res["elapsed_s"] = time.perf_counter() - t_start
    return res
