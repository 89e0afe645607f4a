"""Scenarios for ``pyroute simulate``: msgspec Structs decoded from TOML (docs/scenario.md).

Every error names the file, the field path (``$.traffic[1].rate``) or the line of a
recorded arrivals file, and what to fix. ``load_scenario`` checks the names a scenario uses
(channels, groups, skills) against its router config before anything runs.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Literal, Optional

import msgspec
from msgspec import Meta

from ..config import Name, RouterConfig, compile_config, explain_validation
from ..errors import ConfigError

Seconds = Annotated[float, Meta(ge=0.0, le=1e9)]
Positive = Annotated[float, Meta(gt=0.0, le=1e9)]
Share = Annotated[float, Meta(ge=0.0, le=1.0)]
Rate = Annotated[float, Meta(ge=0.0, le=1e6)]


class Dist(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A distribution of seconds: ``exp`` (mean), ``lognormal`` (mean and sd), ``fixed``."""

    dist: Literal["exp", "lognormal", "fixed"] = "exp"
    mean: Positive
    sd: Optional[Positive] = None


class Crew(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alike operators: ids ``{name}-1`` .. ``{name}-{count}``.

    ``shift``: [start, end] seconds they are online (default: the whole run); ``breaks``:
    [[start, end], ...] spent away. ``kind="bot"``: a bot (line 0).
    """

    name: Name
    count: Annotated[int, Meta(ge=1, le=100_000)] = 1
    limit: Annotated[int, Meta(ge=1, le=1_000_000)] = 1
    groups: Annotated[tuple[Name, ...], Meta(min_length=1)]
    shift: Optional[tuple[Seconds, Seconds]] = None
    breaks: tuple[tuple[Seconds, Seconds], ...] = ()
    skills: dict[str, int] = {}
    levels: dict[str, int] = {}
    channel_limits: dict[str, int] = {}
    kind: Literal["human", "bot"] = "human"


class Traffic(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One stream of arriving conversations.

    Arrivals: ``rate`` (Poisson, per second), ``rates`` (24 hourly rates, per second,
    repeating every day), or ``recorded`` (a CSV or JSON Lines file: time, channel, group
    and optional handle, patience; its rows may name other channels and groups).
    ``handle``: handling time of one conversation by a human operator alone, stretched by
    ``1 + slowdown * (k - 1)`` when the operator holds k at the moment it is answered.
    ``patience``: how long a customer waits before leaving (left out: forever).
    ``early_cancel_share``: share of customers who cancel (by mistake or as junk) within
    the channel's ``early_cancel`` seconds, at a uniform moment.
    ``bot_handle`` / ``bot_resolve``: time a bot spends, and the share it resolves; the rest
    it escalates (``escalate`` to the next line). ``escalate`` / ``transfer``: shares of
    conversations a human escalates (to ``escalate_to``) or transfers (to ``transfer_to``)
    when done instead of finishing; the next group handles it anew.
    """

    channel: Name
    group: Name
    rate: Optional[Rate] = None
    rates: Optional[Annotated[tuple[Rate, ...], Meta(min_length=24, max_length=24)]] = None
    recorded: Optional[str] = None
    priority: int = 0
    skills: dict[str, int] = {}
    handle: Dist = Dist(mean=240.0)
    patience: Optional[Dist] = None
    early_cancel_share: Share = 0.0
    slowdown: Annotated[float, Meta(ge=0.0, le=100.0)] = 0.0
    bot_handle: Dist = Dist(dist="fixed", mean=30.0)
    bot_resolve: Share = 0.0
    escalate: Share = 0.0
    transfer: Share = 0.0
    transfer_to: Optional[Name] = None


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to simulate (DESIGN §6): counting runs from ``warmup`` to ``warmup + duration``
    seconds; ``sample_every`` is the step of the queue-length series."""

    duration: Positive
    warmup: Seconds = 0.0
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 1
    router: RouterConfig
    operators: Annotated[tuple[Crew, ...], Meta(min_length=1)]
    traffic: Annotated[tuple[Traffic, ...], Meta(min_length=1)]
    sample_every: Annotated[float, Meta(gt=0.0, le=1e9)] = 60.0
    name: str = ""


class Arrival(msgspec.Struct, frozen=True, array_like=True):
    """One recorded arrival."""

    time: float
    channel: str
    group: str
    handle: Optional[float] = None
    patience: Optional[float] = None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario TOML file. Raises :class:`ConfigError` naming the file and
    the field (or the recorded file and its line) and what to fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read scenario {path}: {e.strerror}") from None
    try:
        data = msgspec.toml.decode(raw)
    except msgspec.DecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return scenario_from(data, base=path.parent, where=str(path))


def scenario_from(data: object, base: Path | None = None, where: str = "scenario") -> Scenario:
    """Build and check a Scenario from a mapping (decoded TOML or JSON). Recorded files are
    resolved against ``base``."""
    if isinstance(data, Scenario):
        data = msgspec.to_builtins(data)
    try:
        sc = msgspec.convert(data, Scenario)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{where}: {explain_validation(e, Scenario)}") from None
    check_scenario(sc, base or Path("."), where)
    return sc


def check_scenario(sc: Scenario, base: Path, where: str) -> None:
    try:
        cc = compile_config(sc.router)
    except ConfigError as e:
        raise ConfigError(f"{where}: router: {e}") from None
    channels, groups = cc.channel_index, cc.group_index

    def known(kind: str, name: str, names: dict, field: str) -> None:
        if name not in names:
            raise ConfigError(f"{where}: `{field}`: unknown {kind} {name!r}; the router has "
                              f"{', '.join(sorted(names))}")

    total = sc.warmup + sc.duration
    seen: set = set()
    for i, crew in enumerate(sc.operators):
        f = f"$.operators[{i}]"
        if crew.name in seen:
            raise ConfigError(f"{where}: `{f}.name`: duplicate crew name {crew.name!r}")
        seen.add(crew.name)
        for j, g in enumerate(crew.groups):
            known("group", g, groups, f"{f}.groups[{j}]")
        for c in crew.channel_limits:
            known("channel", c, channels, f"{f}.channel_limits")
        if crew.shift is not None and crew.shift[0] >= crew.shift[1]:
            raise ConfigError(f"{where}: `{f}.shift`: start {crew.shift[0]:g} must be before "
                              f"end {crew.shift[1]:g}")
        for j, (a, b) in enumerate(crew.breaks):
            if a >= b:
                raise ConfigError(f"{where}: `{f}.breaks[{j}]`: start {a:g} must be before "
                                  f"end {b:g}")
    for i, t in enumerate(sc.traffic):
        f = f"$.traffic[{i}]"
        sources = [x for x in ("rate", "rates", "recorded") if getattr(t, x) is not None]
        if len(sources) != 1:
            raise ConfigError(f"{where}: `{f}`: give exactly one of rate, rates or recorded "
                              f"(got {', '.join(sources) or 'none'})")
        known("channel", t.channel, channels, f"{f}.channel")
        known("group", t.group, groups, f"{f}.group")
        if t.transfer > 0 and t.transfer_to is None:
            raise ConfigError(f"{where}: `{f}.transfer_to`: transfer = {t.transfer:g} needs "
                              f"the group to transfer to")
        if t.transfer_to is not None:
            known("group", t.transfer_to, groups, f"{f}.transfer_to")
        if t.escalate + t.transfer > 1.0:
            raise ConfigError(f"{where}: `{f}`: escalate + transfer must be at most 1")
        for d, name in ((t.handle, "handle"), (t.patience, "patience"),
                        (t.bot_handle, "bot_handle")):
            if d is not None and d.dist == "lognormal" and d.sd is None:
                raise ConfigError(f"{where}: `{f}.{name}.sd`: a lognormal needs sd")
        if t.recorded is not None:
            rows = read_arrivals(base / t.recorded)
            for n, row in enumerate(rows):
                if row.channel not in channels or row.group not in groups:
                    bad = "channel" if row.channel not in channels else "group"
                    raise ConfigError(f"{base / t.recorded}: row {n + 1}: unknown {bad} "
                                      f"{getattr(row, bad)!r}")
    if total <= 0 or not math.isfinite(total):
        raise ConfigError(f"{where}: warmup + duration must be positive")


def read_arrivals(path: Path) -> list[Arrival]:
    """Recorded arrivals: CSV with a header (time, channel, group[, handle, patience]) or
    JSON Lines (objects with those keys), by the file's suffix. Errors name the line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read recorded arrivals {path}: {e.strerror}") from None
    rows: list[Arrival] = []
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        dec = msgspec.json.Decoder(_JsonArrival)
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                a = dec.decode(line)
            except (msgspec.ValidationError, msgspec.DecodeError) as e:
                raise ConfigError(f"{path}:{n}: {e}") from None
            rows.append(_arrival(path, n, a.time, a.channel, a.group, a.handle, a.patience))
    else:
        reader = csv.reader(text.splitlines())
        header = next(reader, None)
        want = ["time", "channel", "group"]
        if header is None or [h.strip() for h in header[:3]] != want:
            raise ConfigError(f"{path}:1: the header must start with time,channel,group "
                              f"(then optionally handle,patience), got {header}")
        cols = [h.strip() for h in header]
        extra = [c for c in cols[3:] if c not in ("handle", "patience")]
        if extra:
            raise ConfigError(f"{path}:1: unknown column(s) {', '.join(extra)}; allowed: "
                              f"time, channel, group, handle, patience")
        for n, rec in enumerate(reader, 2):
            if not rec:
                continue
            if len(rec) != len(cols):
                raise ConfigError(f"{path}:{n}: {len(rec)} fields, the header has {len(cols)}")
            d = dict(zip(cols, rec))
            rows.append(_arrival(path, n, _num(path, n, d, "time"), d["channel"], d["group"],
                                 _num(path, n, d, "handle"), _num(path, n, d, "patience")))
    for n in range(1, len(rows)):
        if rows[n].time < rows[n - 1].time:
            raise ConfigError(f"{path}: arrivals must be in time order; row {n + 1} "
                              f"({rows[n].time:g}) comes before row {n} ({rows[n - 1].time:g})")
    return rows


class _JsonArrival(msgspec.Struct, forbid_unknown_fields=True):
    time: float
    channel: str
    group: str
    handle: Optional[float] = None
    patience: Optional[float] = None


def _num(path: Path, n: int, d: dict, key: str) -> Optional[float]:
    v = d.get(key)
    if v is None or (key != "time" and v.strip() == ""):
        return None
    try:
        return float(v)
    except ValueError:
        raise ConfigError(f"{path}:{n}: {key} {v!r} is not a number") from None


def _arrival(path: Path, n: int, time: Optional[float], channel: str, group: str,
             handle: Optional[float], patience: Optional[float]) -> Arrival:
    if time is None or not math.isfinite(time) or time < 0:
        raise ConfigError(f"{path}:{n}: time must be a finite number >= 0, got {time!r}")
    for key, v in (("handle", handle), ("patience", patience)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{path}:{n}: {key} must be a positive number, got {v!r}")
    return Arrival(time, channel, group, handle, patience)
