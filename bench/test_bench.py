"""pytest-benchmark suites over the workloads of ``pyroute bench``, at a modest scale.

Run with ``pytest bench/`` (they are not part of the default ``tests/`` run); compare runs
with ``pytest bench/ --benchmark-autosave`` and ``--benchmark-compare``. The state, the
timed operations and the untimed bookkeeping around them are those of
:mod:`pyroute.bench.workloads`; each latency round times one call (``pedantic`` with a
setup that prepares the next one), so the figures are per call, like the CLI's — but
they include pytest-benchmark's own overhead per round (a few hundred ns), which the CLI
subtracts. Compare figures within this suite; for the DESIGN §5 scale and its targets run
``pyroute bench``.

The issue 3 cases run on their own states (every group offering; 8 skills per operator),
built like the plain one; see :mod:`pyroute.bench.workloads`.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterator

import pytest

from . import workloads as w

#: A fifth of the DESIGN §5 state: quick to build for both engines.
SCALE = w.Scale(operators=2_000, groups=20, channels=8, waiting=40_000, free_groups=2)
LATENCY_ROUNDS = {"native": 5_000, "reference": 1_000}
BATCH = 5_000


@pytest.fixture(scope="module", params=sorted(w.ENGINES))
def state(request: pytest.FixtureRequest) -> Iterator[w.State]:
    st = w.build(request.param, SCALE)
    yield st
    w.release(st)


@pytest.fixture(scope="module", params=sorted(w.ENGINES))
def offers_state(request: pytest.FixtureRequest) -> Iterator[w.State]:
    st = w.build(request.param, SCALE, features=w.OFFERS)
    yield st
    w.release(st)


@pytest.fixture(scope="module", params=sorted(w.ENGINES))
def skills_state(request: pytest.FixtureRequest) -> Iterator[w.State]:
    st = w.build(request.param, SCALE, features=w.SKILLS)
    yield st
    w.release(st)


def _per_call(benchmark: Any, op: Any, rounds: int) -> None:
    benchmark.pedantic(op.call, setup=lambda: (op.prepare(), {}), rounds=rounds,
                       warmup_rounds=rounds // 10)
    op.settle()


def test_submit_assign(benchmark: Any, state: w.State) -> None:
    benchmark.group = "submit that assigns"
    benchmark.extra_info.update(engine=state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.SubmitAssign(state), LATENCY_ROUNDS[state.engine])


def test_finish_pull(benchmark: Any, state: w.State) -> None:
    benchmark.group = "finish that pulls the next"
    benchmark.extra_info.update(engine=state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.FinishPull(state), LATENCY_ROUNDS[state.engine])
    assert state.waiting() == SCALE.waiting


def test_mixed_api(benchmark: Any, state: w.State) -> None:
    benchmark.group = f"mixed: {BATCH} commands, Python API"
    benchmark.extra_info.update(engine=state.engine, commands=BATCH)

    def run(calls: list) -> None:
        for f, a in calls:
            f(*a)

    benchmark.pedantic(run, setup=lambda: ((w.as_calls(state, w.mixed_stream(state, BATCH)),),
                                           {}), rounds=10, warmup_rounds=1)
    state.refresh()
    assert state.waiting() == SCALE.waiting


def test_apply_many(benchmark: Any, state: w.State) -> None:
    benchmark.group = f"mixed: {BATCH} commands, one apply_many"
    benchmark.extra_info.update(engine=state.engine, commands=BATCH)
    benchmark.pedantic(state.router.apply_many,
                       setup=lambda: ((w.as_commands(w.mixed_stream(state, BATCH)),), {}),
                       rounds=10, warmup_rounds=1)
    state.refresh()
    assert state.waiting() == SCALE.waiting


def test_offer_submit(benchmark: Any, offers_state: w.State) -> None:
    benchmark.group = "offers: submit, offered at once"
    benchmark.extra_info.update(engine=offers_state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.OfferSubmit(offers_state), LATENCY_ROUNDS[offers_state.engine])
    assert offers_state.waiting() == SCALE.waiting


def test_offer_accept(benchmark: Any, offers_state: w.State) -> None:
    benchmark.group = "offers: accept"
    benchmark.extra_info.update(engine=offers_state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.OfferAccept(offers_state), LATENCY_ROUNDS[offers_state.engine])
    assert offers_state.waiting() == SCALE.waiting


def test_skills_submit_assign(benchmark: Any, skills_state: w.State) -> None:
    benchmark.group = "8 skills: submit that assigns"
    benchmark.extra_info.update(engine=skills_state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.SubmitAssign(skills_state), LATENCY_ROUNDS[skills_state.engine])


def test_skills_finish_pull(benchmark: Any, skills_state: w.State) -> None:
    benchmark.group = "8 skills: finish that pulls the next"
    benchmark.extra_info.update(engine=skills_state.engine, waiting=SCALE.waiting)
    _per_call(benchmark, w.FinishPull(skills_state), LATENCY_ROUNDS[skills_state.engine])
    assert skills_state.waiting() == SCALE.waiting


@pytest.fixture
def heap() -> w.HeapqBaseline:
    return w.HeapqBaseline(SCALE.waiting)


def test_heapq_push(benchmark: Any, heap: w.HeapqBaseline) -> None:
    benchmark.group = "submit that assigns"
    benchmark.extra_info.update(engine="heapq", waiting=SCALE.waiting)
    benchmark.pedantic(heapq.heappush, setup=lambda: ((heap.heap, heap.item()), {}),
                       rounds=LATENCY_ROUNDS["native"], warmup_rounds=500)


def test_heapq_pop(benchmark: Any, heap: w.HeapqBaseline) -> None:
    benchmark.group = "finish that pulls the next"
    benchmark.extra_info.update(engine="heapq", waiting=SCALE.waiting)
    benchmark.pedantic(heapq.heappop, setup=lambda: ((heap.heap,), {}),
                       rounds=LATENCY_ROUNDS["native"], warmup_rounds=500)
