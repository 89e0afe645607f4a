"""The benchmark workloads of DESIGN §5, shared by ``pyroute bench`` and ``pytest bench/``.

What is measured lives here: the state, the timed operations, the mixed stream and the
timers. How a suite is run — latency rounds, throughput runs, the engines, the size sweep,
the durability, Redis, service and simulator figures — lives in :mod:`.runner`, which
imports this module; this module imports neither the runner nor :mod:`.report`.

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

The issue 3 cases (:data:`CASES`, run by :func:`.runner.measure_cases`): the same state
and method with one feature switched on (:class:`Features`), built anew for each:

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
import random
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

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


def fresh(rid: Any) -> Any:
    """An equal but new string: ids reach a router freshly decoded from a request, so
    the id maps must hash them and compare them with the stored keys. An int id (a state
    built with ``int_ids``, for packed batches) is returned as it is."""
    if type(rid) is int:
        return rid
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
                 features: Features = PLAIN, int_ids: bool = False) -> None:
        self.engine = engine
        self.int_ids = int_ids    # conversations and operators named by ints, not strs
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

    def new_id(self) -> Any:
        self._n += 1
        return self._n if self.int_ids else f"c{self._n}"

    def new_ids(self, n: int) -> list[Any]:
        k = self._n
        self._n += n
        if self.int_ids:
            return list(range(k + 1, k + n + 1))
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
          seed: int = 1, features: Features = PLAIN, int_ids: bool = False) -> State:
    """Build the benchmark state (see the module docstring) on ``engine``, with
    ``features`` switched on: with offers, the build accepts each conversation as it is
    offered; with skills, the waiting conversations require skills. ``int_ids``: the
    conversations and operators are named by ints (operator ``i`` is ``1_000_000 + i``),
    as packed batches name them.

    Raises :class:`TooSlow` once building has taken more than ``budget_s`` seconds.
    """
    t_start = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        st = State(engine, scale, seed, features, int_ids)
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
            op: Any = 1_000_000 + i if int_ids else f"op{i:05d}"
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


#: The issue 3 cases: (state label, its features, ((figure key, operation), ...)).
CASES: tuple[tuple[str, Features, tuple[tuple[str, type], ...]], ...] = (
    ("offers", OFFERS, (("offer_submit", OfferSubmit), ("offer_accept", OfferAccept))),
    ("skills", SKILLS, (("skills_submit_assign", SubmitAssign),
                        ("skills_finish_pull", FinishPull))),
)
CASE_KEYS = tuple(key for _, _, ops in CASES for key, _ in ops)


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
