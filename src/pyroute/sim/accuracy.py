"""How good is the expected wait? ``Queued.expected_wait`` against the waits that then
happened in the simulator, beside two published delay predictors (issue 14, point 5).

A run drives the real Router through :func:`pyroute.sim.engine._simulate` with a
:class:`Recorder` in front of it: the loop calls the recorder, which calls the Router and
reads the events on their way back (the plain ``pyroute simulate`` path does not have it).
For every ``Queued`` event it notes three predictions made at that moment:

- **pyroute**: the event's ``expected_wait`` (learned per-queue rates, ``pyroute._ewt``).
- **QL**, the queue-length predictor (Whitt 1999; with abandonment the form of Ibrahim
  and Whitt 2009, ``sum(1 / (c·mu + k·theta) for k in range(position))``), from what the
  scenario knows and the router does not: ``c·mu`` is the service capacity online for the
  queue, the slots (each online member's limit for the channel, over the channel's cost)
  times 1 / the channel's mean handling time; ``theta`` is 1 / the channel's mean
  patience (0 without patience). Traffic of one channel in several streams is averaged
  by arrival rate. Handling slowdown, other channels sharing the slots, priorities and
  overflow are what QL does not see: it is the optimal predictor only on M/M/c(+M).
- **LES**, last-to-enter-service (Ibrahim and Whitt 2009): the wait of the last
  conversation of the same queue (home group, channel) that started service before this
  one queued; only conversations that waited in that queue count (one answered at once
  never joined it).

and then the wait that happened: from the ``Queued`` event to the conversation's next
``Assigned`` or ``Accepted`` (by any group: an overflow's answer counts). Every stay is a
prediction: the first wait after arrival, and a new wait after an escalation or a transfer
(a new ``Queued``). What is scored:

- stays queued inside the counted window (``warmup`` to ``warmup + duration``, by the
  ``Queued`` time, as the report counts arrivals) and answered; those that left
  unanswered (patience, early cancels) are counted in ``abandoned`` and left out, as are
  those still waiting when the run stopped (``unresolved``);
- only where QL is defined (someone who can take the channel online in the home group);
  the rest are counted in ``no_capacity`` and scored for nobody, so the three predictors
  are scored on the same stays;
- where pyroute's prediction is None (no service of the queue seen yet, or nobody of the
  group online) its score uses QL's, counted in ``pyroute_none``; where LES has nothing
  yet (no service of the queue seen) it uses QL's too, counted in ``les_none``.

Per channel and overall: n, mean wait, and the mean absolute error and root mean square
error of each predictor (and its bias, the mean of prediction minus wait, in the JSON).
``python -m pyroute.sim.accuracy [--quick] [--json]`` runs the
three cases of :func:`cases` alone; ``pyroute bench`` puts the same table in
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ..events import Accepted, Assigned, Cancelled, Queued
from .engine import _simulate
from .scenario import Scenario, load_scenario, scenario_from

PREDICTORS = ("pyroute", "ql", "les")
EXAMPLE = Path(__file__).resolve().parent / "example.toml"


class Recorder:
    """Stands in for the Router in the loop (``_simulate(sc, wrap=Recorder.wrapper(sc,
    out))``): each method the loop calls forwards to the Router and reads the events it
    returns. Operators are the scenario's crews, numbered as ``_simulate`` numbers them
    without a ``schedule``. O(1) an event, O(position) a ``Queued`` with patience."""

    def __init__(self, router: Any, scenario: Scenario) -> None:
        self._r = router
        self.next_timer = router.next_timer
        self.stats = router.stats
        cfg = scenario.router
        self.cnames = [c.name for c in cfg.channels]
        gnames = [g.name for g in cfg.groups]
        C = len(self.cnames)
        self._C = C
        self._g = {n: i for i, n in enumerate(gnames)}
        self._c = {n: i for i, n in enumerate(self.cnames)}
        self.start, self.end = scenario.warmup, scenario.warmup + scenario.duration
        self.mu, self.theta = _rates(scenario, self.cnames)
        # operators as engine._simulate numbers them (crew by crew), each with its slots
        # per channel in each of its groups; slots online per queue (group * C + channel)
        self._ops: list[list[tuple[int, int]]] = []
        for crew in scenario.operators:
            for _ in range(crew.count):
                mine = []
                for g in crew.groups:
                    for c, ch in enumerate(cfg.channels):
                        k = min(crew.limit, crew.channel_limits.get(ch.name, crew.limit))
                        k = min(k, 1) if ch.cost == "all" else k // ch.cost
                        if k > 0:
                            mine.append((self._g[g] * C + c, k))
                self._ops.append(mine)
        self._online = [False] * len(self._ops)
        self.slots = [0] * (len(gnames) * C)
        self.les: list[Optional[float]] = [None] * (len(gnames) * C)
        self.pending: dict[Any, tuple[int, float, int]] = {}   # request -> (queue, at, row)
        # one row a counted stay: channel, queue, pyroute, QL, LES, the wait (None: none yet)
        self.ch: list[int] = []
        self.pred: list[Optional[float]] = []
        self.ql: list[Optional[float]] = []
        self.les_at: list[Optional[float]] = []
        self.wait: list[Optional[float]] = []
        self.left = [0] * C

    @classmethod
    def wrapper(cls, scenario: Scenario, out: list) -> Callable[[Any], "Recorder"]:
        """For ``_simulate(wrap=...)``: builds the recorder and appends it to ``out``."""
        def wrap(router: Any) -> Recorder:
            rec = cls(router, scenario)
            out.append(rec)
            return rec
        return wrap

    # ------------------------------------------------------------------ the Router's calls
    def submit(self, *a: Any) -> list:
        return self._see(self._r.submit(*a))

    def finish(self, *a: Any) -> list:
        return self._see(self._r.finish(*a))

    def cancel(self, *a: Any) -> list:
        return self._see(self._r.cancel(*a))

    def escalate(self, *a: Any) -> list:
        return self._see(self._r.escalate(*a))

    def transfer(self, *a: Any) -> list:
        return self._see(self._r.transfer(*a))

    def accept(self, *a: Any) -> list:
        return self._see(self._r.accept(*a))

    def advance(self, *a: Any) -> list:
        return self._see(self._r.advance(*a))

    def set_status(self, op: int, status: str, now: float) -> list:
        on = status == "online"
        if on != self._online[op]:   # before the call: a Queued it returns sees the change
            self._online[op] = on
            for q, k in self._ops[op]:
                self.slots[q] += k if on else -k
        return self._see(self._r.set_status(op, status, now))

    # ------------------------------------------------------------------ the events
    def _see(self, events: list) -> list:
        for e in events:
            tp = type(e)
            if tp is Queued:
                self._queued(e)
            elif tp is Assigned or tp is Accepted:
                rec = self.pending.pop(e.request, None)
                if rec is not None:
                    q, at, row = rec
                    w = e.at - at
                    self.les[q] = w
                    if row >= 0:
                        self.wait[row] = w
            elif tp is Cancelled:
                rec = self.pending.pop(e.request, None)
                if rec is not None and rec[2] >= 0:
                    self.left[self.ch[rec[2]]] += 1
        return events

    def _queued(self, e: Queued) -> None:
        c = self._c[e.channel]
        q = self._g[e.group] * self._C + c
        row = -1
        if self.start <= e.at < self.end:
            row = len(self.ch)
            cm = self.slots[q] * self.mu[c]
            self.ch.append(c)
            self.pred.append(e.expected_wait)
            self.ql.append(ql_wait(e.position, cm, self.theta[c]) if cm > 0 else None)
            self.les_at.append(self.les[q])
            self.wait.append(None)
        self.pending[e.request] = (q, e.at, row)


def ql_wait(position: int, cmu: float, theta: float) -> float:
    """The queue-length predictor: ``position`` (1: next) with service capacity ``cmu``
    per second and abandonment rate ``theta`` per waiting conversation,
    ``sum(1 / (cmu + k * theta) for k in range(position))`` (``position / cmu`` without
    abandonment). O(position)."""
    if theta <= 0.0:
        return position / cmu
    return math.fsum(1.0 / (cmu + k * theta) for k in range(position))


def _rates(sc: Scenario, cnames: list[str]) -> tuple[list[float], list[float]]:
    """Per channel: 1 / mean handling time and 1 / mean patience (0: no patience) of its
    traffic, streams weighted by arrival rate (mean hourly rate; recorded streams 1)."""
    mu, theta = [], []
    for ch in cnames:
        w = h = th = 0.0
        for t in sc.traffic:
            if t.channel != ch:
                continue
            rate = (t.rate if t.rate is not None
                    else sum(t.rates) / 24 if t.rates is not None else 1.0)
            w += rate
            h += rate * t.handle.mean
            th += rate * (1.0 / t.patience.mean if t.patience is not None else 0.0)
        mu.append(w / h if h > 0 else 0.0)
        theta.append(th / w if w > 0 else 0.0)
    return mu, theta


# ---------------------------------------------------------------------------------------
# Scores


def _score(rows: list[tuple[Optional[float], float, Optional[float], float]]
           ) -> dict[str, Any]:
    """n, mean wait, MAE, RMSE and bias of each predictor over (pyroute, QL, LES, wait) rows
    whose QL is defined; the fallbacks (module docstring) counted."""
    n = len(rows)
    out: dict[str, Any] = {"n": n, "pyroute_none": 0, "les_none": 0,
                           "mean_wait": None, "mae": {}, "rmse": {}, "bias": {}}
    if not n:
        for p in PREDICTORS:
            out["mae"][p] = out["rmse"][p] = out["bias"][p] = None
        return out
    bi = [0.0, 0.0, 0.0]
    ab = [0.0, 0.0, 0.0]
    sq = [0.0, 0.0, 0.0]
    total = 0.0
    for pred, ql, les, w in rows:
        if pred is None:
            out["pyroute_none"] += 1
            pred = ql
        if les is None:
            out["les_none"] += 1
            les = ql
        total += w
        for i, x in enumerate((pred, ql, les)):
            d = x - w
            bi[i] += d
            ab[i] += abs(d)
            sq[i] += d * d
    out["mean_wait"] = total / n
    for i, p in enumerate(PREDICTORS):
        out["mae"][p] = ab[i] / n
        out["bias"][p] = bi[i] / n
        out["rmse"][p] = math.sqrt(sq[i] / n)
    return out


def score(recs: list[Recorder]) -> dict[str, Any]:
    """Per channel and overall, over the stays of one or more runs (each a recorder)."""
    names = recs[0].cnames
    by: list[list] = [[] for _ in names]
    abandoned = [0] * len(names)
    unresolved = [0] * len(names)
    no_cap = [0] * len(names)
    for rec in recs:
        for c, n in enumerate(rec.left):
            abandoned[c] += n
        for _, _, row in rec.pending.values():
            if row >= 0:
                unresolved[rec.ch[row]] += 1
        for c, p, ql, les, w in zip(rec.ch, rec.pred, rec.ql, rec.les_at, rec.wait):
            if w is None:
                continue
            if ql is None:
                no_cap[c] += 1
                continue
            by[c].append((p, ql, les, w))
    channels = {}
    for c, name in enumerate(names):
        s = _score(by[c])
        if not s["n"] and not abandoned[c] and not no_cap[c]:
            continue   # a channel that never queued
        s.update(abandoned=abandoned[c], unresolved=unresolved[c], no_capacity=no_cap[c])
        channels[name] = s
    overall = _score([r for rows in by for r in rows])
    overall.update(abandoned=sum(abandoned), unresolved=sum(unresolved),
                   no_capacity=sum(no_cap))
    return {"channels": channels, "overall": overall}


def measure(scenarios: list[Scenario], seeds: Optional[list[int]] = None,
            engine: str = "native", **simulate: Any) -> dict[str, Any]:
    """Run each scenario (with its seed from ``seeds``, else its own) through a
    :class:`Recorder` and score the stays of all the runs together (:func:`score`).
    ``simulate``: more keywords for the simulator (``base``, ``arrivals``)."""
    recs: list[Recorder] = []
    conversations = 0
    t0 = time.perf_counter()
    for i, sc in enumerate(scenarios):
        seed = sc.seed if seeds is None else seeds[i]
        report, _ = _simulate(sc, seed, engine, wrap=Recorder.wrapper(sc, recs), **simulate)
        conversations += report.conversations
    out = score(recs)
    out.update(conversations=conversations, seconds=time.perf_counter() - t0,
               engine=engine)
    return out


# ---------------------------------------------------------------------------------------
# The cases


HANDLE = 240.0       # M/M/c: mean handling time, s
C, LOAD = 10, 0.9    # M/M/c: operators (limit 1) and load
PATIENCE = 180.0     # M/M/c+M: mean patience, s

#: conversations of each M/M/c run, and days of the floor (one seed a day)
SIZES = {"full": {"mmc": 1_000_000, "floor_days": 50},
         "quick": {"mmc": 50_000, "floor_days": 5}}
SEED = 7             # M/M/c and M/M/c+M; the floor's days have seeds 1, 2, ...


def mmc(conversations: int, patience: Optional[float] = None, c: int = C,
        load: float = LOAD, seed: int = SEED) -> Scenario:
    """One channel, one group of ``c`` operators taking one conversation at a time,
    Poisson arrivals at ``load``, exponential handling (and patience: M/M/c+M)."""
    lam = load * c / HANDLE
    traffic: dict[str, Any] = {"channel": "web", "group": "g", "rate": lam,
                               "handle": {"dist": "exp", "mean": HANDLE}}
    if patience is not None:
        traffic["patience"] = {"dist": "exp", "mean": patience}
    duration = conversations / lam
    return scenario_from({
        "duration": duration, "warmup": 20 * HANDLE, "seed": seed,
        "sample_every": duration / 10,
        "router": {"channels": [{"name": "web", "target_wait": 20.0, "early_cancel": 0.0}],
                   "groups": [{"name": "g"}]},
        "operators": [{"name": "op", "count": c, "limit": 1, "groups": ["g"]}],
        "traffic": [traffic]})


def cases(size: str = "full") -> list[dict[str, Any]]:
    """The three cases at ``size`` (``"full"`` or ``"quick"``): name, model, scenarios,
    seeds."""
    n, days = SIZES[size]["mmc"], SIZES[size]["floor_days"]
    floor = load_scenario(EXAMPLE)
    return [
        {"case": "M/M/c", "model": f"M/M/{C}, load {LOAD}, exp handling {HANDLE:g} s, "
                                   f"{n:,} conversations, seed {SEED}",
         "scenarios": [mmc(n)], "seeds": [SEED]},
        {"case": "M/M/c+M", "model": f"M/M/{C}+M, load {LOAD}, exp handling {HANDLE:g} s, "
                                     f"exp patience {PATIENCE:g} s, {n:,} conversations, "
                                     f"seed {SEED}",
         "scenarios": [mmc(n, PATIENCE)], "seeds": [SEED]},
        {"case": "floor", "model": f"the bundled example floor (example.toml), {days} days "
                                   f"(seeds 1-{days})",
         "scenarios": [floor] * days, "seeds": list(range(1, days + 1))},
    ]


def run(quick: bool = False, engine: str = "native",
        progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every case of :func:`cases`, measured; JSON-ready."""
    size = "quick" if quick else "full"
    out: dict[str, Any] = {"size": size, "engine": engine, "cases": []}
    t0 = time.perf_counter()
    for case in cases(size):
        progress(f"expected wait accuracy: {case['case']}")
        m = measure(case["scenarios"], case["seeds"], engine)
        m.update(case=case["case"], model=case["model"])
        out["cases"].append(m)
    out["seconds"] = time.perf_counter() - t0
    out["goals"] = goals(out)
    return out


