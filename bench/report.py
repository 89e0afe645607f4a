"""Render benchmark results: DESIGN §5 targets, the machine, terminal tables, RESULTS.md.

Everything here reads the plain-data results of :func:`pyroute.bench.runner.run`.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

#: DESIGN §5, figure by figure: (key, what, statistic, bound, unit). ``<=`` bounds are upper
#: limits, ``>=`` lower ones.
TARGETS: tuple[tuple[str, str, str, str, float], ...] = (
    ("submit_assign", "submit, assigns", "median_ns", "<=", 1_000.0),
    ("submit_assign", "submit, assigns", "p99_ns", "<=", 5_000.0),
    ("finish_pull", "finish, pulls next", "median_ns", "<=", 1_500.0),
    ("mixed_api", "mixed, Python API", "ops_per_s", ">=", 1_000_000.0),
    ("mixed_batch", "mixed, apply_many", "ops_per_s", ">=", 3_000_000.0),
    ("memory", "memory per waiting", "bytes_per_waiting", "<=", 300.0),
)
RATIO_TARGET = 15.0

FIGURE_NAMES = {
    "submit_assign": "submit, assigns",
    "finish_pull": "finish, pulls next",
    "mixed_api": "mixed, Python API",
    "mixed_batch": "mixed, apply_many",
}

#: The issue 3 cases (``res["offers_skills"]``), in the order they are reported.
CASE_NAMES = {
    "offer_submit": "offers: submit, offered at once",
    "offer_accept": "offers: accept",
    "skills_submit_assign": "8 skills: submit, assigns",
    "skills_finish_pull": "8 skills: finish, pulls next",
}
CASE_HEADER = ("case", "native median", "native p99", "ref. median", "ref. p99",
               "native is")


# ---------------------------------------------------------------------------------------
# Formatting


def fmt_us(ns: Optional[float]) -> str:
    """Nanoseconds as a bare number of microseconds, 2-3 significant digits."""
    if ns is None:
        return "—"
    us = ns / 1000
    if us < 10:
        return f"{us:.2f}"
    if us < 100:
        return f"{us:.1f}"
    return f"{us:,.0f}"


def fmt_ns(ns: Optional[float]) -> str:
    return "—" if ns is None else f"{fmt_us(ns)} µs"


def fmt_pair(lat: dict[str, Any]) -> str:
    """Median / p99 in microseconds."""
    return f"{fmt_us(lat['median_ns'])}/{fmt_us(lat['p99_ns'])}"


def fmt_rate(x: Optional[float]) -> str:
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:,.0f} k/s"
    return f"{x:.0f} /s"


def fmt_bytes(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:,.0f} B"


def fmt_value(stat: str, x: Optional[float]) -> str:
    if stat.endswith("_ns"):
        return fmt_ns(x)
    if stat == "ops_per_s":
        return fmt_rate(x)
    if stat.startswith("bytes"):
        return fmt_bytes(x)
    return "—" if x is None else f"{x:.1f}×"


def fmt_target(stat: str, op: str, bound: float) -> str:
    which = {"median_ns": "med ", "p99_ns": "p99 "}.get(stat, "")
    sign = "≤" if op == "<=" else "≥"
    if stat.endswith("_ns"):
        text = f"{bound / 1000:g} µs"
    elif stat == "ops_per_s":
        text = f"{bound / 1e6:g} M/s"
    elif stat == "ratio":
        text = f"{bound:g}×"
    else:
        text = fmt_value(stat, bound)
    return f"{which}{sign} {text}"


def scale_text(scale: dict[str, Any]) -> str:
    return (f"{scale['operators']:,} operators (limit {scale['limit']}), "
            f"{scale['groups']} groups ({scale['groups'] - scale['free_groups']} saturated, "
            f"{scale['free_groups']} with free operators), {scale['channels']} channels, "
            f"{scale['waiting']:,} waiting")


def _met(op: str, value: Optional[float], bound: float) -> Optional[bool]:
    if value is None:
        return None
    return value <= bound if op == "<=" else value >= bound


# ---------------------------------------------------------------------------------------
# Checks against DESIGN §5


def checks(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every DESIGN §5 figure of the native engine with its target and whether it is met."""
    native = res["engines"]["native"]
    out = []
    for key, what, stat, op, bound in TARGETS:
        value = native[key].get(stat)
        out.append({"figure": key, "what": what, "stat": stat, "value": value,
                    "op": op, "bound": bound, "met": _met(op, value, bound)})
    for key, r in (res.get("ratios") or {}).items():
        out.append({"figure": f"ratio_{key}", "what": f"× ref., {FIGURE_NAMES[key]}",
                    "stat": "ratio", "value": r["ratio"], "op": ">=", "bound": RATIO_TARGET,
                    "met": _met(">=", r["ratio"], RATIO_TARGET)})
    return out


