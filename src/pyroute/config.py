"""Router configuration: msgspec Structs, decodable from TOML and JSON.

Decoding reports a wrong field with its path (``$.groups[2].policy``). Constructing the
Structs directly in Python skips type checks, so :func:`compile_config` round-trips every
config through msgspec before use: whichever way a config was made, it is checked the same.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import msgspec
from msgspec import Meta

from .errors import ConfigError, ConfigWarning

Policy = Literal[
    "even", "longest_idle", "round_robin", "least_ratio", "fewest_handled", "ordered", "random"
]
POLICIES: tuple[str, ...] = (
    "even", "longest_idle", "round_robin", "least_ratio", "fewest_handled", "ordered", "random"
)
Order = Literal["priority", "deadline"]

#: Priorities are small integers; sums of three of them stay exact as doubles.
PRIORITY_LIMIT = 1_000_000
Priority = Annotated[int, Meta(ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)]
Seconds = Annotated[float, Meta(ge=0.0, le=1e9)]
PositiveSeconds = Annotated[float, Meta(gt=0.0, le=1e9)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]

MAX_CHANNELS = 64
MAX_GROUPS = 1024
MAX_LIMIT = 1_000_000


class _Named(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name


RetentionAction = Literal["hold_message", "offer_callback", "offer_channel", "leave_request"]
RETENTION_ACTIONS: tuple[str, ...] = ("hold_message", "offer_callback", "offer_channel",
                                      "leave_request")


class Retention(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A step to keep a waiting customer: ``after`` seconds of waiting, the host should
    ``action`` ("please wait" message, offer a call-back, another channel, or a request)."""

    after: PositiveSeconds
    action: RetentionAction


