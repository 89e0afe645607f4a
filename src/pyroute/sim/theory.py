"""Queueing-theory reference formulas the call-centre simulator is checked against.

Two classic models, both with Poisson arrivals and exponential service, ``c`` identical
servers (agents) and one FCFS queue:

* :func:`erlang_c` -- M/M/c (Erlang C): callers wait as long as it takes.
* :func:`erlang_a` -- M/M/c+M (Erlang A, Palm): each caller abandons once its own
  exponentially distributed patience (rate ``theta``, mean ``1/theta``) runs out while it is
  still waiting.

All rates are *per second* (any time unit works as long as it is used consistently; the
times returned -- ``mean_wait``, ``asa`` -- and the ``t`` of ``service_level`` are in the
reciprocal unit, i.e. seconds).  Everything is computed in pure Python with the ``math``
module only, in a way that cannot overflow (Erlang B recursion, ratios anchored at the
largest term); ``c`` in the thousands is fine.

Definitions used throughout (all "over all arrivals" unless said otherwise; by PASTA an
arrival sees the time-stationary state):

``p_wait``      probability an arrival finds all ``c`` servers busy, i.e. has to wait.
``mean_wait``   mean time in queue over ALL arrivals (0 for the immediately served; the time
                abandoners spent waiting is included).
``asa``         average speed of answer: mean wait of the *answered* callers, E[W | served].
``p_abandon``   share of arrivals that abandon (always 0 for Erlang C).
``occupancy``   mean number of busy servers / c = lam * (1 - p_abandon) / (c * mu).
``mean_queue``  mean number waiting, E[Lq].
``service_level(t)``  P(answered and waited <= t), over all arrivals: abandonment counts as
                a miss, whatever the time it happened.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["QueueMetrics", "erlang_a", "erlang_c"]

#: Largest number of queue states (callers waiting) :func:`erlang_a` will represent.
MAX_QUEUE_STATES = 1_000_000

# Truncation of the Erlang A queue distribution: what is neglected of each sum the results
# are made of is below this, relative to that sum.
_TAIL_REL = 1e-17


@dataclass(frozen=True, slots=True, repr=False)
class QueueMetrics:
    """Steady-state performance of an M/M/c (``theta == 0``) or M/M/c+M queue.

    Attributes (rates per second, times in seconds):

    ``c, lam, mu, theta``  the model: servers, arrival rate, service rate per server,
        abandonment rate per waiting caller (mean patience ``1/theta``; 0 = infinitely
        patient, i.e. Erlang C).
    ``p_wait``      probability an arrival has to wait (finds all ``c`` servers busy).
    ``mean_wait``   mean time in queue over all arrivals, abandoners' waiting included.
    ``asa``         mean wait of answered callers only, E[W | served].
    ``p_abandon``   share of arrivals that abandon (0 for Erlang C).
    ``occupancy``   mean busy servers / c = lam * (1 - p_abandon) / (c * mu).
    ``mean_queue``  mean number of callers waiting, E[Lq].

    :meth:`service_level` gives P(answered within ``t``) over all arrivals.
    Instances are produced by :func:`erlang_c` and :func:`erlang_a`; they are immutable.
    """

    c: int
    lam: float
    mu: float
    theta: float
    p_wait: float
    mean_wait: float
    asa: float
    p_abandon: float
    occupancy: float
    mean_queue: float
    # Erlang A only: distribution of the number k of callers an arriving caller finds
    # waiting, *given* it has to wait (k = 0, 1, ...). Empty for Erlang C.
    _queue_dist: tuple[float, ...] = field(default=(), compare=False)

    def service_level(self, t: float) -> float:
        """P(caller is answered and waited at most ``t`` seconds), over all arrivals.

        Abandonment counts as a miss (whenever it happens), so
        ``service_level(0) == 1 - p_wait`` and ``service_level(inf) == 1 - p_abandon``.
        Non-decreasing in ``t`` (Erlang A: up to rounding, ~1e-14 absolute).

        Erlang C: ``1 - p_wait * exp(-(c*mu - lam) * t)``.
        Erlang A: ``1 - p_wait + p_wait * sum_k P(k | wait) * P(served, V_k <= t | k)``,
        computed exactly (see :func:`erlang_a`).

        Raises ValueError if ``t`` is negative, NaN or not a real number (``t = inf`` is
        allowed).
        """
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise ValueError(f"service_level(t): t must be a number of seconds, got {t!r}")
        t = float(t)
        if math.isnan(t) or t < 0:
            raise ValueError(f"service_level(t): t must be >= 0 seconds, got {t!r}")
        if t == 0.0 or self.p_wait == 0.0:
            return 1.0 - self.p_wait
        cmu = self.c * self.mu
        if self.theta == 0.0:                       # Erlang C, closed form
            return 1.0 - self.p_wait * math.exp(-(cmu - self.lam) * t)
        served_by_t = _served_within(self._queue_dist, cmu, self.theta, t)
        return (1.0 - self.p_wait) + self.p_wait * served_by_t

    def __repr__(self) -> str:
        model = "Erlang C (M/M/c)" if self.theta == 0.0 else "Erlang A (M/M/c+M)"
        return (f"QueueMetrics[{model}](c={self.c}, lam={self.lam:.6g}/s, mu={self.mu:.6g}/s, "
                f"theta={self.theta:.6g}/s, load={self.lam / self.mu:.6g} Erl: "
                f"p_wait={self.p_wait:.6g}, mean_wait={self.mean_wait:.6g}s, "
                f"asa={self.asa:.6g}s, p_abandon={self.p_abandon:.6g}, "
                f"occupancy={self.occupancy:.6g}, mean_queue={self.mean_queue:.6g})")


# --------------------------------------------------------------------------- validation

def _check_servers(c: object, where: str) -> int:
    if isinstance(c, bool) or not isinstance(c, numbers.Integral):
        raise ValueError(f"{where}: c (number of servers) must be an integer >= 1, got {c!r}")
    c = int(c)
    if c < 1:
        raise ValueError(f"{where}: c (number of servers) must be >= 1, got {c}")
    return c


def _check_rate(value: object, name: str, where: str, *, allow_zero: bool = False) -> float:
    what = "a finite number >= 0" if allow_zero else "a finite number > 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: {name} must be {what} (per second), got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{where}: {name} must be {what} (per second), got {value!r}")
    return x


def _erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability B(c, a) by the stable recursion B(k) = aB/(k + aB)."""
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