def _p99(native: dict[str, Any], key: str) -> Optional[float]:
    return native[key].get("p99_ns") if key in ("submit_assign", "finish_pull") else None


def figure_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(figure, median, p99, target, met) for the headline table."""
    native = res["engines"]["native"]
    rows: list[tuple[str, str, str, str, str]] = []
    by_key: dict[str, list[dict[str, Any]]] = {}
    for c in checks(res):
        by_key.setdefault(c["figure"], []).append(c)
    for key in ("submit_assign", "finish_pull", "mixed_api", "mixed_batch", "memory"):
        cs = by_key.get(key, [])
        stat = cs[0]["stat"] if cs else "median_ns"
        median = native[key].get("median_ns" if stat.endswith("_ns") else stat)
        target = ", ".join(fmt_target(c["stat"], c["op"], c["bound"]) for c in cs)
        met = _marks(cs)
        what = cs[0]["what"] if cs else key
        rows.append((what, fmt_value(stat, median), fmt_ns(_p99(native, key)), target, met))
    for key in ("mixed_api", "mixed_batch", "submit_assign", "finish_pull"):
        for c in by_key.get(f"ratio_{key}", []):
            rows.append((c["what"], fmt_value("ratio", c["value"]), "—",
                         fmt_target("ratio", ">=", RATIO_TARGET), _mark(c["met"])))
    return rows


def _mark(met: Optional[bool]) -> str:
    return {True: "met", False: "MISSED", None: "—"}[met]


def _marks(cs: list[dict[str, Any]]) -> str:
    """One verdict for a figure with several targets: which statistic missed, if any."""
    if not cs:
        return "—"
    missed = [c["stat"].removesuffix("_ns") for c in cs if c["met"] is False]
    if missed:
        return "MISSED" if len(cs) == 1 else f"MISSED ({', '.join(missed)})"
    return "met" if all(c["met"] for c in cs) else "—"


def ratio_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for key, r in (res.get("ratios") or {}).items():
        fmt = fmt_rate if key.startswith("mixed") else fmt_ns
        rows.append((FIGURE_NAMES[key], fmt(r["native"]), fmt(r["reference"]),
                     f"{r['ratio']:.1f}×"))
    return rows


def engine_rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    """(engine, scale, submit med/p99, finish med/p99, API/s, batch/s, build s)."""
    rows = []
    for name, e in res["engines"].items():
        rows.append((
            name.replace("_", " "), f"{e['scale']['waiting']:,}",
            fmt_pair(e["submit_assign"]), fmt_pair(e["finish_pull"]),
            fmt_rate(e["mixed_api"]["ops_per_s"]), fmt_rate(e["mixed_batch"]["ops_per_s"]),
            f"{e['build_s']:.1f} s"))
    return rows


def size_rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for row in res.get("sizes", []):
        nat = row.get("native", {})
        ref = row.get("reference", {})

        def lat(e: dict[str, Any], key: str) -> str:
            if "skipped" in e:
                return "skipped"
            if key not in e:
                return "—"
            return fmt_pair(e[key])

        def ratio(key: str) -> str:
            if key in nat and key in ref and nat[key]["median_ns"] > 0:
                return f"{ref[key]['median_ns'] / nat[key]['median_ns']:.1f}×"
            return "—"
        mem = nat.get("memory", {}).get("bytes_per_waiting")
        rows.append((f"{row['waiting']:,}", lat(nat, "submit_assign"), lat(nat, "finish_pull"),
                     fmt_bytes(mem), lat(ref, "submit_assign"), lat(ref, "finish_pull"),
                     ratio("submit_assign"), ratio("finish_pull")))
    return rows


def case_rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    """(case, native median, p99, reference median, p99, ratio) for the issue 3 cases."""
    cases = res.get("offers_skills")
    if not cases:
        return []
    nat = cases["engines"]["native"]
    ref = cases["engines"].get("reference", {})
    ratios = cases.get("ratios") or {}
    rows = []
    for key, what in CASE_NAMES.items():
        r = ref.get(key)
        ratio = ratios.get(key)
        rows.append((what, fmt_ns(nat[key]["median_ns"]), fmt_ns(nat[key]["p99_ns"]),
                     fmt_ns(r["median_ns"]) if r else "—", fmt_ns(r["p99_ns"]) if r else "—",
                     f"{ratio['ratio']:.1f}×" if ratio else "—"))
    return rows


def cases_text(res: dict[str, Any]) -> str:
    """Where the issue 3 figures come from, in one paragraph."""
    cases = res["offers_skills"]
    text = f"Native engine at {scale_text(cases['scale'])}"
    ratio_scale = cases.get("ratio_scale")
    if ratio_scale and ratio_scale != cases["scale"]:
        text += (f"; the reference engine, and the ratios (both engines), at "
                 f"{scale_text(ratio_scale)}")
    elif ratio_scale:
        text += "; the reference engine on the same states"
    builds = "; ".join(
        name.replace("_", " ") + " " + ", ".join(f"{k} {v:.1f} s"
                                                 for k, v in e["build_s"].items())
        for name, e in cases["engines"].items())
    return (f"{text}. Latencies per call; native is = reference median / native median. "
            f"Build times: {builds}.")


SIZE_HEADER = ("waiting", "native submit µs", "native finish µs", "native B/waiting",
               "ref. submit µs", "ref. finish µs", "× submit", "× finish")
ENGINE_HEADER = ("engine", "waiting", "submit µs", "finish µs", "mixed API",
                 "apply_many", "build")


# ---------------------------------------------------------------------------------------
# The machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS and the versions that matter, for the results' header."""
    import msgspec

    import pyroute
    from pyroute import _core

    cpuinfo: dict[str, str] = {}
    for line in _read("/proc/cpuinfo").splitlines():
        if not line.strip():
            break           # the first processor is enough
        key, _, value = line.partition(":")
        cpuinfo[key.strip()] = value.strip()
    cpu = cpuinfo.get("model name") or platform.processor() or "unknown"
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal:")), 0)
    os_name = next((line.split("=", 1)[1].strip().strip('"')
                    for line in _read("/etc/os-release").splitlines()
                    if line.startswith("PRETTY_NAME=")), "") or platform.system()
    # the Cython that built the core registers a module named after its version
    cython = next((m[len("_cython_"):].replace("_", ".") for m in sys.modules
                   if m.startswith("_cython_")), None)
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count()
    try:
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "cpu": cpu,
        "cpu_detail": _cpu_detail(cpuinfo),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "memory_gib": round(mem_kb / 2**20, 1) if mem_kb else None,
        "os": f"{os_name} (kernel {platform.release()}, {platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pyroute": pyroute.__version__,
        "core_build": "debug" if _core.DEBUG else "release",
        "cython": cython or f"{_version('Cython')} (installed; core build version unknown)",
        "msgspec": msgspec.__version__,
        "sortedcontainers": _version("sortedcontainers"),
        "git": _git(),
        "load_average": load,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_detail(cpuinfo: dict[str, str]) -> str:
    """Family/model, clock, caches, and whether a hypervisor is underneath."""
    parts = []
    if "cpu family" in cpuinfo:
        parts.append(f"family {cpuinfo['cpu family']} model {cpuinfo.get('model', '?')}")
    if "cpu MHz" in cpuinfo:
        parts.append(f"{float(cpuinfo['cpu MHz']):.0f} MHz")
    caches = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")) if base.is_dir() else []:
        level = _read(str(index / "level")).strip()
        kind = _read(str(index / "type")).strip()
        size = _read(str(index / "size")).strip()
        if level and size and kind != "Instruction":
            caches.append(f"L{level} {size}")
    if caches:
        parts.append("caches " + ", ".join(caches))
    if "hypervisor" in cpuinfo.get("flags", "").split():
        parts.append("virtual machine")
    return "; ".join(parts) or "unknown"


