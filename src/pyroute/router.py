"""``pyroute.Router``: the native engine with its documented Python API.

The methods are those of the compiled ``pyroute._core.Router`` (its docstrings say what each
returns, raises and costs); this subclass adds what is not on the hot path.
"""

from __future__ import annotations

from . import _core


class Router(_core.Router):
    """Routes conversations to operators. See DESIGN §3 and ``docs/semantics.md``.

    ``Router(config, clock=time.monotonic)``: ``config`` is a :class:`RouterConfig` (or a
    dict of the same shape); ``clock`` fills ``now`` when a call leaves it out.
    """

    __slots__ = ()
