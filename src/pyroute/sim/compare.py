"""Paired what-if differences: how far a KPI moves between two configurations run on the
same customers, with a confidence interval a lead can read as "a change" or "noise".

``pyroute simulate --compare`` and ``--set`` run every configuration with the same seed,
so the runs share their random numbers (common random numbers): the same customers arrive
at the same moments with the same handle times and patience. Each run's window is cut
into the same slices (``Report.batches``, by arrival time), so slice ``b`` of one run and
slice ``b`` of the other hold the same customers. The difference of a KPI is taken slice
by slice and its 99 % interval computed from those paired differences (batch means on
the differences): what the customers had in common cancels, and the interval is far
tighter than the one two independent runs would give (``unpaired_half_width``, shown
for contrast). ``diff`` is the difference of the two runs' whole-window figures (the Δ
of the tables) and ``half_width`` that of the paired slices around it; a difference
whose interval holds 0 is *not distinguishable from zero*.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import msgspec

from .report import Report, t99

#: the KPIs that have per-slice figures (Batch), in the order the tables show them
PAIRED_KPIS = ("service_level", "mean_wait", "asa", "p_wait", "p_abandon")


class Difference(msgspec.Struct, frozen=True):
    """``other − base`` of one KPI of one row (``overall``, ``channel web``, ``group
    tech``): ``diff`` ± ``half_width`` (99 %, paired slices), ``slices`` the number of
    slices both runs had a figure for, ``significant`` False when the interval holds 0.
    ``unpaired_half_width``: the interval two independent runs of the same length would
    give (the runs' own batch-means intervals combined), for contrast."""

    kpi: str
    base: Optional[float]
    other: Optional[float]
    diff: Optional[float]
    half_width: Optional[float]
    unpaired_half_width: Optional[float]
    slices: int
    significant: bool


def _interval(xs: Sequence[float]) -> Optional[tuple[float, float]]:
    n = len(xs)
    if n < 2:
        return None
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, t99(n - 1) * sd / math.sqrt(n)


def difference(base: Report, other: Report, row: str, kpi: str) -> Difference:
    """The paired difference of ``kpi`` in ``row`` between two reports of one scenario
    run with the same seed (raises ValueError if their slices do not line up)."""
    if kpi not in PAIRED_KPIS:
        raise ValueError(f"no per-slice figure for {kpi!r}; one of {', '.join(PAIRED_KPIS)}")
    bb, ob = base.batches_of(row), other.batches_of(row)
    if len(bb) != len(ob) or base.seed != other.seed or base.duration != other.duration \
            or base.warmup != other.warmup:
        raise ValueError("paired differences need two runs of the same window, seed and "
                         "number of slices (pyroute simulate --compare runs them so)")
    pairs = [(getattr(b, kpi), getattr(o, kpi)) for b, o in zip(bb, ob)]
    both = [(b, o) for b, o in pairs if b is not None and o is not None]
    ds = [o - b for b, o in both]
    paired = _interval(ds)
    ib = _interval([b for b, _ in both])
    io = _interval([o for _, o in both])
    unpaired = math.hypot(ib[1], io[1]) if ib is not None and io is not None else None
    bv = _figure(base, row, kpi)
    ov = _figure(other, row, kpi)
    if paired is None:
        diff = ov - bv if ov is not None and bv is not None else None
        return Difference(kpi, bv, ov, diff, None, unpaired, len(ds), False)
    m, hw = paired
    diff = ov - bv if ov is not None and bv is not None else m
    return Difference(kpi, bv, ov, diff, hw, unpaired, len(ds), abs(diff) > hw)


def _figure(report: Report, row: str, kpi: str) -> Optional[float]:
    if row == "overall":
        k = report.overall
    else:
        kind, _, name = row.partition(" ")
        if kind == "line":
            k = report.lines.get(int(name)) if name.isdigit() else None
        else:
            k = (report.channels if kind == "channel" else report.groups).get(name)  # type: ignore
    return getattr(k, kpi) if k is not None else None


def rows_of(report: Report) -> list[str]:
    """The row labels of a report, overall first, then channels, groups and lines."""
    return (["overall"] + [f"channel {c}" for c in report.channels]
            + [f"group {g}" for g in report.groups] + [f"line {n}" for n in report.lines])


def compare(base: Report, other: Report) -> dict[str, dict[str, Difference]]:
    """Every paired difference, by row label and KPI."""
    return {row: {k: difference(base, other, row, k) for k in PAIRED_KPIS}
            for row in rows_of(base)}