# --------------------------------------------------------------------------- Erlang C

def erlang_c(c: int, lam: float, mu: float) -> QueueMetrics:
    """Steady state of the M/M/c (Erlang C) queue.

    Model: ``c`` servers, Poisson arrivals at rate ``lam`` per second, exponential service
    at rate ``mu`` per second per server, one FCFS queue, nobody abandons.  Offered load
    ``a = lam/mu`` Erlangs, utilisation ``rho = a/c``.

    Computed with the Erlang B recursion (``B(0) = 1``, ``B(k) = a B(k-1)/(k + a B(k-1))``)
    and ``C = B / (1 - rho (1 - B))``, which cannot overflow (``c`` in the thousands is fine):

    * ``p_wait = C`` (probability an arrival has to wait),
    * ``mean_wait = asa = C / (c mu - lam)`` (nobody abandons, so the two agree),
    * ``mean_queue = lam * mean_wait``, ``p_abandon = 0``, ``occupancy = rho``,
    * ``service_level(t) = 1 - C exp(-(c mu - lam) t)`` (answered within ``t``).

    Raises ValueError unless ``c`` is an integer >= 1 (bools rejected), ``lam`` and ``mu`` are
    finite and > 0, and the queue is stable: ``lam < c * mu``.
    """
    return _erlang_c(c, lam, mu, "erlang_c")


def _erlang_c(c: object, lam: object, mu: object, where: str) -> QueueMetrics:
    c = _check_servers(c, where)
    lam = _check_rate(lam, "lam (arrival rate)", where)
    mu = _check_rate(mu, "mu (service rate per server)", where)
    a = lam / mu
    cmu = c * mu
    if not math.isfinite(a):
        raise ValueError(f"{where}: offered load lam/mu overflows ({lam!r}/{mu!r}); rescale "
                         "the time unit")
    if lam >= cmu:
        hint = (" or give callers finite patience (erlang_a with theta > 0)"
                if where == "erlang_c" else "; theta = 0 means nobody abandons, so use theta > 0")
        raise ValueError(
            f"{where}: unstable queue, need lam < c*mu but lam = {lam:g}/s >= c*mu = {cmu:g}/s "
            f"(offered load {a:g} Erlangs on {c} servers); add servers (c > {a:g}), lower lam "
            f"or raise mu{hint}")
    rho = a / c
    b = _erlang_b(c, a)
    p_wait = b / (1.0 - rho * (1.0 - b))
    mean_wait = p_wait / (cmu - lam)
    return QueueMetrics(c=c, lam=lam, mu=mu, theta=0.0, p_wait=p_wait, mean_wait=mean_wait,
                        asa=mean_wait, p_abandon=0.0, occupancy=rho,
                        mean_queue=lam * mean_wait)


