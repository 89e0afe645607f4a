"""What-if variants: ``--set PATH=VALUE`` edits of a scenario.

Paths name fields by their place in the scenario, with list items picked by name:
``groups.first_line.policy`` (a router group), ``channels.web.target_wait`` (a router
channel), ``operators.veteran.count`` (a crew), ``traffic.web.rate`` (the first traffic
stream of channel ``web``; ``traffic.0.rate`` by position), ``router.aging``, ``duration``.
A value is read as TOML (``5``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``) and otherwise
taken as text, so ``policy=round_robin`` needs no quotes. Several edits in one variant are
separated by commas outside brackets: ``--set 'groups.g.policy=ordered,operators.v.count=7'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ..errors import ConfigError
from .scenario import Scenario, scenario_from

ALIASES = {"groups": ("router", "groups"), "channels": ("router", "channels")}


def split_edits(spec: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in spec:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [e.strip() for e in out if e.strip()]


def parse_value(text: str) -> Any:
    try:
        return msgspec.toml.decode(f"v = {text}".encode())["v"]
    except msgspec.DecodeError:
        return text


def apply_edits(sc: Scenario, spec: str, base: Path | None = None) -> Scenario:
    """The scenario with the edits of ``spec`` applied, checked like a loaded one.
    Raises ConfigError naming the edit and what is wrong."""
    data = msgspec.json.decode(msgspec.json.encode(sc))   # plain dicts and lists
    for edit in split_edits(spec):
        if "=" not in edit:
            raise ConfigError(f"--set {edit!r}: expected PATH=VALUE, e.g. "
                              f"groups.first_line.policy=round_robin")
        path, _, value = edit.partition("=")
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"--set {edit!r}: empty path")
        if keys[0] in ALIASES:
            keys = list(ALIASES[keys[0]]) + keys[1:]
        node: Any = data
        for i, key in enumerate(keys[:-1]):
            node = _step(node, key, keys[:i], edit)
        last = keys[-1]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {edit!r}: {'.'.join(keys[:-1])} is not a table")
        node[last] = parse_value(value.strip())
    return scenario_from(data, base=base, where=f"--set {spec!r}")


def _step(node: Any, key: str, done: list, edit: str) -> Any:
    where = ".".join(done) or "the scenario"
    if isinstance(node, dict):
        if key not in node:
            if key in ("router",):
                node[key] = {}
            else:
                raise ConfigError(f"--set {edit!r}: {where} has no field {key!r}; it has "
                                  f"{', '.join(sorted(node))}")
        return node[key]
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and key in (item.get("name"), item.get("channel")):
                return item
        if key.isdigit() and int(key) < len(node):
            return node[int(key)]
        names = [str(item.get("name") or item.get("channel")) for item in node
                 if isinstance(item, dict)]
        raise ConfigError(f"--set {edit!r}: no item {key!r} in {where}; there are "
                          f"{', '.join(names)} (or a position 0..{len(node) - 1})")
    raise ConfigError(f"--set {edit!r}: {where} is a value, not a table or list")