def _git() -> Optional[str]:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=5)
        if rev.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip()
                                     else "")
    except (OSError, subprocess.SubprocessError):
        return None


class CpuWatch:
    """How much CPU other processes took while the benchmark ran, from ``/proc/stat``:
    all busy time of the machine less this process's own (and the hypervisor's steal)."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> Optional[tuple[float, float, float, float]]:
        fields = _read("/proc/stat").split("\n", 1)[0].split()
        if not fields or fields[0] != "cpu":
            return None
        tick = os.sysconf("SC_CLK_TCK")
        v = [int(x) / tick for x in fields[1:]]
        # user nice system idle iowait irq softirq steal ...
        busy = v[0] + v[1] + v[2] + v[5] + v[6]
        steal = v[7] if len(v) > 7 else 0.0
        own = os.times()
        return (time.monotonic(), busy, steal, own.user + own.system)

    def stop(self) -> dict[str, Optional[float]]:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return {"others_cores": None, "steal_cores": None}
        span = end[0] - self.start[0]
        others = (end[1] - self.start[1]) - (end[3] - self.start[3])
        return {"others_cores": round(max(0.0, others) / span, 2),
                "steal_cores": round((end[2] - self.start[2]) / span, 2)}


MACHINE_LABELS = (
    ("cpu", "CPU"), ("cpu_detail", "CPU details"), ("cores", "cores"),
    ("cores_usable", "cores usable"),
    ("memory_gib", "memory (GiB)"), ("os", "OS"), ("python", "Python"),
    ("pyroute", "pyroute"), ("core_build", "native core build"), ("cython", "Cython"),
    ("msgspec", "msgspec"), ("sortedcontainers", "sortedcontainers"), ("git", "git commit"),
    ("load_average", "load average at start"),
    ("others_cores", "cores busy with other processes during the run"),
    ("steal_cores", "cores stolen by the hypervisor during the run"), ("date", "date"),
)


# ---------------------------------------------------------------------------------------
# Method, in words


def method_text(res: dict[str, Any]) -> list[str]:
    plan = res["plan"]
    share = plan["ref_share"]
    return [
        f"State: {scale_text(res['scale'])}. Every operator belongs to one group (policy "
        f"`even`); the channels have distinct priorities; no overflow rules, so no timers. "
        f"Work conservation lets conversations wait only where nobody eligible has room, so "
        f"the saturated groups' operators are all full and hold the waiting conversations "
        f"in their queues, while the free groups' operators sit at 40 % load with no queue.",
        "**submit that assigns**: `router.submit(...)` into a free group, assigned at once; "
        "it is finished untimed before the next call so capacity stays the same. "
        "**finish that pulls**: `router.finish(...)` of an active conversation in a "
        "saturated group; the freed slot pulls the next waiting one, and a new conversation "
        "is submitted untimed into the queue it came from, so the number waiting stays "
        "the same.",
        f"Each call is timed alone with `time.perf_counter_ns`, minus the timer's own cost "
        f"({res['timer_overhead_ns']} ns, the median of back-to-back readings). "
        f"{plan['warmup']:,} untimed calls warm up, then {plan['latency_rounds']} rounds of "
        f"{plan['latency_calls']:,} calls are pooled for the median and the p99 (nearest "
        f"rank). The reference engine does {share:.0%} as many calls.",
        "**mixed commands**: a steady mix, repeated every ten commands: four submits that "
        "queue, one that assigns, three finishes that pull, one finish in a free group, one "
        "cancel of a waiting conversation (the number waiting stays the same). Run as one "
        "Python loop of method calls over prebuilt arguments (`for f, a in calls: f(*a)`), "
        f"and as one `apply_many` of prebuilt `Command` structs; {plan['mixed_rounds']} "
        f"runs of up to {plan['mixed_commands']:,} commands after an untimed one, median "
        "run reported.",
        "**memory**: the growth of `router.memory()` (the native core's arrays, at their "
        "capacity) while the waiting conversations are submitted, divided by their number. "
        "The id maps on the Python side are not counted.",
        "**ratios**: the reference engine (`pyroute.reference.Router`) runs the same "
        "workload on the same state; ratio = reference time / native time (for "
        "commands/s: native / reference).",
        *([] if not res.get("offers_skills") else [
            "**issue 3 cases** (offers and skills): the same state, built anew with one feature "
            "on, and timed the same way. *Offers*: every group has `accept_timeout="
            f"{res['offers_skills']['accept_timeout']:g}` (the build accepts each conversation "
            "as it is offered); **submit, offered at once** is a `submit` into a free group "
            "that returns `Offered`, and **accept** is `router.accept(id, operator)` of a "
            "conversation just offered in a free group; both are accepted and finished untimed "
            "so capacity stays the same. "
            f"*{res['offers_skills']['skills_per_operator']} skills*: every operator has "
            f"{res['offers_skills']['skills_per_operator']} of "
            f"{res['offers_skills']['skill_names']} skills, at levels 1–5 drawn uniformly; "
            "each conversation requires 1 or 2 (even odds) of the skills of one member of its "
            "group drawn at random, at a level drawn from 1 to that member's, so someone in "
            "the group can always take it. "
            "**submit, assigns** and **finish, pulls next** are the plain cases with such "
            "requirements on the submitted and the waiting conversations; the conversation "
            "submitted untimed after each pull requires what the pulled one did, so the "
            "queues keep their mix. No DESIGN §5 target applies to these cases."]),
        "**heapq**: `heapq.heappush` then `heappop` of `(key, seq, id)` tuples on a list as "
        "long as the queues hold: the floor of a priority queue in plain Python.",
        "Timed sections run with the garbage collector off after a collection (as `timeit` "
        "does); the built state is frozen out of the collector (`gc.freeze()`).",
    ]


# ---------------------------------------------------------------------------------------
# RESULTS.md


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def markdown(res: dict[str, Any], command: str) -> str:
    m = res["machine"]
    lines = [
        "# pyroute benchmark results",
        "",
        "Generated by the command below; do not edit by hand — run it again to refresh.",
        "",
        "```",
        f"$ {command}",
        "```",
        "",
        f"Run on {m['date']}, took {res['elapsed_s']:.0f} s.",
        "",
        "## Method",
        "",
    ]
    lines += [f"- {p}" for p in method_text(res)]
    lines += ["", "## Machine", ""]
    lines += _md_table(("", ""), [(label, "—" if m.get(k) is None else str(m[k]))
                                  for k, label in MACHINE_LABELS])
    lines += ["", f"## DESIGN §5 figures (native engine, {scale_text(res['scale'])})", ""]
    lines += _md_table(("figure", "median", "p99", "target (DESIGN §5)", "met?"),
                       figure_rows(res))
    ratio_scale = res.get("ratio_scale")
    if ratio_scale:
        lines += ["", "## Native against the reference engine", "",
                  f"Both at {scale_text(ratio_scale)}; medians.", ""]
        lines += _md_table(("figure", "native", "reference", "native is"), ratio_rows(res))
    lines += ["", "### Every engine run", "", "Latencies as median / p99 in µs.", ""]
    lines += _md_table(ENGINE_HEADER, engine_rows(res))
    if res.get("offers_skills"):
        lines += ["", "## Issue 3 cases: offers and skills", "", cases_text(res), ""]
        lines += _md_table(CASE_HEADER, case_rows(res))
    if res.get("durability"):
        from . import journalbench
        lines += ["", "## Durability: `Router.open` against the router in memory", "",
                  "The mixed workload above on the same state, made durable with "
                  "`pyroute.journal.attach` (journal, no snapshots during the run); target "
                  "(issue 5): at least half the in-memory throughput with `fsync=\"never\"` "
                  "and `\"batch\"`.", ""]
        lines += _md_table(journalbench.HEADER, journalbench.rows(res["durability"]))
        lines += ["", journalbench.recovery_text(res["durability"])]
    if res.get("redis"):
        from . import redisbench
        lines += ["", "## Redis: `pyroute worker` on Redis Streams", "",
                  redisbench.text(res["redis"]), ""]
        lines += _md_table(redisbench.HEADER, redisbench.rows(res["redis"]))
    if res.get("service"):
        from . import servicebench
        lines += ["", "## Service: `pyroute serve` under load on loopback", "",
                  "`pyroute serve --memory` (uvicorn, one process) on 127.0.0.1; each "
                  "conversation is a submit (assigned at once) then its finish; latency is "
                  "submit + finish as one client sees it (for batches: one request of 50 "
                  "+ 50 commands). Target (issue 6): 5,000 routed conversations/s.", ""]
        lines += _md_table(servicebench.HEADER, servicebench.rows(res["service"]))
    if res.get("simulator"):
        from . import simbench
        lines += ["", "## Simulator: `pyroute simulate` against Ciw and SimPy", "",
                  simbench.text(res["simulator"]), ""]
        lines += _md_table(simbench.HEADER, simbench.rows(res["simulator"]))
    if res.get("ewt_accuracy"):
        from pyroute.sim import accuracy
        lines += ["", "## Expected wait accuracy", "", accuracy.text(res["ewt_accuracy"]), ""]
        lines += _md_table(accuracy.HEADER, accuracy.rows(res["ewt_accuracy"]))
    if res.get("instructions"):
        from . import instructions
        lines += [""] + instructions.text(res["instructions"])
    if res.get("sim_instructions"):
        from . import siminstructions
        lines += [""] + siminstructions.text(res["sim_instructions"])
    if res.get("worker_instructions"):
        from . import workerinstructions
        lines += [""] + workerinstructions.text(res["worker_instructions"])
    mem = res["engines"]["native"]["memory"]
    lines += ["", "## Memory", "",
              f"Native core: {fmt_bytes(mem['bytes_per_waiting'])} per waiting conversation "
              f"({mem['bytes_waiting']:,} bytes of growth for "
              f"{res['scale']['waiting']:,} waiting; {mem['bytes_total']:,} bytes in all, "
              f"operators and active conversations included).", ""]
    h = res["heapq"]
    lines += ["## Baseline: plain `heapq`", "",
              f"On a list of {h['size']:,} entries.", ""]
    lines += _md_table(("operation", "median", "p99"), [
        ("heappush", fmt_ns(h["push"]["median_ns"]), fmt_ns(h["push"]["p99_ns"])),
        ("heappop", fmt_ns(h["pop"]["median_ns"]), fmt_ns(h["pop"]["p99_ns"]))])
    d = res.get("dict")
    if d:
        lines += ["", "## Baseline: one id lookup in a plain `dict`", "",
                  f"A dict of {d['size']:,} str ids — as many as the router maps at this scale "
                  "(waiting, active, and the ended ones kept in history) — probed with fresh "
                  "str objects. Every `submit`, `finish` and `cancel` makes at least one such "
                  "lookup before the core runs; at this size it is mostly memory latency.", ""]
        lines += _md_table(("lookup", "median", "p99"), [
            ("id present", fmt_ns(d["hit"]["median_ns"]), fmt_ns(d["hit"]["p99_ns"])),
            ("id absent", fmt_ns(d["miss"]["median_ns"]), fmt_ns(d["miss"]["p99_ns"]))])
    if res.get("sizes"):
        lines += ["", "## By the number waiting", "",
                  "The same state with fewer or more waiting conversations (operators, groups "
                  "and channels unchanged); latencies as median / p99 in µs. The core's "
                  "arrays grow by doubling, so bytes per waiting conversation move with where "
                  "a size falls between two capacities.", ""]
        lines += _md_table(SIZE_HEADER, size_rows(res))
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# The terminal


def print_tables(res: dict[str, Any], console: Any) -> None:
    from rich import box
    from rich.table import Table

    def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]],
              style_last: bool = False) -> Table:
        t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for i, col in enumerate(header):
            t.add_column(col, justify="left" if i == 0 else "right")
        for r in rows:
            if style_last:
                mark = r[-1]
                style = "red" if "MISSED" in mark else "green" if "met" in mark else ""
                r = (*r[:-1], f"[{style}]{mark}[/]" if style else mark)
            t.add_row(*r)
        return t

    console.print(table(f"pyroute bench — {scale_text(res['scale'])}",
                        ("figure", "median", "p99", "target (DESIGN §5)", "met?"),
                        figure_rows(res), style_last=True))
    if res.get("ratio_scale"):
        console.print(table(f"native against reference — {scale_text(res['ratio_scale'])}",
                            ("figure", "native", "reference", "native is"), ratio_rows(res)))
    console.print(table("every engine run", ENGINE_HEADER, engine_rows(res)))
    if res.get("offers_skills"):
        console.print(table("issue 3 cases: offers and skills — "
                            + scale_text(res["offers_skills"]["scale"]),
                            CASE_HEADER, case_rows(res)))
    if res.get("durability"):
        from . import journalbench
        console.print(table("durability: Router.open against the router in memory",
                            journalbench.HEADER, journalbench.rows(res["durability"])))
        console.print(journalbench.recovery_text(res["durability"]))
    if res.get("redis"):
        from . import redisbench
        console.print(table("redis: pyroute worker on Redis Streams", redisbench.HEADER,
                            redisbench.rows(res["redis"])))
        console.print(redisbench.text(res["redis"]))
    if res.get("service"):
        from . import servicebench
        console.print(table("service: pyroute serve under load on loopback",
                            servicebench.HEADER, servicebench.rows(res["service"])))
    if res.get("simulator"):
        from . import simbench
        console.print(table("simulator: " + res["simulator"]["model"], simbench.HEADER,
                            simbench.rows(res["simulator"])))
    if res.get("ewt_accuracy"):
        from pyroute.sim import accuracy
        console.print(table("expected wait accuracy (s): pyroute against QL and LES",
                            accuracy.HEADER, accuracy.rows(res["ewt_accuracy"])))
        console.print(accuracy.goals_text(res["ewt_accuracy"]), markup=False,
                      highlight=False)
    h = res["heapq"]
    console.print(table(f"baseline: heapq on {h['size']:,} entries", ("operation", "median",
                                                                         "p99"),
                        [("heappush", fmt_ns(h["push"]["median_ns"]),
                          fmt_ns(h["push"]["p99_ns"])),
                         ("heappop", fmt_ns(h["pop"]["median_ns"]),
                          fmt_ns(h["pop"]["p99_ns"]))]))
    d = res.get("dict")
    if d:
        console.print(table(f"baseline: one lookup in a dict of {d['size']:,} str ids",
                            ("lookup", "median", "p99"),
                            [("id present", fmt_ns(d["hit"]["median_ns"]),
                              fmt_ns(d["hit"]["p99_ns"])),
                             ("id absent", fmt_ns(d["miss"]["median_ns"]),
                              fmt_ns(d["miss"]["p99_ns"]))]))
    if res.get("sizes"):
        console.print(table("by the number waiting (µs: median / p99)", SIZE_HEADER,
                            size_rows(res)))
    for n in res.get("notes", []):
        console.print(f"[yellow]note:[/] {n}", markup=True, highlight=False)
    m = res["machine"]
    console.print(f"{m['cpu']} ({m['cpu_detail']}), {m['cores']} cores, "
                  f"{m['memory_gib']} GiB, {m['os']}; "
                  f"{m['python']}, pyroute {m['pyroute']} ({m['core_build']} core), "
                  f"Cython {m['cython']}, msgspec {m['msgspec']}; other processes kept "
                  f"{m.get('others_cores')} cores busy during the run. "
                  f"Took {res['elapsed_s']:.1f} s.")
