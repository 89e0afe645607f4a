"""The exception hierarchy. Every error pyroute raises is a :class:`RoutingError`.

A call that raises has changed nothing: validation happens before any state is touched.
Messages say what was wrong and what to do about it.
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by pyroute."""


class UnknownId(RoutingError, KeyError):
    """An operator, conversation, group or channel id that the router does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateId(RoutingError):
    """An id that is already in use (conversation ids stay reserved while kept in history)."""


class InvalidState(RoutingError):
    """The call does not fit the current state (finishing a queued conversation, ...)."""


class ConfigError(RoutingError, ValueError):
    """A configuration that cannot be used; the message names the field path."""


class ConfigWarning(UserWarning):
    """A configuration that works but probably does not do what was meant (a bot line
    with no line to fall back to, ...); the message names the group and what to change."""


class InvalidArgument(RoutingError, ValueError):
    """An argument of the wrong type or out of range (a ``None`` id, a negative limit, ...)."""


class StorageFull(InvalidState):
    """The journal has no room for the command (the disk is full): it was refused before
    it was applied, the router is unchanged and goes on once space returns. The service
    answers 503."""


class TimeError(RoutingError, ValueError):
    """``now`` is not a finite number, or is earlier than the last call's ``now``."""


class BatchError(RoutingError):
    """A command inside :meth:`Router.apply_many` failed.

    The commands before it were applied; ``events`` holds their events, ``index`` is the
    position of the failed command and ``error`` (also ``__cause__``) its exception.
    Nothing of the failed command or those after it was applied.
    """

    def __init__(self, index: int, error: RoutingError, events: list) -> None:
        super().__init__(f"command {index} failed: {type(error).__name__}: {error}")
        self.index = index
        self.error = error
        self.events = events


# Message builders shared by both engines, so the native and the reference engine say the
# same thing. They run only when an error is raised.

def _id_problem(what: str, value: object) -> InvalidArgument:
    return InvalidArgument(
        f"{what} id must be a str or an int, got {type(value).__name__} {value!r}")


def unknown(what: str, value: object, known: object = None) -> UnknownId:
    """``UnknownId`` for ``value``; ``known`` (names, e.g. the config's channel or group
    index) is listed so the caller sees what would have been accepted."""
    if known is None:
        return UnknownId(f"unknown {what} {value!r}")
    names = list(known)  # type: ignore[call-overload]
    shown = ", ".join(map(repr, names[:20])) + (f" and {len(names) - 20} more"
                                               if len(names) > 20 else "")
    return UnknownId(f"unknown {what} {value!r}; the config's {what}s are {shown}"
                     if names else f"unknown {what} {value!r}; the config has no {what}s")


def duplicate(what: str, value: object) -> DuplicateId:
    return DuplicateId(f"{what} {value!r} already exists; ids must be unique")


def ended(value: object, state: str, history: int) -> DuplicateId:
    """``DuplicateId`` for a conversation id that ended and is still kept in history."""
    return DuplicateId(
        f"conversation {value!r} already exists: it ended ({state}), and ended ids stay reserved "
        f"while they are kept in history (the last {history:,} ended conversations, "
        f"RouterConfig.history); submit the new conversation under a new id")


def bad_time(now: object, last: float) -> TimeError:
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        return TimeError(f"now must be a number of seconds, got {type(now).__name__} {now!r}")
    if now != now or now in (float("inf"), float("-inf")):
        return TimeError(f"now must be finite, got {now!r}")
    hint = ""
    if last > 1e9 > now:
        hint = ("; the last call's time looks like epoch seconds (time.time()) and this one "
                "like a monotonic clock: pass times from one clock, or leave now out and give "
                "the router that clock (Router(config, clock=...))")
    elif now < last < 1e9 and last - now > 1e6:
        hint = ("; the two times look like they come from different clocks: pass times from "
                "one clock, or leave now out and give the router that clock "
                "(Router(config, clock=...))")
    return TimeError(f"time went backwards: now={now!r} is earlier than the last call's "
                     f"{last!r}{hint}")