class Channel(_Named, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where conversations come from (site chat, telegram, e-mail, ...).

    ``priority``: rank among channels (higher is served first). ``target_wait``: the wait
    the team promises (seconds), the norm for service level and for ``order="deadline"``.
    ``early_cancel``: a cancellation sooner than this after arrival is ``early``.
    ``retention``: steps that fire (``RetentionDue``) while a conversation first waits.
    ``wrap_up``: seconds an operator's slot stays taken after finishing a conversation.
    ``cost``: slots one conversation takes (``"all"``: all of the operator's slots, as a
    call does).
    ``reserve``: a waiting conversation of this channel that no operator can fit now
    (``cost`` above 1 or ``"all"``) reserves the operator who will drain soonest, who then
    takes no work ranked below it until it fits (blending; docs/semantics.md).
    """

    priority: Priority = 0
    target_wait: PositiveSeconds = 60.0
    early_cancel: Seconds = 20.0
    retention: Annotated[tuple[Retention, ...], Meta(max_length=16)] = ()
    wrap_up: Seconds = 0.0
    cost: Annotated[int, Meta(ge=1, le=1000)] | Literal["all"] = 1
    reserve: bool = True


class Overflow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rule that makes a waiting conversation eligible for more groups.

    Give exactly one trigger: ``after`` seconds of waiting (counted from arrival),
    ``when_no_operators`` (nobody online in the group) or ``when_queue_over`` N (the group
    already has N or more waiting when the conversation joins it).
    """

    to: Annotated[tuple[Name, ...], Meta(min_length=1)]
    after: Seconds | None = None
    when_no_operators: bool = False
    when_queue_over: Annotated[int, Meta(ge=0, le=1_000_000_000)] | None = None


SkillName = Annotated[str, Meta(min_length=1, max_length=100)]
MAX_SKILLS = 64
MAX_LEVEL = 5


class Relax(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """After ``after`` seconds of waiting, the skills in ``drop`` are no longer required."""

    after: PositiveSeconds
    drop: Annotated[tuple[SkillName, ...], Meta(min_length=1)]


class Group(_Named, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A department: a set of operators and the rules to route to them.

    ``hidden``: takes only transfers and escalations (a submit to it is rejected).
    ``max_queue``: admission control — while this many conversations wait in the group
    and none of its operators has room, ``accepting()`` says no and a submit to it is
    ``Rejected(reason="overloaded")`` (0: admit only what can be answered at once).
    ``max_expected_wait``: admission control by prediction — while nobody in the group
    could answer a conversation of the channel at once and the wait predicted for a
    newcomer (``Router.expected_wait``) is longer than this many seconds, ``accepting()``
    says no and a submit is ``Rejected(reason="overloaded")``.
    ``wrap_up``: overrides the channel's wrap-up for conversations answered through this
    group.
    ``accept_timeout``: conversations are offered (``Offered``) instead of assigned; the
    operator has this long to ``accept``. ``max_missed``: after this many expired offers
    in a row the operator is set away.
    ``relax``: skill requirements of conversations submitted here, dropped as they wait.
    ``level_step``: an operator of level L in this group is eligible for a conversation
    after (L - 1) x level_step seconds of its wait (tiers).
    ``sticky_for``: a visitor coming back within this many seconds of the end of their
    last conversation here goes to the same operator, if that operator can take it at once.
    ``line``: support line 0 (self-service, bots) to 3 (narrow specialists).
    ``escalate_to``: the group ``escalate()`` sends conversations to (the next line).
    ``transfer_timeout``: how long a conversation transferred to a busy operator of this
    group waits for them before any operator of the group may take it.
    ``channels``: the channels the department takes (``None``: all of them). A submit of
    another channel to it is ``Rejected(reason="channel")``; overflow skips it for
    conversations of other channels; transfers and escalations of them to it are refused.
    """

    policy: Policy = "even"
    priority: Priority = 0
    overflow: tuple[Overflow, ...] = ()
    hidden: bool = False
    max_queue: Annotated[int, Meta(ge=0, le=1_000_000_000)] | None = None
    max_expected_wait: PositiveSeconds | None = None
    wrap_up: Seconds | None = None
    accept_timeout: PositiveSeconds | None = None
    max_missed: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    relax: Annotated[tuple[Relax, ...], Meta(max_length=16)] = ()
    level_step: PositiveSeconds | None = None
    sticky_for: PositiveSeconds | None = None
    line: Annotated[int, Meta(ge=0, le=3)] = 1
    escalate_to: Name | None = None
    transfer_timeout: PositiveSeconds = 60.0
    channels: Optional[tuple[Name, ...]] = None


class RouterConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole routing configuration.

    ``aging``: priority points a conversation gains per second of waiting (0: off).
    ``order``: ``"priority"`` (channel + request + group priority, then arrival) or
    ``"deadline"`` (arrival + the channel's ``target_wait``, earliest first).
    ``seed``: seeds the ``random`` policy. ``history``: how many finished, cancelled or
    rejected conversations stay visible to ``router.request(id)`` (their ids stay taken).
    """

    channels: Annotated[tuple[Channel, ...], Meta(min_length=1, max_length=MAX_CHANNELS)]
    groups: Annotated[tuple[Group, ...], Meta(min_length=1, max_length=MAX_GROUPS)]
    aging: Annotated[float, Meta(ge=0.0, le=1e6)] = 0.0
    order: Order = "priority"
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 0
    history: Annotated[int, Meta(ge=0, le=100_000_000)] = 100_000

    @classmethod
    def from_toml(cls, path: str | Path) -> "RouterConfig":
        """Read a config from a TOML file; errors name the file and the field path."""
        return _decode_file(path, msgspec.toml.decode)

    @classmethod
    def from_json(cls, data: str | bytes | Path) -> "RouterConfig":
        """Read a config from JSON text, or from a ``Path`` to a JSON file."""
        if isinstance(data, Path):
            return _decode_file(data, msgspec.json.decode)
        try:
            cfg = msgspec.json.decode(data, type=RouterConfig)
        except msgspec.ValidationError as e:
            raise ConfigError(f"invalid config: {_explain(e)}") from None
        except msgspec.DecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        compile_config(cfg)
        return cfg


def _choices(root: Any) -> dict[str, tuple]:
    """Field name -> the values its ``Literal`` type allows, over every Struct reachable
    from ``root`` (for error messages)."""
    import msgspec.inspect as mi
    found: dict[str, tuple] = {}
    seen: set = set()

    def walk(t: Any, name: Optional[str]) -> None:
        if isinstance(t, mi.Metadata):
            walk(t.type, name)
        elif isinstance(t, mi.LiteralType):
            if name is not None:
                found[name] = found.get(name, ()) + tuple(
                    v for v in t.values if v not in found.get(name, ()))
        elif isinstance(t, mi.UnionType):
            for u in t.types:
                walk(u, name)
        elif isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
            walk(t.item_type, name)
        elif isinstance(t, mi.TupleType):
            for u in t.item_types:
                walk(u, name)
        elif isinstance(t, mi.DictType):
            walk(t.value_type, name)
        elif isinstance(t, mi.StructType) and t.cls not in seen:
            seen.add(t.cls)
            for f in t.fields:
                walk(f.type, f.name)

    walk(mi.type_info(root), None)
    return found


def explain_validation(e: msgspec.ValidationError, root: Any) -> str:
    """msgspec's message, plus the accepted values when a field that takes one of a few
    names (an enum-like ``Literal``, anywhere under ``root``) was given another."""
    msg = str(e)
    m = re.search(r"`\$[^`]*\.(\w+)`$", msg)
    if m and "Invalid enum value" in msg:
        allowed = _choices(root).get(m.group(1))
        if allowed:
            msg += f"; expected one of: {', '.join(map(str, allowed))}"
    return msg


def _explain(e: msgspec.ValidationError) -> str:
    return explain_validation(e, RouterConfig)


def _decode_file(path: str | Path, decode: Any) -> RouterConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    try:
        cfg = decode(raw, type=RouterConfig)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path}: {_explain(e)}") from None
    except msgspec.DecodeError as e:
        raise ConfigError(f"{path}: not a valid config file: {e}") from None
    try:
        compile_config(cfg)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return cfg


# ---------------------------------------------------------------------------------------
# The compiled form both engines build from: indices instead of names.

RULE_AFTER = 0
RULE_NO_OPERATORS = 1
RULE_QUEUE_OVER = 2
RULE_REASONS = ("after", "no_operators", "queue_over")


class Rule(msgspec.Struct, frozen=True):
    kind: int            # RULE_AFTER | RULE_NO_OPERATORS | RULE_QUEUE_OVER
    value: float         # seconds for RULE_AFTER, N for RULE_QUEUE_OVER
    to: tuple[int, ...]  # target group indices, in the order the rule lists them


class Compiled(msgspec.Struct, frozen=True, kw_only=True):
    """A validated config, lowered to the per-channel and per-group tables both engines
    read (the one place where the config becomes numbers; times are floats, ``None``
    where the config leaves a feature off)."""

    config: RouterConfig
    channel_names: tuple[str, ...]
    group_names: tuple[str, ...]
    channel_index: dict[str, int]
    group_index: dict[str, int]
    rules: tuple[tuple[Rule, ...], ...]   # per group
    policies: tuple[int, ...]              # index into POLICIES, per group
    escalate: tuple[int, ...]              # escalate_to group index, or -1, per group
    # per channel
    target_wait: tuple[float, ...]
    early_cancel: tuple[float, ...]
    channel_wrap_up: tuple[float, ...]
    cost: tuple[int, ...]                  # slots a conversation takes; -1: all of them
    reserve: tuple[bool, ...]              # one that fits nobody reserves an operator
    retention: tuple[tuple[tuple[float, str], ...], ...]   # (after, action) steps
    # per group
    hidden: tuple[bool, ...]
    sticky_for: tuple[Optional[float], ...]
    group_wrap_up: tuple[Optional[float], ...]
    accept_timeout: tuple[Optional[float], ...]
    max_missed: tuple[Optional[int], ...]
    level_step: tuple[Optional[float], ...]
    transfer_timeout: tuple[float, ...]
    max_queue: tuple[Optional[int], ...]
    max_expected_wait: tuple[Optional[float], ...]
    relax: tuple[tuple[tuple[float, tuple[str, ...]], ...], ...]   # (after, skills dropped)
    # per (group, channel): the constant added to a request's key when queues are compared
    # (the channel's target wait with order="deadline", else minus both priorities)
    offset: tuple[tuple[float, ...], ...]
    # per group, per channel: the group takes conversations of the channel (Group.channels)
    takes: tuple[tuple[bool, ...], ...] = ()
    # what the config check found that is allowed but probably not meant (ConfigWarning)
    warnings: tuple[str, ...] = ()


def compile_config(config: Any) -> Compiled:
    """Validate ``config`` (a RouterConfig or a plain mapping) and index its names.

    Raises :class:`ConfigError` naming the field path and what to change.
    """
    if isinstance(config, RouterConfig):
        raw = msgspec.to_builtins(config)
    elif isinstance(config, dict):
        raw = config
    else:
        raise ConfigError(
            f"config must be a RouterConfig or a dict, got {type(config).__name__}")
    try:
        cfg = msgspec.convert(raw, RouterConfig)
    except msgspec.ValidationError as e:
        raise ConfigError(f"invalid config: {_explain(e)}") from None

    def names(items: tuple, where: str) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.name in index:
                raise ConfigError(
                    f"duplicate {where[:-1]} name {item.name!r} at `$.{where}[{i}].name` "
                    f"(first at `$.{where}[{index[item.name]}]`); names must be unique")
            index[item.name] = i
        return index

    ch_index = names(cfg.channels, "channels")
    g_index = names(cfg.groups, "groups")
    if not math.isfinite(cfg.aging):
        raise ConfigError("`$.aging` must be finite")
    C = len(cfg.channels)
    takes: list[tuple[bool, ...]] = []
    for gi, g in enumerate(cfg.groups):
        if g.channels is None:
            takes.append((True,) * C)
            continue
        path = f"$.groups[{gi}].channels"
        if not g.channels:
            raise ConfigError(
                f"`{path}`: group {g.name!r} lists no channel; list the channels it takes, "
                f"or leave `channels` out for all of them")
        row = [False] * C
        for ci, name in enumerate(g.channels):
            if name not in ch_index:
                raise ConfigError(
                    f"`{path}[{ci}]`: group {g.name!r} names unknown channel {name!r}; "
                    f"known channels: {', '.join(sorted(ch_index))}")
            if row[ch_index[name]]:
                raise ConfigError(f"`{path}[{ci}]`: group {g.name!r} repeats channel {name!r}")
            row[ch_index[name]] = True
        takes.append(tuple(row))

    def channels_of(gi: int) -> str:
        return ", ".join(c.name for c, t in zip(cfg.channels, takes[gi]) if t)

    def shared(a: int, b: int) -> bool:
        return any(x and y for x, y in zip(takes[a], takes[b]))

    escalate = []
    for gi, g in enumerate(cfg.groups):
        if g.escalate_to is None:
            escalate.append(-1)
        elif g.escalate_to not in g_index:
            raise ConfigError(
                f"`$.groups[{gi}].escalate_to` names unknown group {g.escalate_to!r}; "
                f"known groups: {', '.join(sorted(g_index))}")
        elif g.escalate_to == g.name:
            raise ConfigError(f"`$.groups[{gi}].escalate_to` names the group itself")
        elif not shared(gi, g_index[g.escalate_to]):
            raise ConfigError(
                f"`$.groups[{gi}].escalate_to`: group {g.escalate_to!r} takes none of the "
                f"channels of group {g.name!r} ({channels_of(gi)}), so nothing could be "
                f"escalated to it; escalate to a group that takes them")
        else:
            escalate.append(g_index[g.escalate_to])
    rules: list[tuple[Rule, ...]] = []
    notes: list[str] = []
    for gi, g in enumerate(cfg.groups):
        grules = []
        for ri, ov in enumerate(g.overflow):
            path = f"$.groups[{gi}].overflow[{ri}]"
            triggers = [ov.after is not None, ov.when_no_operators, ov.when_queue_over is not None]
            if sum(triggers) != 1:
                raise ConfigError(
                    f"`{path}` must give exactly one of `after`, `when_no_operators`, "
                    f"`when_queue_over` (use one Overflow entry per trigger)")
            to = []
            for ti, t in enumerate(ov.to):
                if t not in g_index:
                    raise ConfigError(
                        f"`{path}.to[{ti}]` names unknown group {t!r}; "
                        f"known groups: {', '.join(sorted(g_index))}")
                if g_index[t] in to:
                    raise ConfigError(f"`{path}.to[{ti}]` repeats group {t!r}")
                to.append(g_index[t])
            if not any(shared(gi, t) for t in to):
                raise ConfigError(
                    f"`{path}.to`: the groups {', '.join(repr(t) for t in ov.to)} take none "
                    f"of the channels of group {g.name!r} ({channels_of(gi)}), so the rule "
                    f"could never move anything; overflow to groups that take them")
            if ov.after is not None:
                rule = Rule(RULE_AFTER, float(ov.after), tuple(to))
            elif ov.when_no_operators:
                rule = Rule(RULE_NO_OPERATORS, 0.0, tuple(to))
            else:
                rule = Rule(RULE_QUEUE_OVER, float(ov.when_queue_over), tuple(to))
            grules.append(rule)
        if g.line == 0 and not any(r.kind == RULE_NO_OPERATORS for r in grules):
            # a bot line with nobody online falls back to the next line by itself
            if escalate[gi] >= 0:
                grules.append(Rule(RULE_NO_OPERATORS, 0.0, (escalate[gi],)))
                nxt = escalate[gi]
                left = [c.name for c, a, b in zip(cfg.channels, takes[gi], takes[nxt])
                        if a and not b]
                if left:
                    notes.append(
                        f"group {g.name!r} is line 0: while nobody is online in it, its "
                        f"conversations go to {g.escalate_to!r}, which does not take "
                        f"{', '.join(left)}; those wait. Give it a when_no_operators "
                        f"overflow to a group that takes them")
            else:
                notes.append(
                    f"group {g.name!r} is line 0 (bots) but has no escalate_to and no "
                    f"when_no_operators overflow: while nobody is online in it, its "
                    f"conversations wait. Set escalate_to to the first line")
        rules.append(tuple(grules))
    for note in notes:
        warnings.warn(note, ConfigWarning, stacklevel=3)
    return Compiled(
        config=cfg,
        channel_names=tuple(c.name for c in cfg.channels),
        group_names=tuple(g.name for g in cfg.groups),
        channel_index=ch_index,
        group_index=g_index,
        rules=tuple(rules),
        policies=tuple(POLICIES.index(g.policy) for g in cfg.groups),
        escalate=tuple(escalate),
        target_wait=tuple(float(c.target_wait) for c in cfg.channels),
        early_cancel=tuple(float(c.early_cancel) for c in cfg.channels),
        channel_wrap_up=tuple(float(c.wrap_up) for c in cfg.channels),
        cost=tuple(-1 if c.cost == "all" else c.cost for c in cfg.channels),
        reserve=tuple(bool(c.reserve) and c.cost != 1 for c in cfg.channels),
        retention=tuple(tuple((float(x.after), x.action) for x in c.retention)
                        for c in cfg.channels),
        hidden=tuple(g.hidden for g in cfg.groups),
        sticky_for=tuple(_opt_float(g.sticky_for) for g in cfg.groups),
        group_wrap_up=tuple(_opt_float(g.wrap_up) for g in cfg.groups),
        accept_timeout=tuple(_opt_float(g.accept_timeout) for g in cfg.groups),
        max_missed=tuple(g.max_missed for g in cfg.groups),
        level_step=tuple(_opt_float(g.level_step) for g in cfg.groups),
        transfer_timeout=tuple(float(g.transfer_timeout) for g in cfg.groups),
        max_queue=tuple(g.max_queue for g in cfg.groups),
        max_expected_wait=tuple(_opt_float(g.max_expected_wait) for g in cfg.groups),
        relax=tuple(tuple((float(x.after), tuple(x.drop)) for x in g.relax)
                    for g in cfg.groups),
        offset=tuple(tuple(float(c.target_wait) if cfg.order == "deadline"
                           else float(-(c.priority + g.priority)) for c in cfg.channels)
                     for g in cfg.groups),
        takes=tuple(takes),
        warnings=tuple(notes),
    )


def _opt_float(x: Optional[float]) -> Optional[float]:
    return None if x is None else float(x)