MMC_MARGIN = 1.10    # goal: pyroute's MAE at most this times QL's on M/M/c


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14's goals, each with whether the run met it."""
    by = {c["case"]: c["overall"] for c in res["cases"]}
    out = []
    m = by.get("M/M/c")
    if m and m["n"]:
        ratio = m["mae"]["pyroute"] / m["mae"]["ql"]
        out.append({"goal": f"M/M/c: pyroute's MAE at most {MMC_MARGIN:.2f} × QL's",
                    "value": f"{ratio:.3f} ×", "met": ratio <= MMC_MARGIN})
    f = by.get("floor")
    if f and f["n"]:
        best = min(f["mae"]["ql"], f["mae"]["les"])
        out.append({"goal": "floor: pyroute's MAE below QL's and LES's (overall)",
                    "value": f"{f['mae']['pyroute'] / best:.3f} × the better",
                    "met": f["mae"]["pyroute"] < best})
        best = min(f["rmse"]["ql"], f["rmse"]["les"])
        out.append({"goal": "floor: pyroute's RMSE below QL's and LES's (overall)",
                    "value": f"{f['rmse']['pyroute'] / best:.3f} × the better",
                    "met": f["rmse"]["pyroute"] < best})
    return out


# ---------------------------------------------------------------------------------------
# The table