# --------------------------------------------------------------------------- Erlang A

def erlang_a(c: int, lam: float, mu: float, theta: float) -> QueueMetrics:
    """Steady state of the M/M/c+M (Erlang A, Palm) queue.

    Model: ``c`` servers, Poisson arrivals at rate ``lam`` per second, exponential service at
    rate ``mu`` per second per server, one FCFS queue; each waiting caller has its own
    exponential patience with rate ``theta`` per second (mean ``1/theta`` seconds) and
    abandons when it runs out before the caller reaches a server.  ``theta == 0`` returns
    exactly :func:`erlang_c` (and then requires ``lam < c*mu``); with ``theta > 0`` any load
    is allowed.

    The number in system ``N`` is a birth-death chain (birth ``lam``, death
    ``min(n,c) mu + max(n-c,0) theta``).  Its stationary law is computed without overflow:
    the part below ``c`` through the Erlang B recursion, the queue part ``k = n - c`` by
    ratios anchored at its largest term, the tail truncated once it is below ~1e-17
    relative.  Then (PASTA) ``p_wait = P(N >= c)``, ``mean_queue = E[Lq]``,
    ``p_abandon = theta E[Lq] / lam``, ``mean_wait = E[Lq] / lam`` (Little; includes
    abandoners' waiting), ``occupancy = lam (1 - p_abandon) / (c mu)``.

    A caller finding ``k`` waiting ahead moves up at rate ``c mu + i theta`` while ``i`` are
    ahead (``i = k..0``; at ``i = 0`` it enters service) and abandons at rate ``theta``.  As
    competing exponentials, stage ``i`` lasts ``Exp(q_i)``, ``q_i = c mu + (i+1) theta``,
    independently of how it ends, and ends by progress with probability
    ``(c mu + i theta)/q_i``; the product telescopes, so
    ``P(served | k) = c mu / (c mu + (k+1) theta)`` and, given served, the wait is
    ``V_k = sum_{i=0..k} Exp(q_i)``.  Hence ``asa = E[W | served]`` uses
    ``E[V_k] = sum_i 1/q_i``, and ``service_level(t)`` (answered within ``t`` over all arrivals,
    abandonment a miss) uses ``P(V_k <= t)``: ``exp(-theta V_k)`` is Beta(``c mu/theta + 1``,
    ``k + 1``) distributed, so ``P(V_k > t) = P(NB <= k)`` for a negative binomial NB with
    shape ``c mu/theta + 1`` and success probability ``exp(-theta t)`` -- a sum of positive
    terms, evaluated in log space (exact to rounding, no cancellation, no overflow).

    Raises ValueError unless ``c`` is an integer >= 1 (bools rejected), ``lam`` and ``mu``
    are finite and > 0, ``theta`` is finite and >= 0, ``lam < c*mu`` when ``theta == 0``,
    and the queue distribution fits in ``MAX_QUEUE_STATES`` states (only fails for a tiny
    ``theta`` combined with overload, where about ``(lam - c mu)/theta`` callers wait).
    """
    where = "erlang_a"
    c = _check_servers(c, where)
    lam = _check_rate(lam, "lam (arrival rate)", where)
    mu = _check_rate(mu, "mu (service rate per server)", where)
    theta = _check_rate(theta, "theta (abandonment rate, 1/mean patience)", where,
                        allow_zero=True)
    if theta == 0.0:
        return _erlang_c(c, lam, mu, "erlang_a with theta=0")
    a = lam / mu
    if not math.isfinite(a):
        raise ValueError(f"{where}: offered load lam/mu overflows ({lam!r}/{mu!r}); rescale "
                         "the time unit")
    cmu = c * mu

    # Queue part: u_k proportional to P(N = c + k), u_{k+1} = u_k * lam / (cmu + (k+1) theta).
    # Anchor u = 1 near the mode so nothing overflows; below the anchor ratios are <= ~1.
    mode = 0
    if lam > cmu:
        mode_f = (lam - cmu) / theta
        if mode_f > MAX_QUEUE_STATES:
            raise ValueError(
                f"{where}: theta = {theta:g}/s is too small for this overload: about "
                f"(lam - c*mu)/theta = {mode_f:.3g} callers would wait, more than the "
                f"{MAX_QUEUE_STATES} queue states supported; raise theta, add servers or "
                "lower lam")
        mode = int(mode_f)
    down = [1.0]
    u = 1.0
    for k in range(mode, 0, -1):                   # u_{k-1} = u_k (cmu + k theta) / lam
        u *= (cmu + k * theta) / lam
        down.append(u)
    weights = down[::-1]                            # u_0 .. u_mode
    u0 = weights[0]
    # Running sums the results are made of: sum u_k, sum k u_k and sum u_k s_k H_k (answered
    # waiting, s_k = P(served | k) = cmu / q_k, H_k = sum_{i<=k} 1/q_i, q_i = cmu + (i+1) theta).
    # The truncation bounds what is left of each relative to itself; the other sums used
    # (weights s_k and P(wait <= t | served, k), both non-increasing in k) are covered by the
    # first bound.
    s0 = s1 = s2 = h = 0.0
    for k, w in enumerate(weights):
        rate = cmu + (k + 1) * theta
        h += 1.0 / rate
        s0 += w
        s1 += k * w
        s2 += w * (cmu / rate) * h
    k = mode
    u = 1.0
    while True:
        rate = cmu + (k + 1) * theta
        r = lam / rate                              # u_{k+1} / u_k, decreasing in k
        if r < 1.0:
            next_rate = rate + theta
            geo, geo2 = r / (1.0 - r), r / (1.0 - r) ** 2
            tail0 = u * geo                         # sum_{m>=1} u r^m
            tail1 = u * ((k + 1) * geo + geo2)      # ... weighted by k + m
            # ... weighted by s_{k+m} H_{k+m} <= s_{k+1} (H_k + m / q_{k+1})
            tail2 = u * (cmu / next_rate) * (h * geo + geo2 / next_rate)
            if tail0 <= _TAIL_REL * s0 and tail1 <= _TAIL_REL * s1 and tail2 <= _TAIL_REL * s2:
                break
        if k + 1 >= MAX_QUEUE_STATES:
            raise ValueError(
                f"{where}: theta = {theta:g}/s is too small for this load: the waiting-queue "
                f"distribution needs more than {MAX_QUEUE_STATES} states; raise theta, or use "
                "erlang_c (theta = 0) if lam < c*mu")
        u *= r
        k += 1
        weights.append(u)
        rate += theta
        h += 1.0 / rate
        s0 += u
        s1 += k * u
        s2 += u * (cmu / rate) * h
    total = math.fsum(weights)
    q = tuple(w / total for w in weights)          # P(k waiting ahead | has to wait)

    # Stationary mass below c relative to u_0 = P(N = c): sum_{n<c} p_n / p_c = (1 - B) / B.
    b = _erlang_b(c, a)
    if b == 0.0:
        p_wait = 0.0
    elif u0 == 0.0:                                 # P(N = c) negligible next to the queue
        p_wait = 1.0
    else:
        p_wait = total / (total + u0 * ((1.0 - b) / b))

    mean_k = math.fsum(k * qk for k, qk in enumerate(q))
    mean_queue = p_wait * mean_k
    p_abandon = theta * mean_queue / lam
    mean_wait = mean_queue / lam
    # Answered callers: P(served | k) = cmu / (cmu + (k+1) theta), E[V_k] = sum_i 1/q_i.
    served_terms = []
    wait_terms = []
    h = 0.0
    for k, qk in enumerate(q):
        qrate = cmu + (k + 1) * theta
        h += 1.0 / qrate
        s = qk * cmu / qrate
        served_terms.append(s)
        wait_terms.append(s * h)
    p_served = (1.0 - p_wait) + p_wait * math.fsum(served_terms)
    asa = p_wait * math.fsum(wait_terms) / p_served
    occupancy = lam * (1.0 - p_abandon) / cmu
    return QueueMetrics(c=c, lam=lam, mu=mu, theta=theta, p_wait=p_wait, mean_wait=mean_wait,
                        asa=asa, p_abandon=p_abandon, occupancy=occupancy,
                        mean_queue=mean_queue, _queue_dist=q)


