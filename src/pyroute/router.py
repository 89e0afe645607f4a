"""``pyroute.Router``: the native engine with its documented Python API.

The methods are those of the compiled ``pyroute._core.Router`` (its docstrings say what each
returns, raises and costs); this subclass adds what is not on the hot path.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from . import _core, errors, packed
from ._common import check_flag
from ._explain import EXPLAIN_OFF
from .protocol import MUTATING
from .views import Explanation

if TYPE_CHECKING:
    from .journal import DurableRouter

# MUTATING (from the command table): the calls that change state, and so must reach the
# explaining mirror too


class Router(_core.Router):
    """Routes conversations to operators. See DESIGN §3 and ``docs/semantics.md``.

    ``Router(config, clock=time.monotonic, explain=False)``: ``config`` is a
    :class:`RouterConfig` (or a dict of the same shape); ``clock`` fills ``now`` when a call
    leaves it out; ``explain=True`` records every routing decision for :meth:`explain`
    (at the reference engine's speed; see docs/semantics.md, "Explanations").
    """

    __slots__ = ()

    def __new__(cls, config: Any = None, *, clock: Callable[[], float] = time.monotonic,
                explain: bool = False):
        if explain is True and cls is Router:
            cls = _ExplainingRouter
        return super().__new__(cls)

    def __init__(self, config: Any, *, clock: Callable[[], float] = time.monotonic,
                 explain: bool = False) -> None:
        check_flag("explain", explain)
        super().__init__(config, clock=clock)

    def explain(self, request: Any) -> Explanation:
        """The last routing decision for a conversation: the candidates its decision looked
        at and the rule that decided. Needs ``Router(config, explain=True)``; raises
        InvalidState otherwise."""
        raise errors.InvalidState(EXPLAIN_OFF)

    @classmethod
    def open(cls, directory: Any, config: Any, *, fsync: str = "batch",
             snapshot_every: Any = 100_000, **kw: Any) -> "DurableRouter":
        """A durable router on ``directory`` (created if missing): every accepted command
        is journaled before its events are returned; reopening recovers the state. See
        :class:`pyroute.journal.DurableRouter` and docs/durability.md."""
        from .journal import DurableRouter
        return DurableRouter(cls, directory, config, fsync=fsync,
                             snapshot_every=snapshot_every, **kw)


class _ExplainingRouter(Router):
    """A native router that mirrors every accepted command into a reference router made
    with ``explain=True``, which records the decisions (the engines decide alike). The
    reference engine is imported here, on the first router made with explain=True: a
    router that does not explain never loads it."""

    __slots__ = ("_mirror", "_times")
    _snapshot = None   # rebuilt by replay (the mirror has no native snapshot)

    def __init__(self, config: Any, *, clock: Callable[[], float] = time.monotonic,
                 explain: bool = True) -> None:
        from .reference import Router as Reference
        if not callable(clock):
            raise errors.InvalidArgument(f"clock must be callable, got {clock!r}")
        times: deque = deque()

        def recording() -> float:   # what the native engine read, replayed to the mirror
            t = clock()
            times.append(t)
            return t

        super().__init__(config, clock=recording, explain=True)
        self._times = times
        self._mirror = Reference(config, clock=times.popleft, explain=True)

    def explain(self, request: Any) -> Explanation:
        return self._mirror.explain(request)

    def stats(self, now: Any = None) -> Any:
        self._times.clear()
        out = super().stats(now)
        _catch_up(self)       # the timers it fired, decided in the mirror too
        return out

    def apply_many(self, cmds: Any) -> list:
        try:
            cmds = list(cmds)
        except TypeError:
            pass   # not iterable: the native engine says so
        self._times.clear()
        try:
            out = super().apply_many(cmds)
        except errors.BatchError as e:
            for cmd in cmds[:e.index]:
                self._mirror.apply(cmd)
            _catch_up(self)
            raise
        self._mirror.apply_many(cmds)
        return out


    def apply_packed(self, data: Any) -> bytes:
        # through apply_many (above), so that the mirror applies what the native engine did
        return packed.apply(self, data)


def _catch_up(router: Any) -> None:
    """Bring the mirror to the native engine's time (the timers a read or a refused call
    fired): the events it holds are never returned, its explanations are current."""
    if router.now > router._mirror.now:
        router._mirror._time(router.now)
        router._mirror._now = router.now


def _mirrored(name: str):
    native = getattr(_core.Router, name)

    def call(self, *args, **kwargs):
        self._times.clear()
        try:
            out = native(self, *args, **kwargs)
        except errors.RoutingError:
            _catch_up(self)   # refused, but brought to its now: timers due have fired
            raise
        getattr(self._mirror, name)(*args, **kwargs)
        return out

    call.__name__ = name
    call.__doc__ = native.__doc__
    return call


for _name in MUTATING:
    # apply_many has its own (above): a failure mirrors a prefix; apply_packed goes through it
    if _name not in ("apply_many", "apply_packed"):
        setattr(_ExplainingRouter, _name, _mirrored(_name))
