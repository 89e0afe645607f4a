"""How a Report is shown: rich tables, side-by-side comparisons, a self-contained HTML page.

The HTML page carries its charts as inline SVG (no scripts, no external files), so it can
be mailed or attached to a ticket as it is.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from .compare import PAIRED_KPIS, Difference, compare
from .report import TARGET_SHARES, KPIs, Report

COLUMNS = [  # (header, attribute, format)
    ("offered", "offered", "int"), ("answered", "answered", "int"),
    ("ASA s", "asa", "sec"), ("mean wait s", "mean_wait", "sec"),
    ("SL", "service_level", "pct"), ("SL ans.", "service_level_answered", "pct"),
    ("waited", "p_wait", "pct"), ("abandon", "p_abandon", "pct"),
    ("early", "cancelled_early", "int"), ("rejected", "rejected", "int"),
    ("occupancy", "occupancy", "pct"),
]


def fmt(value: object, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "int":
        return f"{value:,}"
    if kind == "pct":
        return f"{100 * value:.1f}%"  # type: ignore[operator]
    return f"{value:.1f}"  # type: ignore[str-format]


def rows(report: Report) -> list[tuple[str, KPIs]]:
    out = [("overall", report.overall)]
    out += [(f"channel {n}", k) for n, k in report.channels.items()]
    out += [(f"group {n}", k) for n, k in report.groups.items() if k.offered or k.occupancy]
    out += [(f"line {n}", k) for n, k in report.lines.items() if k.offered or k.occupancy]
    return out


def print_report(report: Report, console) -> None:
    from rich.table import Table
    title = (f"{report.name or 'scenario'} — {report.duration / 3600:g} h counted after "
             f"{report.warmup / 60:g} min warm-up, seed {report.seed}, {report.engine} engine")
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for head, _, _ in COLUMNS:
        table.add_column(head, justify="right")
    for label, k in rows(report):
        table.add_row(label, *[fmt(getattr(k, a), f) for _, a, f in COLUMNS])
    console.print(table)
    s = report.spread
    console.print(
        f"load spread over human operators: utilisation max − min "
        f"{fmt(s.max_minus_min, 'pct')}, Jain's index {fmt(s.jain, 'pct')}; "
        f"waits of the answered: p50 {fmt(report.overall.wait_p50, 'sec')} s, "
        f"p90 {fmt(report.overall.wait_p90, 'sec')} s, p99 {fmt(report.overall.wait_p99, 'sec')} s")
    console.print(f"{report.conversations:,} conversations, {report.router_calls:,} router "
                  f"calls in {report.wall_seconds:.2f} s", style="dim")


COMPARE = [("offered", "offered", "int"), ("ASA s", "asa", "sec"),
           ("SL", "service_level", "pct"), ("abandon", "p_abandon", "pct"),
           ("waited", "p_wait", "pct"), ("occupancy", "occupancy", "pct")]


def print_compare(reports: Sequence[Report], labels: Sequence[str], console) -> None:
    """Configurations side by side, each against the first (Δ)."""
    from rich.table import Table
    table = Table(title="what-if: the same customers under each configuration "
                        "(common random numbers)", title_justify="left")
    table.add_column("")
    table.add_column("KPI")
    for i, label in enumerate(labels):
        table.add_column(label, justify="right")
        if i:
            table.add_column("Δ", justify="right")
    base = reports[0]
    for label, _ in rows(base):
        for head, attr, kind in COMPARE:
            cells = []
            first = _kpis(base, label)
            for i, rep in enumerate(reports):
                k = _kpis(rep, label)
                v = getattr(k, attr) if k is not None else None
                cells.append(fmt(v, kind))
                if i:
                    b = getattr(first, attr) if first is not None else None
                    cells.append(_delta(v, b, kind))
            table.add_row(label if head == COMPARE[0][0] else "", head, *cells)
        table.add_section()
    console.print(table)


#: how each paired KPI is shown: (header, format)
PAIRED_SHOW = {"service_level": ("SL", "pct"), "mean_wait": ("mean wait s", "sec"),
               "asa": ("ASA s", "sec"), "p_wait": ("waited", "pct"),
               "p_abandon": ("abandon", "pct")}


def fmt_difference(d: Difference, kind: str) -> str:
    """``+3.1 pt ± 0.8`` (a change), ``+0.4 pt ± 1.2 ~`` (not distinguishable from 0)."""
    if d.diff is None:
        return "–"
    if d.diff == 0 and not d.half_width:
        return "="
    scale, unit = (100.0, " pt") if kind == "pct" else (1.0, "")
    text = f"{scale * d.diff:+.1f}{unit}"
    if d.half_width is None:
        return text + " (no interval)"
    text += f" ± {scale * d.half_width:.1f}"
    return text if d.significant else text + " ~"


def delta_rows(reports: Sequence[Report]) -> list[tuple[str, str, list[Difference]]]:
    """(row label, KPI, its difference in each report after the first) for the rows the
    report tables show."""
    base = reports[0]
    diffs = [compare(base, r) for r in reports[1:]]
    out = []
    for label, _ in rows(base):
        for kpi in PAIRED_KPIS:
            out.append((label, kpi, [d[label][kpi] for d in diffs]))
    return out


def print_deltas(reports: Sequence[Report], labels: Sequence[str], console) -> None:
    """The paired differences against the first configuration, with their 99 %
    intervals; ``~`` marks a difference not distinguishable from zero."""
    from rich.table import Table
    table = Table(title=f"what-if against {labels[0]}: paired differences, 99 % interval "
                        f"(same customers in every run; ~ = not distinguishable from 0)",
                  title_justify="left")
    table.add_column("")
    table.add_column("KPI")
    table.add_column(labels[0], justify="right")
    for label in labels[1:]:
        table.add_column(label, justify="right")
        table.add_column("Δ", justify="right")
    last = None
    for row, kpi, ds in delta_rows(reports):
        head, kind = PAIRED_SHOW[kpi]
        if last is not None and row != last:
            table.add_section()
        cells = [fmt(ds[0].base if ds else None, kind)]
        for d in ds:
            cells += [fmt(d.other, kind), fmt_difference(d, kind)]
        table.add_row(row if row != last else "", head, *cells)
        last = row
    console.print(table)


def json_deltas(base: Report, other: Report) -> dict:
    """The ``delta`` section of a compared report in ``--json``: row -> KPI -> its
    paired difference against the first configuration."""
    import msgspec
    return {row: {k: msgspec.to_builtins(d) for k, d in ks.items()}
            for row, ks in compare(base, other).items()}


def _kpis(report: Report, label: str) -> Optional[KPIs]:
    if label == "overall":
        return report.overall
    kind, _, name = label.partition(" ")
    if kind == "line":
        return report.lines.get(int(name)) if name.isdigit() else None
    return (report.channels if kind == "channel" else report.groups).get(name)


def _delta(v: object, b: object, kind: str) -> str:
    if v is None or b is None:
        return ""
    d = v - b  # type: ignore[operator]
    if d == 0:
        return "="
    if kind == "pct":
        return f"{100 * d:+.1f} pt"
    if kind == "int":
        return f"{d:+,}"
    return f"{d:+.1f}"


# ---------------------------------------------------------------------------------- HTML
def _clock(t: float) -> str:
    t %= 86400.0
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}"


def _svg_lines(xs: list[float], series: dict[str, list[int]], w: int = 760, h: int = 240,
               xlabel: str = "", ylabel: str = "",
               shade: Optional[tuple[float, float, str]] = None) -> str:
    """Lines over the scenario's clock (x in seconds of the run, labelled HH:MM each
    hour); ``shade``: (from, to, label) of a span to grey out, e.g. the warm-up."""
    if not xs:
        return "<p>no samples</p>"
    x0, x1 = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    top = max([max(v) for v in series.values() if v] + [1])
    L, B = 50, 30
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f"]
    parts = [f'<svg viewBox="0 0 {w + 120} {h}" width="{w + 120}" height="{h}" role="img">',
             f'<line x1="{L}" y1="{h - B}" x2="{w - 10}" y2="{h - B}" stroke="#444"/>',
             f'<line x1="{L}" y1="10" x2="{L}" y2="{h - B}" stroke="#444"/>',
             f'<text x="{L - 6}" y="16" text-anchor="end" font-size="11">{top}</text>',
             f'<text x="{L - 6}" y="{h - B}" text-anchor="end" font-size="11">0</text>',
             f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle" font-size="11">'
             f'{html.escape(xlabel)}</text>',
             ]

    def px(x: float) -> float:
        return L + (x - x0) / (x1 - x0) * (w - L - 10)
    if shade is not None and shade[1] > shade[0]:
        a, b = px(max(shade[0], x0)), px(min(shade[1], x1))
        parts.append(f'<rect x="{a:.1f}" y="10" width="{b - a:.1f}" height="{h - B - 10}" '
                     f'fill="#eee"><title>{html.escape(shade[2])}</title></rect>'
                     f'<text x="{(a + b) / 2:.1f}" y="24" text-anchor="middle" '
                     f'font-size="10" fill="#888">{html.escape(shade[2])}</text>')
    hours = max(1, int((x1 - x0) // 3600))
    every = 3600.0 * max(1, hours // 12)
    t = math.ceil(x0 / every) * every
    while t <= x1:
        parts.append(f'<text x="{px(t):.1f}" y="{h - B + 14}" text-anchor="middle" '
                     f'font-size="10">{_clock(t)}</text>')
        t += every
    for i, (name, ys) in enumerate(series.items()):
        pts = " ".join(f"{L + (x - x0) / (x1 - x0) * (w - L - 10):.1f},"
                       f"{h - B - y / top * (h - B - 10):.1f}" for x, y in zip(xs, ys))
        c = colors[i % len(colors)]
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{pts}">'
                     f'<title>{html.escape(name)}</title></polyline>')
        parts.append(f'<text x="{w + 10}" y="{14 + 13 * i}" font-size="11" '
                     f'fill="{c}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_bars(labels: list[str], values: list[float], w: int = 760, h: int = 240,
              fmt_value=lambda v: f"{v:g}") -> str:
    if not values:
        return "<p>nothing to show</p>"
    top = max(values) or 1
    L, B = 50, 70
    h += 30
    bw = (w - L - 10) / len(values)
    parts = [f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">',
             f'<line x1="{L}" y1="{h - B}" x2="{w - 10}" y2="{h - B}" stroke="#444"/>',
             f'<text x="{L - 6}" y="16" text-anchor="end" font-size="11">'
             f'{fmt_value(top)}</text>']
    step = max(1, len(labels) // 40)
    for i, (label, v) in enumerate(zip(labels, values)):
        bh = v / top * (h - B - 10)
        x = L + i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{h - B - bh:.1f}" width="{max(bw - 2, 1):.1f}" '
                     f'height="{bh:.1f}" fill="#1f77b4"><title>{html.escape(label)}: '
                     f'{fmt_value(v)}</title></rect>')
        if i % step == 0:
            cx, cy = x + bw / 2, h - B + 10
            parts.append(f'<text x="{cx:.1f}" y="{cy}" text-anchor="end" font-size="10" '
                         f'transform="rotate(-35 {cx:.1f} {cy})">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_page(reports: Sequence[Report], labels: Sequence[str]) -> str:
    """A self-contained HTML report: KPI tables, queue length over time, the wait
    distribution and the per-operator load of each configuration."""
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>pyroute simulate — {html.escape(reports[0].name or 'scenario')}</title>",
           "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
           "padding:3px 8px;text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}"
           "h2{margin-top:2em}</style></head><body>",
           f"<h1>pyroute simulate — {html.escape(reports[0].name or 'scenario')}</h1>"]
    if len(reports) > 1:
        out.append(f"<h2>What-if against {html.escape(labels[0])}</h2>")
        out.append("<p>Paired differences (the same customers in every run), ± their 99% "
                   "interval; <b>bold</b> is a change, grey with ~ is not distinguishable "
                   "from zero.</p>")
        out.append("<table><tr><th></th><th>KPI</th>"
                   f"<th>{html.escape(labels[0])}</th>"
                   + "".join(f"<th>{html.escape(lb)}</th><th>Δ</th>" for lb in labels[1:])
                   + "</tr>")
        for row, kpi, ds in delta_rows(reports):
            head, kind = PAIRED_SHOW[kpi]
            cells = f"<td>{fmt(ds[0].base, kind)}</td>"
            for d in ds:
                style = "font-weight:bold" if d.significant else "color:#888"
                cells += (f"<td>{fmt(d.other, kind)}</td><td style='{style}'>"
                          f"{html.escape(fmt_difference(d, kind))}</td>")
            out.append(f"<tr><td>{html.escape(row)}</td><td>{head}</td>{cells}</tr>")
        out.append("</table>")
    for rep, label in zip(reports, labels):
        out.append(f"<h2>{html.escape(label)}</h2>")
        out.append(f"<p>{rep.duration / 3600:g} h counted after {rep.warmup / 60:g} min "
                   f"warm-up; seed {rep.seed}; {rep.engine} engine; "
                   f"{rep.conversations:,} conversations.</p>")
        out.append("<table><tr><th></th>" + "".join(f"<th>{h}</th>" for h, _, _ in COLUMNS)
                   + "</tr>")
        for name, k in rows(rep):
            out.append(f"<tr><td>{html.escape(name)}</td>" + "".join(
                f"<td>{fmt(getattr(k, a), f)}</td>" for _, a, f in COLUMNS) + "</tr>")
        out.append("</table>")
        s = rep.spread
        out.append(f"<p>Load spread (human operators' utilisation): max − min "
                   f"{fmt(s.max_minus_min, 'pct')}, Jain's index {fmt(s.jain, 'pct')}.</p>")
        q = rep.queue
        out.append("<h3>Queue length over time</h3>")
        out.append(_svg_lines(q.times, {"total": q.total, **q.channels},
                              xlabel="the scenario's clock (grey: warm-up, not counted)",
                              shade=(0.0, rep.warmup, "warm-up")))
        out.append("<h3>Wait of answered conversations, against each channel's target</h3>")
        out.append(f"<p>All channels: p50 {fmt(rep.overall.wait_p50, 'sec')} s, p90 "
                   f"{fmt(rep.overall.wait_p90, 'sec')} s, p99 "
                   f"{fmt(rep.overall.wait_p99, 'sec')} s. Each channel's answered "
                   f"conversations by their wait as a share of its target_wait:</p>")
        heads = (["at once"] + [f"≤ {s:g}×" for s in TARGET_SHARES]
                 + [f"> {TARGET_SHARES[-1]:g}×"])
        out.append("<table><tr><th>channel</th><th>target</th>"
                   + "".join(f"<th>{html.escape(x)}</th>" for x in heads) + "</tr>")
        for name, counts in rep.channel_waits.items():
            total = sum(counts)
            k = rep.channels[name]
            cells = "".join(f"<td>{100 * c / total:.0f}%</td>" if total else "<td>–</td>"
                            for c in counts)
            out.append(f"<tr><td>{html.escape(name)}</td><td>{k.target_wait:g} s</td>"
                       f"{cells}</tr>")
        out.append("</table>")
        ops = rep.operators
        humans = {n: o for n, o in ops.items() if n not in rep.bots}
        out.append("<h3>Load per human operator (utilisation)</h3>")
        out.append(_svg_bars(list(humans), [o.utilisation for o in humans.values()],
                             fmt_value=lambda v: f"{100 * v:.0f}%"))
        bots = {n: o for n, o in ops.items() if n in rep.bots}
        if bots:
            out.append("<p>Bots (apart: their limits are not people's): " + ", ".join(
                f"{html.escape(n)} handled {o.handled:,}, utilisation "
                f"{100 * o.utilisation:.1f}%" for n, o in bots.items()) + ".</p>")
    out.append("<p style='color:#888'>Made by pyroute simulate. Definitions: "
               "docs/scenario.md.</p></body></html>")
    return "\n".join(out)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, so a
    failure never leaves a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
