"""The command table: every command of the Router, declared once.

Each row is a :class:`Spec`: the command's struct, its method name, its journal code, its
parameters in journal order, who may send it over the service, and whether it changes
state. Everything that lists commands is derived from this table:

* the journal's record layout (``code`` and ``params``: a record is
  ``[code, *arguments]``), and so the Redis streams, which carry the same records;
* the durable router's and the Redis client's generated methods (their signatures are
  ``params`` with the struct's defaults);
* the service's routes (``POST /v1/commands/<name>``) and roles;
* :data:`MUTATING`, the calls that the explaining router mirrors and that the checked test
  fixtures follow with ``check()``;
* the shared ``apply`` dispatch (:func:`apply`).

The table is **append only**: a code never changes meaning, and a command's ``params``
keep their order (a new parameter goes at the end, with a default), so that journals
written by any earlier version still replay. Adding a command is one row here, its struct
in :mod:`pyroute.commands`, and its engine code.

Read-only calls (views) are listed in :data:`READS`: they have no struct and no code.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Optional

import msgspec

from . import commands as c
from .errors import InvalidArgument

INTEGRATION = "integration"
SUPERVISOR = "supervisor"
ROLES = (INTEGRATION, SUPERVISOR)


class Spec(msgspec.Struct, frozen=True):
    """One command: ``struct`` (its Command type), ``name`` (the Router method), ``code``
    (its journal code), ``params`` (the method's parameters in journal order), ``role``
    (the least service role that may send it), ``mutating`` (it changes state)."""

    code: int
    name: str
    struct: type
    params: tuple[str, ...]
    role: str = SUPERVISOR
    mutating: bool = True
    #: (parameter, value) for parameters added later whose value in a record written
    #: before them is not the struct's default: such a record replays as it ran then
    legacy: tuple[tuple[str, Any], ...] = ()

    @property
    def defaults(self) -> dict[str, Any]:
        """Parameter -> default value, for the parameters that have one (the struct's)."""
        out = {}
        for f in msgspec.structs.fields(self.struct):
            if f.required:
                continue
            out[f.name] = f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
        return {p: out[p] for p in self.params if p in out}

    @property
    def type_name(self) -> str:
        """The struct's name, which is also its ``type`` tag on the wire."""
        return self.struct.__name__


#: The commands, in code order. APPEND ONLY.
COMMANDS: tuple[Spec, ...] = (
    Spec(0, "submit", c.Submit, ("request", "channel", "group", "priority", "visitor", "now",
                                 "skills", "prefer", "prefer_for"), INTEGRATION),
    Spec(1, "finish", c.Finish, ("request", "now"), INTEGRATION),
    Spec(2, "cancel", c.Cancel, ("request", "now", "switched_to"), INTEGRATION),
    Spec(3, "add_operator", c.AddOperator, ("operator", "groups", "limit", "status", "now",
                                            "channel_limits", "skills", "levels", "kind")),
    Spec(4, "remove_operator", c.RemoveOperator, ("operator", "now", "requeue")),
    Spec(5, "set_status", c.SetStatus, ("operator", "status", "now", "requeue"), INTEGRATION),
    Spec(6, "set_groups", c.SetGroups, ("operator", "groups", "now")),
    Spec(7, "set_limit", c.SetLimit, ("operator", "limit", "now")),
    Spec(8, "transfer", c.Transfer, ("request", "group", "operator", "now", "if_busy")),
    Spec(9, "escalate", c.Escalate, ("request", "now")),
    Spec(10, "accept", c.Accept, ("request", "operator", "now"), INTEGRATION),
    Spec(11, "decline", c.Decline, ("request", "operator", "now"), INTEGRATION),
    # a ban left waiting conversations alone before cancel_waiting existed
    Spec(12, "ban", c.Ban, ("visitor", "until", "reason", "now", "cancel_waiting"),
         legacy=(("cancel_waiting", False),)),
    Spec(13, "unban", c.Unban, ("visitor", "now")),
    Spec(14, "categorize", c.Categorize, ("request", "name", "now")),
    Spec(15, "advance", c.Advance, ("now",)),
    Spec(16, "hold", c.Hold, ("group", "channel", "hold", "seconds", "exclude", "now"),
         INTEGRATION),
    Spec(17, "release_hold", c.ReleaseHold, ("hold", "now"), INTEGRATION),
)

#: The read-only calls of a Router (no struct, no journal record), with their parameters.
READS: dict[str, tuple[str, ...]] = {
    "operator": ("operator",),
    "request": ("request",),
    "queue": ("group", "channel"),
    "stats": ("now",),
    "bans": ("now",),
    "accepting": ("group", "channel", "now", "visitor"),
    "expected_wait": ("group", "channel", "now"),
    "pick": ("group", "channel", "exclude"),
    "next_timer": (),
    "explain": ("request",),
    "check": (),
}
#: Reads of the native engine only (the reference engine keeps no native memory).
NATIVE_READS: dict[str, tuple[str, ...]] = {"memory": ()}

BY_NAME: dict[str, Spec] = {s.name: s for s in COMMANDS}
BY_TYPE: dict[type, Spec] = {s.struct: s for s in COMMANDS}
BY_TYPE_NAME: dict[str, Spec] = {s.type_name: s for s in COMMANDS}

#: The batch calls: a list of Command structs (``apply_many``, ``apply_each``) or packed
#: command records (``apply_packed``, pyroute.packed).
BATCHES: tuple[str, ...] = ("apply_many", "apply_each", "apply_packed")
#: The calls that change a router's state: every command's method, ``apply`` and the
#: batch calls.
MUTATING: tuple[str, ...] = tuple(s.name for s in COMMANDS if s.mutating) + ("apply",
                                                                             *BATCHES)

#: Command struct types, in code order.
COMMAND_TYPES: tuple[type, ...] = tuple(s.struct for s in COMMANDS)

#: The struct names the integration role may send over the service.
INTEGRATION_COMMANDS: frozenset[str] = frozenset(s.type_name for s in COMMANDS
                                                 if s.role == INTEGRATION)

#: code -> the arguments of a command struct in journal order (``(cmd.request, cmd.now)``)
_ARGS: dict[type, Callable[[Any], tuple]] = {}
for _s in COMMANDS:
    _get = operator.attrgetter(*_s.params)
    _ARGS[_s.struct] = _get if len(_s.params) > 1 else (lambda g: lambda cmd: (g(cmd),))(_get)


def spec_of(cmd: Any) -> Spec:
    """The spec of a command struct; InvalidArgument for anything else."""
    spec = BY_TYPE.get(type(cmd))
    if spec is None:
        raise InvalidArgument(
            f"apply takes a command struct (Submit, Finish, ...), got {type(cmd).__name__}")
    return spec


def arguments(cmd: Any) -> tuple:
    """A command's arguments in journal order (its method's positional order)."""
    get = _ARGS.get(type(cmd))
    if get is None:
        spec_of(cmd)   # raises
    return get(cmd)   # type: ignore[misc]


def record(cmd: Any) -> tuple:
    """The journal record of a command: ``(code, *arguments)``."""
    get = _ARGS.get(type(cmd))
    if get is None:
        spec_of(cmd)   # raises
    return (BY_TYPE[type(cmd)].code, *get(cmd))   # type: ignore[misc]


def from_record(values: Any) -> Any:
    """The command struct of a decoded record ``[code, *arguments]``. Raises ValueError
    for an unknown code or arguments that do not fit."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"a command record is a non-empty array, got {values!r:.80}")
    code, *args = values
    if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code < len(COMMANDS):
        raise ValueError(f"unknown command code {code!r:.40}")
    spec = COMMANDS[code]
    if len(args) > len(spec.params):
        raise ValueError(f"{spec.name}: {len(args)} arguments, at most {len(spec.params)}")
    kw = dict(zip(spec.params, args))
    for name, value in spec.legacy:
        kw.setdefault(name, value)
    if isinstance(kw.get("groups"), list):
        kw["groups"] = tuple(kw["groups"])
    return spec.struct(**kw)


def padded(code: int, args: list) -> list:
    """The positional arguments of a record of ``code`` that is shorter than the command's
    parameters, completed where a parameter has a ``legacy`` value (so that a record
    written before the parameter existed replays as it ran then); unchanged otherwise."""
    spec = COMMANDS[code]
    if not spec.legacy or len(args) >= len(spec.params):
        return args
    legacy = dict(spec.legacy)
    defaults = spec.defaults
    out = list(args)
    for name in spec.params[len(args):]:
        if name not in legacy and name not in defaults:
            break
        out.append(legacy.get(name, defaults.get(name)))
    return out


def apply(router: Any, cmd: Any) -> list:
    """Apply one command struct by calling the router's method for it (the dispatch of
    the reference engine and of wrappers; the native engine has its own, in C)."""
    get = _ARGS.get(type(cmd))
    if get is None:
        spec_of(cmd)   # raises
    return getattr(router, BY_TYPE[type(cmd)].name)(*get(cmd))   # type: ignore[misc]


def signature_source(spec: Spec, first: str = "self") -> str:
    """``self, request, now=None`` — a spec's parameters with their defaults, as Python
    source, for generated methods (the durable router, the Redis client)."""
    defaults = spec.defaults
    parts = [first] + [p if p not in defaults else f"{p}={defaults[p]!r}"
                       for p in spec.params]
    return ", ".join(x for x in parts if x)


def command(name: str, *args: Any, **kwargs: Any) -> Any:
    """The command struct of a method call (``command("finish", "c1", now=5.0)``):
    arguments bound as the method binds them. Raises InvalidArgument for an unknown
    method or arguments that do not fit."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise InvalidArgument(f"no command {name!r}; commands: {', '.join(BY_NAME)}")
    if len(args) > len(spec.params):
        raise InvalidArgument(f"{name}() takes {len(spec.params)} arguments, "
                              f"{len(args)} given")
    kw = dict(zip(spec.params, args))
    for k, v in kwargs.items():
        if k not in spec.params:
            raise InvalidArgument(f"{name}() got an unexpected argument {k!r}")
        if k in kw:
            raise InvalidArgument(f"{name}() got {k!r} twice")
        kw[k] = v
    missing = [p for p in spec.params if p not in kw and p not in spec.defaults]
    if missing:
        raise InvalidArgument(f"{name}() is missing {', '.join(missing)}")
    if isinstance(kw.get("groups"), list):
        kw["groups"] = tuple(kw["groups"])
    try:
        return spec.struct(**kw)
    except (TypeError, msgspec.ValidationError) as e:
        raise InvalidArgument(f"{name}(): {e}") from None


def _self_check() -> Optional[str]:
    """The table's own consistency (codes in order, params are struct fields)."""
    for i, s in enumerate(COMMANDS):
        if s.code != i:
            return f"{s.name}: code {s.code} at row {i}"
        fields = {f.name for f in msgspec.structs.fields(s.struct)}
        if set(s.params) != fields:
            return f"{s.name}: params {s.params} are not the fields of {s.type_name}"
        if s.role not in ROLES:
            return f"{s.name}: role {s.role!r}"
    return None


_problem = _self_check()
assert _problem is None, _problem
