"""Erlang C / Erlang A reference formulas (pyroute.sim.theory) against independent checks.

The independent checks never reuse the module's derivations: closed forms written out
with factorials, a log-sum-exp evaluation for large c, the birth-death chain's generator
solved by Gaussian elimination, the caller's own absorbing chain solved by matrices and by
uniformization, and a small seeded simulation of the queue.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random

import pytest

from pyroute.sim.theory import QueueMetrics, erlang_a, erlang_c


def rel(x: float, y: float) -> float:
    return abs(x - y) / max(abs(x), abs(y), 1e-300)


# ----------------------------------------------------------------- independent helpers

def erlang_c_factorial(c: int, a: float) -> float:
    """P(wait) from the textbook formula, directly with factorials (small c only)."""
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)


def erlang_c_logspace(c: int, a: float) -> float:
    """Same formula with every term in log space (for large c)."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    m = max(max(logs), log_top)
    below = sum(math.exp(x - m) for x in logs)
    top = math.exp(log_top - m)
    return top / (below + top)


def solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (small dense systems)."""
    n = len(rhs)
    m = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for j in range(col, n + 1):
                    m[r][j] -= f * m[col][j]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][j] * x[j] for j in range(r + 1, n))) / m[r][r]
    return x


def stationary_by_generator(c, lam, mu, theta, n_states):
    """Stationary law of the truncated M/M/c+M chain: pi Q = 0, sum pi = 1."""
    q = [[0.0] * n_states for _ in range(n_states)]
    for n in range(n_states):
        if n + 1 < n_states:
            q[n][n + 1] = lam
        if n > 0:
            q[n][n - 1] = min(n, c) * mu + max(n - c, 0) * theta
        q[n][n] = -sum(q[n])
    # Transpose (pi Q = 0 -> Q^T pi = 0) and replace the last equation by normalisation.
    a = [[q[j][i] for j in range(n_states)] for i in range(n_states)]
    a[-1] = [1.0] * n_states
    b = [0.0] * (n_states - 1) + [1.0]
    return solve(a, b)


def tagged_caller_generator(c, mu, theta, kmax):
    """Sub-generator of a waiting caller's position (i ahead, i = 0..kmax) and its exit rate
    into service. Served and abandoned are absorbing (left out)."""
    cmu = c * mu
    t = [[0.0] * (kmax + 1) for _ in range(kmax + 1)]
    for i in range(kmax + 1):
        t[i][i] = -(cmu + i * theta + theta)       # queue moves, or it abandons
        if i > 0:
            t[i][i - 1] = cmu + i * theta
    to_service = [cmu] + [0.0] * kmax
    return t, to_service


def served_and_wait_by_matrix(c, mu, theta, kmax):
    """x_i = P(served | i ahead), y_i = E[W 1{served} | i ahead] from -T x = a, -T y = x."""
    t, a = tagged_caller_generator(c, mu, theta, kmax)
    neg = [[-v for v in row] for row in t]
    x = solve(neg, a)
    y = solve(neg, x)
    return x, y


def served_within_by_uniformization(c, mu, theta, start, t_end):
    """P(served with wait <= t_end) for a caller starting with i ahead w.p. start[i]."""
    kmax = len(start) - 1
    gen, a = tagged_caller_generator(c, mu, theta, kmax)
    rate = max(-gen[i][i] for i in range(kmax + 1))
    v = list(start)
    served = 0.0
    lt = rate * t_end
    n_max = int(lt + 12 * math.sqrt(lt) + 50)
    total = 0.0
    for n in range(n_max + 1):
        weight = math.exp(-lt + n * math.log(lt) - math.lgamma(n + 1))
        total += weight * served                 # served mass after n uniformized steps
        served += v[0] * a[0] / rate
        v = [v[i] * (1 + gen[i][i] / rate) + (v[i + 1] * gen[i + 1][i] / rate
                                              if i < kmax else 0.0)
             for i in range(kmax + 1)]
    return total


def simulate(c, lam, mu, theta, n_calls, seed, sl_t):
    """FCFS M/M/c+M by the multi-server recursion on server free times: a caller takes the
    earliest free server unless its patience runs out first (then it occupies nothing)."""
    rng = random.Random(seed)
    free = [0.0] * c
    now = 0.0
    waited = abandoned = 0
    wait_all = wait_served = 0.0
    served = within = 0
    warm = n_calls // 10
    for i in range(n_calls + warm):
        now += rng.expovariate(lam)
        start = max(now, free[0])
        wait = start - now
        patience = rng.expovariate(theta)
        service = rng.expovariate(mu)
        if wait > patience:
            ab, w = True, patience
        else:
            ab, w = False, wait
            heapq.heapreplace(free, start + service)
        if i < warm:
            continue
        waited += wait > 0
        wait_all += w
        if ab:
            abandoned += 1
        else:
            served += 1
            wait_served += w
            within += w <= sl_t
    return {"p_wait": waited / n_calls, "p_abandon": abandoned / n_calls,
            "mean_wait": wait_all / n_calls, "asa": wait_served / served,
            "sl": within / n_calls}


# ----------------------------------------------------------------- Erlang C

def test_erlang_c_two_servers_half_load():
    m = erlang_c(2, 1.0, 1.0)
    assert m.p_wait == pytest.approx(1 / 3, rel=1e-14)
    assert m.mean_wait == pytest.approx(1 / 3, rel=1e-14)       # C / (c mu - lam) = (1/3)/1
    assert m.asa == m.mean_wait
    assert m.mean_queue == pytest.approx(1 / 3, rel=1e-14)
    assert m.p_abandon == 0.0 and m.theta == 0.0
    assert m.occupancy == pytest.approx(0.5, rel=1e-15)
    assert m.service_level(1.0) == pytest.approx(1 - math.exp(-1) / 3, rel=1e-14)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.7, 0.99])
def test_erlang_c_single_server_is_mm1(lam):
    mu = 1.0
    m = erlang_c(1, lam, mu)
    assert m.p_wait == pytest.approx(lam, rel=1e-13)
    assert m.mean_wait == pytest.approx(lam / (mu - lam), rel=1e-12)
    assert m.mean_queue == pytest.approx(lam ** 2 / (1 - lam), rel=1e-12)
    for t in (0.0, 0.3, 5.0):
        assert m.service_level(t) == pytest.approx(1 - lam * math.exp(-(mu - lam) * t),
                                                   rel=1e-13)


@pytest.mark.parametrize("c,a", [(3, 2.0), (5, 4.5), (11, 10.0), (20, 12.3)])
def test_erlang_c_matches_factorial_formula(c, a):
    mu = 1 / 180
    m = erlang_c(c, a * mu, mu)
    assert m.p_wait == pytest.approx(erlang_c_factorial(c, a), rel=1e-12)
    assert m.mean_wait == pytest.approx(m.p_wait / (c * mu - a * mu), rel=1e-13)


def test_erlang_c_call_centre_textbook_example():
    # 100 calls per half hour, 180 s handle time -> 10 Erlangs on 11 agents: the widely
    # published example (P(wait) 68.21 %, ASA 122.8 s, 39 % answered within 20 s).
    m = erlang_c(11, 100 / 1800, 1 / 180)
    assert m.p_wait == pytest.approx(erlang_c_factorial(11, 10.0), rel=1e-12)
    assert m.p_wait == pytest.approx(0.6821, abs=5e-5)
    assert m.asa == pytest.approx(122.8, abs=0.05)
    assert m.service_level(20) == pytest.approx(1 - 0.682118 * math.exp(-20 / 180), abs=1e-6)
    assert round(m.service_level(20), 2) == 0.39
    assert m.occupancy == pytest.approx(10 / 11)


@pytest.mark.parametrize("c,a", [(1000, 980.0), (1000, 999.0), (1000, 100.0), (2500, 2450.0)])
def test_erlang_c_large_c_no_overflow(c, a):
    m = erlang_c(c, a, 1.0)
    assert 0.0 <= m.p_wait < 1.0 and math.isfinite(m.mean_wait)
    if a > 500:
        assert 0.0 < m.p_wait
        assert m.p_wait == pytest.approx(erlang_c_logspace(c, a), rel=1e-10)


def test_erlang_c_theta_zero_erlang_a_is_identical():
    assert erlang_a(7, 5.5, 1.0, 0) == erlang_c(7, 5.5, 1.0)
    assert erlang_a(7, 5.5, 1.0, 0.0).service_level(0.4) == erlang_c(7, 5.5, 1.0).service_level(0.4)


# ----------------------------------------------------------------- Erlang A

@pytest.mark.parametrize("c,lam,mu", [(1, 0.6, 1.0), (5, 4.0, 1.0), (50, 45 / 240, 1 / 240)])
def test_erlang_a_tiny_theta_is_erlang_c(c, lam, mu):
    # theta tiny relative to the service rate (the effect on waits is ~ theta x wait scale).
    a = erlang_a(c, lam, mu, 1e-9 * mu)
    e = erlang_c(c, lam, mu)
    for name in ("p_wait", "mean_wait", "asa", "mean_queue", "occupancy"):
        assert rel(getattr(a, name), getattr(e, name)) < 1e-6, name
    assert a.p_abandon < 1e-6
    for t in (0.0, 0.5 / mu, 2 / mu, 10 / mu):
        assert abs(a.service_level(t) - e.service_level(t)) < 1e-6


def test_erlang_a_single_server_unit_rates_is_poisson():
    # c=1, lam=mu=theta=1: death rate from state n is n, so N ~ Poisson(1).
    m = erlang_a(1, 1.0, 1.0, 1.0)
    e = math.exp(-1)
    assert m.p_wait == pytest.approx(1 - e, rel=1e-13)
    assert m.mean_queue == pytest.approx(e, rel=1e-13)      # E[N] - 1 + P(N=0)
    assert m.p_abandon == pytest.approx(e, rel=1e-13)
    assert m.mean_wait == pytest.approx(e, rel=1e-13)


CASES_A = [
    (3, 2.5, 1.0, 0.7),      # moderate load
    (3, 6.0, 1.0, 0.7),      # overloaded: only abandonment keeps it stable
    (2, 0.8, 1.0, 4.0),      # impatient callers
    (4, 3.9, 1.0, 0.05),     # very patient, near critical
]


@pytest.mark.parametrize("c,lam,mu,theta", CASES_A)
def test_erlang_a_against_generator_matrix(c, lam, mu, theta):
    n_states = c + 150
    pi = stationary_by_generator(c, lam, mu, theta, n_states)
    assert max(pi[-10:]) < 1e-15                             # truncation harmless
    p_wait = sum(pi[c:])
    lq = sum((n - c) * p for n, p in enumerate(pi) if n > c)
    busy = sum(min(n, c) * p for n, p in enumerate(pi))
    m = erlang_a(c, lam, mu, theta)
    assert m.p_wait == pytest.approx(p_wait, rel=1e-9, abs=1e-12)
    assert m.mean_queue == pytest.approx(lq, rel=1e-9)
    assert m.p_abandon == pytest.approx(theta * lq / lam, rel=1e-9)
    assert m.mean_wait == pytest.approx(lq / lam, rel=1e-9)
    # Flow balance: answered rate = completion rate.
    assert lam * (1 - m.p_abandon) == pytest.approx(mu * busy, rel=1e-9)
    assert m.occupancy == pytest.approx(busy / c, rel=1e-9)

    # Answered callers, from the caller's own absorbing chain (matrix-analytic).
    kmax = n_states - c - 1
    x, y = served_and_wait_by_matrix(c, mu, theta, kmax)
    start = [pi[c + k] for k in range(kmax + 1)]
    p_served = sum(pi[:c]) + sum(s * xi for s, xi in zip(start, x))
    assert p_served == pytest.approx(1 - m.p_abandon, rel=1e-9)
    assert m.asa == pytest.approx(sum(s * yi for s, yi in zip(start, y)) / p_served, rel=1e-9)

    # Service level by uniformization of the same chain.
    for t in (0.1, 0.5, 2.0, 6.0):
        expected = sum(pi[:c]) + served_within_by_uniformization(c, mu, theta, start, t)
        assert m.service_level(t) == pytest.approx(expected, abs=1e-9)


def test_erlang_a_against_simulation():
    c, lam, mu, theta, t = 3, 2.5, 1.0, 0.7, 0.5
    m = erlang_a(c, lam, mu, theta)
    sim = simulate(c, lam, mu, theta, n_calls=120_000, seed=20240611, sl_t=t)
    assert sim["p_wait"] == pytest.approx(m.p_wait, abs=0.015)
    assert sim["p_abandon"] == pytest.approx(m.p_abandon, abs=0.01)
    assert sim["mean_wait"] == pytest.approx(m.mean_wait, rel=0.05)
    assert sim["asa"] == pytest.approx(m.asa, rel=0.05)
    assert sim["sl"] == pytest.approx(m.service_level(t), abs=0.015)


@pytest.mark.parametrize("c,lam,mu,theta", CASES_A + [
    (100, 95 / 240, 1 / 240, 1 / 1000), (100, 150 / 240, 1 / 240, 1 / 60),
    (100, 95 / 240, 1 / 240, 10.0), (1000, 990 / 240, 1 / 240, 1 / 300)])
def test_erlang_a_identities(c, lam, mu, theta):
    m = erlang_a(c, lam, mu, theta)
    assert 0 < m.p_wait <= 1 and 0 < m.p_abandon < 1
    assert m.p_abandon == pytest.approx(theta * m.mean_wait, rel=1e-12)   # Little + flow
    assert m.mean_queue == pytest.approx(lam * m.mean_wait, rel=1e-12)
    assert m.occupancy == pytest.approx(lam * (1 - m.p_abandon) / (c * mu), rel=1e-12)
    assert m.occupancy < 1
    # Only callers who wait can abandon: P(abandon) <= P(wait).
    assert m.p_abandon <= m.p_wait
    # E[W] = P(served) asa + E[W 1{abandon}] >= P(served) asa.
    assert 0 < m.asa <= m.mean_wait / (1 - m.p_abandon) * (1 + 1e-12)
    # Service level: starts at 1 - p_wait, grows, ends at 1 - p_abandon.
    assert m.service_level(0) == 1 - m.p_wait
    ts = [i * 0.05 / mu for i in range(201)]
    sls = [m.service_level(t) for t in ts]
    assert all(b >= a - 1e-15 for a, b in zip(sls, sls[1:]))
    assert sls[-1] <= 1 - m.p_abandon + 1e-12
    assert m.service_level(1e4 / mu + 1e3 / theta) == pytest.approx(1 - m.p_abandon,
                                                                    abs=1e-12)
    assert m.service_level(math.inf) == pytest.approx(1 - m.p_abandon, abs=1e-12)


def test_erlang_a_many_servers_long_horizon_is_erlang_c():
    # theta negligible, thousands of callers waiting and c mu t up to ~4000 terms of the
    # service-level series: checks the numerics at scale against the Erlang C closed form.
    mu = 1 / 240
    a = erlang_a(100, 0.99 * 100 * mu, mu, 1e-15 * mu)
    e = erlang_c(100, 0.99 * 100 * mu, mu)
    assert len(a._queue_dist) > 1000
    assert rel(a.asa, e.asa) < 1e-10
    for t in (1.0, 240.0, 2400.0, 9600.0, 1e5):
        assert a.service_level(t) == pytest.approx(e.service_level(t), abs=1e-10)
        assert a.service_level(t) <= 1 - a.p_abandon


def test_erlang_a_asa_is_integral_of_service_level():
    # E[W 1{served}] = integral over t of P(served) - SL(t)  (Simpson's rule).
    m = erlang_a(4, 3.5, 1.0, 0.3)
    p_served = 1 - m.p_abandon
    n, t_end = 2000, 60.0
    h = t_end / n
    f = [p_served - m.service_level(i * h) for i in range(n + 1)]
    integral = h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))
    assert integral / p_served == pytest.approx(m.asa, rel=1e-8)


def test_erlang_a_heavier_theta_less_waiting():
    waits = [erlang_a(10, 9.5, 1.0, th) for th in (0.01, 0.1, 1.0, 10.0)]
    for a, b in zip(waits, waits[1:]):
        assert b.p_wait < a.p_wait and b.asa < a.asa and b.p_abandon > a.p_abandon


def test_erlang_a_call_centre_sizes_stay_in_range():
    """Speed is for bench/, never asserted here; this checks the values stay sane."""
    mu = 1 / 240
    for theta in (1 / 1000, 1 / 60, 10.0):
        for load in (0.5, 0.95):
            m = erlang_a(100, load * 100 * mu, mu, theta)
            levels = [m.service_level(t) for t in (0, 20, 240, 2400)]
            assert all(0 <= x <= 1 for x in levels) and levels == sorted(levels)


def test_erlang_a_large_c_overloaded_no_overflow():
    m = erlang_a(1000, 2000.0, 1.0, 0.5)
    assert m.p_wait == pytest.approx(1.0)
    # Fluid limit: roughly c mu of the lam arrivals get served.
    assert m.p_abandon == pytest.approx(0.5, abs=0.01)
    assert 0.0 <= m.service_level(1.0) <= 1 - m.p_abandon + 1e-12


# ----------------------------------------------------------------- QueueMetrics

def test_queue_metrics_is_frozen_slotted_and_readable():
    m = erlang_a(3, 2.5, 1.0, 0.7)
    assert isinstance(m, QueueMetrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.p_wait = 0.5
    assert not hasattr(m, "__dict__")
    text = repr(m)
    assert "Erlang A" in text and "p_wait=" in text and "asa=" in text and "c=3" in text
    assert "_queue_dist" not in text
    assert "Erlang C" in repr(erlang_c(3, 2.5, 1.0))


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize("c", [0, -3, 1.5, 2.0, True, False, None, "3"])
def test_bad_server_count(c):
    with pytest.raises(ValueError, match="c \\(number of servers\\)"):
        erlang_c(c, 1.0, 1.0)
    with pytest.raises(ValueError, match="c \\(number of servers\\)"):
        erlang_a(c, 1.0, 1.0, 0.1)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, math.nan, math.inf, -math.inf, True, None, "1"])
def test_bad_rates(bad):
    with pytest.raises(ValueError, match="lam"):
        erlang_c(2, bad, 1.0)
    with pytest.raises(ValueError, match="mu"):
        erlang_c(2, 1.0, bad)
    with pytest.raises(ValueError, match="lam"):
        erlang_a(2, bad, 1.0, 0.1)
    with pytest.raises(ValueError, match="mu"):
        erlang_a(2, 1.0, bad, 0.1)


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, True])
def test_bad_theta(bad):
    with pytest.raises(ValueError, match="theta"):
        erlang_a(2, 1.0, 1.0, bad)


@pytest.mark.parametrize("lam", [2.0, 2.5, 100.0])
def test_unstable_erlang_c(lam):
    with pytest.raises(ValueError, match=r"need lam < c\*mu.*add servers"):
        erlang_c(2, lam, 1.0)
    with pytest.raises(ValueError, match="theta > 0"):
        erlang_a(2, lam, 1.0, 0.0)
    assert erlang_a(2, lam, 1.0, 0.5).p_wait > 0.5          # fine with abandonment


def test_erlang_a_too_small_theta_for_overload():
    with pytest.raises(ValueError, match="theta.*too small"):
        erlang_a(10, 20.0, 1.0, 1e-9)


@pytest.mark.parametrize("t", [-1e-9, -5, math.nan, True, None])
def test_bad_service_level_time(t):
    for m in (erlang_c(3, 2.0, 1.0), erlang_a(3, 2.0, 1.0, 0.2)):
        with pytest.raises(ValueError, match="t must be"):
            m.service_level(t)
