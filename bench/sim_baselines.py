"""Reference M/M/c simulations in two well-known discrete-event simulation packages.

Used by pyroute's benchmark to compare simulation speed against `Ciw
<https://ciw.readthedocs.io>`_ and `SimPy <https://simpy.readthedocs.io>`_ on the
same model:

* ``c`` identical servers, FIFO, infinite queue, no abandonment;
* Poisson arrivals at rate ``lam`` per second;
* exponential service at rate ``mu`` per server;
* the run covers simulated time ``n / lam``, i.e. about ``n`` arrivals, starting empty.

Each ``run_*`` function returns a dict with

``seconds``
    wall-clock seconds (``time.perf_counter``) of the simulation run only -- model
    construction and the statistics gathered afterwards are excluded;
``customers``
    number of customers who completed service within the horizon;
``mean_wait``
    mean waiting time in queue (seconds) of those customers;
``p_wait``
    share of those customers whose wait was > 0.

Neither package is a dependency of pyroute: they are imported inside the functions,
so this module imports fine without them (``pip install ciw simpy`` to use it).

Run ``python bench/sim_baselines.py`` for a quick comparison at M/M/20, load 0.9,
100,000 arrivals, printed next to the Erlang C values.
"""

from __future__ import annotations

import importlib
import math
import random
import time

__all__ = ["available", "ciw_simulation", "simpy_model", "run_ciw", "run_simpy", "erlang_c"]


def available() -> dict[str, bool]:
    """Which of the baseline packages ("ciw", "simpy") can be imported.

    Actually imports them (a broken install counts as unavailable); Ciw pulls in
    numpy and networkx, so the first call can take a fraction of a second.
    """
    result = {}
    for name in ("ciw", "simpy"):
        try:
            importlib.import_module(name)
        except ImportError:
            result[name] = False
        else:
            result[name] = True
    return result


def _require(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"the {name!r} package is needed for this baseline simulation "
            f"but is not installed; install it with `pip install {name}`",
            name=name,
        ) from exc


def _check(c: int, lam: float, mu: float, n: int) -> None:
    if int(c) != c or c < 1:
        raise ValueError(f"c must be a positive integer, got {c!r}")
    if not (lam > 0 and mu > 0):
        raise ValueError(f"lam and mu must be > 0, got lam={lam!r}, mu={mu!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")


def _summary(seconds: float, waits: list[float]) -> dict:
    count = len(waits)
    return {
        "seconds": seconds,
        "customers": count,
        "mean_wait": (sum(waits) / count) if count else float("nan"),
        "p_wait": (sum(1 for w in waits if w > 0.0) / count) if count else float("nan"),
    }


def ciw_simulation(c: int, lam: float, mu: float, seed: int = 1):
    """The M/M/c model as a fresh, seeded ``ciw.Simulation`` (not yet run)."""
    ciw = _require("ciw")
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[int(c)],
    )
    ciw.seed(seed)
    return ciw.Simulation(network)


def run_ciw(c: int, lam: float, mu: float, n: int, seed: int = 1) -> dict:
    """M/M/c in Ciw (3.x) for simulated time ``n / lam``; see the module docstring."""
    _check(c, lam, mu, n)
    sim = ciw_simulation(c, lam, mu, seed)
    t0 = time.perf_counter()
    sim.simulate_until_max_time(n / lam)
    seconds = time.perf_counter() - t0
    # Completed services only (Ciw's default record types; no incomplete records).
    records = sim.get_all_records(only=["service"])
    return _summary(seconds, [r.waiting_time for r in records])


def simpy_model(c: int, lam: float, mu: float, seed: int = 1,
                customers: int | None = None):
    """The textbook SimPy M/M/c model, built but not run: ``(env, waits, done)``.

    A ``Resource`` of capacity ``c``, a source process that spawns one customer process
    per Poisson arrival, each customer requesting the resource, recording its wait and
    holding a server for an exponential time. ``waits`` fills as customers complete.
    With ``customers``, ``done`` is an event that fires when that many have completed
    (``env.run(until=done)``); else it is None.
    """
    simpy = _require("simpy")
    rng = random.Random(seed)
    expovariate = rng.expovariate

    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=int(c))
    waits: list[float] = []
    done = None if customers is None else env.event()

    def customer():
        arrived = env.now
        with servers.request() as req:
            yield req
            wait = env.now - arrived
            yield env.timeout(expovariate(mu))
        waits.append(wait)  # recorded on completion, like Ciw's service records
        if done is not None and len(waits) == customers:
            done.succeed()

    def source():
        while True:
            yield env.timeout(expovariate(lam))
            env.process(customer())

    env.process(source())
    return env, waits, done


def run_simpy(c: int, lam: float, mu: float, n: int, seed: int = 1) -> dict:
    """M/M/c in SimPy (4.x) for simulated time ``n / lam``; see the module docstring
    and :func:`simpy_model`."""
    _check(c, lam, mu, n)
    env, waits, _ = simpy_model(c, lam, mu, seed)
    t0 = time.perf_counter()
    env.run(until=n / lam)
    seconds = time.perf_counter() - t0
    return _summary(seconds, waits)


def erlang_c(c: int, lam: float, mu: float) -> dict:
    """Steady-state M/M/c theory: P(wait > 0) (Erlang C) and mean wait in queue."""
    a = lam / mu
    if a >= c:
        return {"p_wait": 1.0, "mean_wait": math.inf}
    b = 1.0  # Erlang B recursion: B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    rho = a / c
    p_wait = b / (1.0 - rho + rho * b)
    return {"p_wait": p_wait, "mean_wait": p_wait / (c * mu - lam)}


if __name__ == "__main__":
    C, MU = 20, 1 / 240
    LAM = 0.9 * C * MU
    N = 100_000
    print(f"M/M/{C}, lam={LAM:.6g}/s, mu={MU:.6g}/s (load 0.9), n={N:,} arrivals")
    print(f"  Erlang C theory: {erlang_c(C, LAM, MU)}")
    for name, run in (("ciw", run_ciw), ("simpy", run_simpy)):
        if not available()[name]:
            print(f"  {name}: not installed (pip install {name})")
            continue
        mod = importlib.import_module(name)
        print(f"  {name} {getattr(mod, '__version__', '?')}: {run(C, LAM, MU, N)}")
