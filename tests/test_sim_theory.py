"""The simulator against queueing theory: M/M/c (Erlang C) and M/M/c+M (Erlang A).

Each case simulates a single group of identical operators fed by one Poisson stream with
exponential handling (and exponential patience for Erlang A) through the real native
Router, and checks the overall KPIs against ``pyroute.sim.theory``. The tolerance of each
KPI is its 99% confidence half-width from batch means (20 batches), widened by a quarter,
plus a small absolute floor; runs are seeded, so a case passes or fails the same way
every time.
"""

from __future__ import annotations

import pytest

from pyroute.sim import scenario_from, simulate, theory

TARGET = 20.0   # the channel's target_wait, s
HANDLE = 240.0  # mean handling time, s


def mmc(c_ops: int, limit: int, lam: float, conversations: int, patience=None, seed=7):
    duration = conversations / lam
    traffic = {"channel": "web", "group": "g", "rate": lam,
               "handle": {"dist": "exp", "mean": HANDLE}}
    if patience is not None:
        traffic["patience"] = {"dist": "exp", "mean": patience}
    return scenario_from({
        "duration": duration, "warmup": 20 * HANDLE, "seed": seed,
        "sample_every": duration / 50,
        # early_cancel 0 and no admission limit: nobody is an early cancel or refused, so
        # the glossary's denominators (answered + abandoned [+ rejected]) are all arrivals,
        # the theory's ("over all arrivals"): service_level and p_abandon compare as they are
        "router": {"channels": [{"name": "web", "target_wait": TARGET,
                                 "early_cancel": 0.0}],
                   "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": c_ops, "limit": limit, "groups": ["g"]}],
        "traffic": [traffic]})


def close(report, kpi, expected, floor):
    got = getattr(report.overall, kpi)
    ci = report.interval(kpi)
    tol = 1.25 * ci.half_width + floor
    assert abs(got - expected) <= tol, (
        f"{kpi}: simulated {got:.4f}, theory {expected:.4f}, tolerance {tol:.4f}")


def check(report, m, target=TARGET):
    close(report, "p_wait", m.p_wait, 0.01)
    close(report, "mean_wait", m.mean_wait, 0.5)
    close(report, "service_level", m.service_level(target), 0.01)
    close(report, "p_abandon", m.p_abandon, 0.003)
    if m.p_abandon > 0:
        close(report, "asa", m.asa, 0.5)
    occ = report.overall.occupancy
    assert abs(occ - m.occupancy) <= 0.02, (occ, m.occupancy)


@pytest.mark.parametrize("c, load, n", [
    (1, 0.5, 100_000), (1, 0.8, 200_000), (2, 0.9, 200_000), (5, 0.8, 200_000),
    (10, 0.95, 300_000), (20, 0.9, 300_000), (50, 0.9, 300_000), (100, 0.95, 400_000),
])
def test_erlang_c(c, load, n):
    lam = load * c / HANDLE
    report = simulate(mmc(c, 1, lam, n))
    assert report.overall.abandoned == 0 and report.overall.unresolved == 0
    check(report, theory.erlang_c(c, lam, 1 / HANDLE))


@pytest.mark.parametrize("c, load, patience, n", [
    (1, 0.9, 120.0, 150_000), (1, 1.5, 60.0, 100_000), (10, 0.95, 180.0, 200_000),
    (20, 1.1, 300.0, 300_000), (50, 0.8, 600.0, 200_000), (100, 0.95, 60.0, 300_000),
])
def test_erlang_a(c, load, patience, n):
    lam = load * c / HANDLE
    report = simulate(mmc(c, 1, lam, n, patience=patience))
    m = theory.erlang_a(c, lam, 1 / HANDLE, 1 / patience)
    assert report.overall.abandoned > 0
    check(report, m)


@pytest.mark.parametrize("n_ops, limit", [(5, 4), (2, 10)])
def test_operators_with_limits_are_erlang_with_c_equal_n_times_k(n_ops, limit):
    """N operators with limit K and handling that does not slow down with load behave as
    M/M/(N·K)."""
    c = n_ops * limit
    lam = 0.9 * c / HANDLE
    report = simulate(mmc(n_ops, limit, lam, 300_000))
    check(report, theory.erlang_c(c, lam, 1 / HANDLE))


def test_slowdown_breaks_the_equivalence_for_the_worse():
    """With handling that stretches when an operator holds more, the same floor waits
    longer than Erlang predicts for c = N·K (the test above needs slowdown = 0)."""
    lam = 0.8 * 20 / HANDLE
    plain = simulate(mmc(5, 4, lam, 100_000))
    sc = mmc(5, 4, lam, 100_000)
    import msgspec
    slow = simulate(msgspec.structs.replace(sc, traffic=(
        msgspec.structs.replace(sc.traffic[0], slowdown=0.1),)))
    assert slow.overall.mean_wait > plain.overall.mean_wait + 2 * plain.interval(
        "mean_wait").half_width
    assert slow.overall.occupancy > plain.overall.occupancy