HEADER = ("case", "channel", "scored", "left out: abandoned", "mean wait",
          "MAE pyroute", "MAE QL", "MAE LES", "RMSE pyroute", "RMSE QL", "RMSE LES",
          "None → QL: pyroute / LES", "no capacity")


def _s(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.1f}"


def rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row a channel of each case, then the case's overall row; seconds."""
    out = []
    for case in res["cases"]:
        lines = list(case["channels"].items())
        if len(lines) != 1:
            lines.append(("overall", case["overall"]))
        for name, s in lines:
            out.append((case["case"], name, f"{s['n']:,}", f"{s['abandoned']:,}",
                        _s(s["mean_wait"]),
                        *(_s(s["mae"][p]) for p in PREDICTORS),
                        *(_s(s["rmse"][p]) for p in PREDICTORS),
                        f"{s['pyroute_none']:,} / {s['les_none']:,}",
                        f"{s['no_capacity']:,}"))
    return out


def goals_text(res: dict[str, Any]) -> str:
    return "Goals (issue 14): " + "; ".join(
        f"{g['goal']}: {g['value']} ({'met' if g['met'] else 'MISSED'})" for g in res["goals"])


def text(res: dict[str, Any]) -> str:
    """What the table shows, the cases with their sizes, seeds and run times, the goals."""
    cases = "; ".join(f"**{c['case']}**: {c['model']} ({c['conversations']:,} conversations "
                      f"simulated, {c['seconds']:.1f} s, {c['engine']} engine)"
                      for c in res["cases"])
    return (f"`Queued.expected_wait` (**pyroute**) against the wait that then happened, "
            f"beside the queue-length predictor **QL** (position / (c·μ), c·μ = the online "
            f"slots for the channel / its mean handling time; with patience "
            f"Σₖ₌₀^(position−1) 1 / (cμ + kθ), θ = 1 / mean patience) and "
            f"last-to-enter-service **LES** (the wait of the queue's last conversation to "
            f"start service). Errors in seconds over the waits queued in the counted window "
            f"and answered (abandoned ones left out); where pyroute or LES has no prediction "
            f"yet its score uses QL's; waits queued with nobody online to take them (no "
            f"capacity) are scored for none (method: `pyroute.sim.accuracy`). {cases}. "
            f"{goals_text(res)}. Alone: `python -m pyroute.sim.accuracy"
            f"{' --quick' if res['size'] == 'quick' else ''}`.")


def markdown(res: dict[str, Any]) -> str:
    lines = [text(res), "", "| " + " | ".join(HEADER) + " |",
             "|" + "|".join(" --- " for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(res)]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pyroute.sim.accuracy",
        description="Expected wait accuracy: pyroute's prediction against QL and LES on "
                    "M/M/c, M/M/c+M and the bundled floor (a Markdown table).")
    ap.add_argument("--quick", action="store_true", help="small sizes (as the tests)")
    ap.add_argument("--engine", choices=("native", "reference"), default="native")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    res = run(args.quick, args.engine)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(markdown(res), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
