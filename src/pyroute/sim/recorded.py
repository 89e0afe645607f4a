"""``pyroute simulate --traffic-from DIR``: yesterday's customers under another plan.

A durable router's journal (``Router.open(DIR)``, ``pyroute serve --data DIR``) holds
every submit, finish and cancel with its time. Replayed through a router of the
journal's own config, it tells for each conversation when it arrived (channel, group),
when it was first answered, when it ended, and whether its customer left unanswered.
From that, each recorded conversation becomes one arrival of the re-run:

* **arrival**: the submit's time, channel and group (the journal's clock moved so that
  its first day starts at 0 and keeps its time of day);
* **handle**: answered ones, the time from their first answer to their end (transfers
  and escalations included, as the customer saw it); the others (left, refused, still
  open), one drawn from the answered of their channel;
* **patience**, which a journal only half shows (*censored*): a customer who left after
  waiting *w* had patience *w*; one answered after *w* would have waited longer than
  *w*, by how much is unseen. Patience is taken as exponential per channel, its rate
  estimated from all waits (abandons / total time waited: the estimate for censored
  exponential data), and an answered customer's patience is *w* plus a draw from it
  (memoryless). A channel where nobody left gets infinite patience.

Nothing of the journal's operators or config is used for the re-run: the scenario's
router and crews are the plan being tried. docs/scenario.md, "Yesterday under another
plan", says what it reproduces and how closely.
"""

from __future__ import annotations

import math
import os
import random
from typing import Optional

import msgspec

from ..errors import ConfigError
from .scenario import Arrival, Scenario, Traffic


class Derived(msgspec.Struct, frozen=True):
    """What was read from the journal, per channel: conversations, answered, left
    unanswered, refused, still open at the end, mean handle of the answered, and the
    patience estimated (mean seconds, None: nobody left)."""

    conversations: int
    start: float                      # the journal's first arrival, on its own clock
    shift: float                      # subtracted from the journal's times
    channels: dict[str, dict]


def derive(directory: str | os.PathLike, seed: int = 1) -> tuple[list[Arrival], Derived]:
    """The arrivals of a journal (module doc), in time order, and what was derived."""
    from ..journal.format import JournalError
    from ..journal.replay import read_journal
    from ..router import Router
    try:
        head, cmds = read_journal(directory)
    except JournalError as e:
        raise ConfigError(f"--traffic-from {directory}: {e}") from None
    router = Router(head["config"])
    arrived: dict = {}        # request -> [time, channel, group, answered_at, end, left]
    order: list = []
    for cmd in cmds:
        name = type(cmd).__name__
        if name == "Submit":
            arrived[cmd.request] = [cmd.now, cmd.channel, cmd.group, None, None, False]
            order.append(cmd.request)
        try:
            events = router.apply(cmd)
        except Exception:     # refused then, refused now: it changed nothing
            continue
        for e in events:
            k = type(e).__name__
            rec = arrived.get(getattr(e, "request", None))
            if rec is None:
                continue
            if k in ("Assigned", "Accepted") and rec[3] is None:
                waited = getattr(e, "waited", None)
                rec[3] = rec[0] + waited if waited is not None else cmd.now
            elif k in ("Finished", "Cancelled") and rec[4] is None:
                rec[4] = cmd.now if cmd.now is not None else rec[0]
                rec[5] = k == "Cancelled" and rec[3] is None
            elif k == "Rejected":
                rec[4] = rec[0]
    if not order:
        raise ConfigError(f"--traffic-from {directory}: the journal has no traffic (no "
                          f"submit): nothing to re-run")
    rng = random.Random(seed)
    by_ch: dict[str, dict] = {}
    for rid in order:
        t, ch, g, ans, end, left = arrived[rid]
        d = by_ch.setdefault(ch, {"conversations": 0, "answered": 0, "left": 0,
                                  "open": 0, "handles": [], "waited": 0.0})
        d["conversations"] += 1
        if ans is not None:
            d["answered"] += 1
            d["waited"] += ans - t
            if end is not None:
                d["handles"].append(end - ans)
        elif left:
            d["left"] += 1
            d["waited"] += end - t
        elif end is None:
            d["open"] += 1
    start = arrived[order[0]][0]
    shift = start - start % 86400.0 if start >= 86400.0 else 0.0
    rows: list[Arrival] = []
    for rid in order:
        t, ch, g, ans, end, left = arrived[rid]
        d = by_ch[ch]
        rate = d["left"] / d["waited"] if d["waited"] > 0 and d["left"] else 0.0
        if left:
            patience: Optional[float] = end - t
        elif ans is not None and rate > 0:
            patience = (ans - t) + rng.expovariate(rate)
        elif rate > 0:
            patience = rng.expovariate(rate)
        else:
            patience = None
        if ans is not None and end is not None:
            handle: Optional[float] = max(end - ans, 1e-3)
        elif d["handles"]:
            handle = rng.choice(d["handles"])
        else:
            handle = None     # the stream's own handle distribution
        rows.append(Arrival(t - shift, ch, g, handle, patience))
    summary = {ch: {"conversations": d["conversations"], "answered": d["answered"],
                    "left": d["left"], "open": d["open"],
                    "mean_handle": (sum(d["handles"]) / len(d["handles"])
                                    if d["handles"] else None),
                    "mean_patience": (d["waited"] / d["left"] if d["left"] else None)}
               for ch, d in by_ch.items()}
    return rows, Derived(len(order), start, shift, summary)


def with_traffic(scenario: Scenario, rows: list[Arrival]) -> Scenario:
    """The scenario with its traffic replaced by the recorded rows (one recorded stream;
    each row names its channel and group) and its window covering them: no warm-up
    (the journal's floor started as it did), counting until the last arrival."""
    channels = {c.name for c in scenario.router.channels}
    groups = {g.name for g in scenario.router.groups}
    unknown_c = sorted({r.channel for r in rows} - channels)
    unknown_g = sorted({r.group for r in rows} - groups)
    if unknown_c or unknown_g:
        raise ConfigError(
            "--traffic-from: the journal's traffic uses "
            + " and ".join(x for x in (
                f"channel(s) {', '.join(unknown_c)}" if unknown_c else "",
                f"group(s) {', '.join(unknown_g)}" if unknown_g else "") if x)
            + " that the scenario's router does not have; the plan must take the same "
              "channels and groups (it may add others)")
    first = rows[0]
    stream = Traffic(channel=first.channel, group=first.group, recorded="<journal>")
    end = max(r.time for r in rows)
    duration = max(3600.0, math.ceil((end + 1.0) / 3600.0) * 3600.0)
    return msgspec.structs.replace(scenario, traffic=(stream,), warmup=0.0,
                                   duration=duration)