def _served_within(q: tuple[float, ...], cmu: float, theta: float, t: float) -> float:
    """sum_k q_k P(served, wait <= t | k waiting ahead) for Erlang A, ``0 < t <= inf``.

    ``P(served, V_k <= t | k) = cmu/(cmu + (k+1) theta) * P(NB > k)`` with NB negative
    binomial (shape ``cmu/theta + 1``, success probability ``exp(-theta t)``): pmf
    ``f(0) = exp(-(cmu + theta) t)``, ``f(j) = f(j-1) (cmu + j theta) g / j`` with
    ``g = (1 - exp(-theta t)) / theta`` (``-> t`` as ``theta -> 0``: the Poisson limit of
    Erlang C).  The pmf is built in log space (:func:`_nb_pmf`); ``P(NB > k)`` is taken as
    ``1 - P(NB <= k)`` while that is >= 1/2 and otherwise summed from the upper tail, so
    small service levels keep their relative accuracy too.
    """
    if math.isinf(t):
        return math.fsum(qk * cmu / (cmu + (k + 1) * theta) for k, qk in enumerate(q))
    kmax = len(q) - 1
    y = theta * t
    g = t if y == 0.0 else -math.expm1(-y) / theta
    terms = _nb_pmf(cmu, theta, t, g)
    pmf = [next(terms) for _ in range(kmax + 1)]
    cdf = list(itertools.accumulate(pmf))
    if cdf[-1] <= 0.5:
        upper = [1.0 - x for x in cdf]              # all >= 1/2: no cancellation
    else:
        # The NB median is <= kmax: sum P(NB > kmax) term by term until the rest is
        # negligible (the pmf ratio decreases in j, so a geometric bound applies once < 1).
        extra = []
        rest = 0.0
        tail = 0.0
        j = kmax
        limit = kmax + max(100_000, 4 * kmax)
        while True:
            if j >= limit:                          # pathological: fall back on 1 - cdf
                rest = max(0.0, 1.0 - cdf[-1] - math.fsum(extra))
                break
            j += 1
            f = next(terms)
            extra.append(f)
            tail += f
            ratio = (cmu + (j + 1) * theta) * g / (j + 1)   # f(j+1) / f(j)
            if ratio < 1.0 and f * ratio / (1.0 - ratio) <= 1e-17 * tail:
                break
        # Now (nearly) the whole pmf is known: normalise by its sum, which removes the
        # rounding common to all terms (from the start value -(cmu + theta) t).
        acc = math.fsum(extra) + rest               # P(NB > kmax), before normalising
        norm = acc + math.fsum(pmf)
        upper = [0.0] * (kmax + 1)
        for k in range(kmax, -1, -1):
            upper[k] = acc / norm                   # P(NB > k)
            acc += pmf[k]
    # P(NB > k) = P(V_k <= t): the wait of a caller answered after finding k ahead.
    return math.fsum(qk * cmu / (cmu + (k + 1) * theta) * upper[k] for k, qk in enumerate(q))


def _nb_pmf(cmu: float, theta: float, t: float, g: float) -> Iterator[float]:
    """f(0), f(1), ... of the negative binomial of :func:`_served_within`.

    Built in log space (nothing overflows or underflows early) from
    ``log f(j) = log f(j-1) + log((cmu + j theta) g / j)``; the running log can reach
    ``-(cmu + theta) t`` in magnitude, so it is summed with Neumaier compensation: the
    rounding stays at about one ulp of that start value instead of growing with the number
    of terms (hundreds of thousands for long ``t`` and many servers).
    """
    log_g = math.log(g)
    hi = -(cmu + theta) * t
    lo = 0.0
    j = 0
    while True:
        x = hi + lo
        yield math.exp(x) if x > -745.0 else 0.0
        j += 1
        ratio = (cmu + j * theta) * g / j
        if 1e-300 < ratio < 1e300:
            step = math.log(ratio)
        else:
            step = math.log(cmu + j * theta) + log_g - math.log(j)
        total = hi + step
        if abs(hi) >= abs(step):
            lo += (hi - total) + step
        else:
            lo += (step - total) + hi
        hi = total
