"""A data-only encoding of Python-side router state, for snapshots on disk and in Redis.

Snapshots used to be pickles, and unpickling runs code: a snapshot file with a valid
checksum, or a ``{shard}:snapshot`` hash written by anyone with write access to Redis,
could run anything on ``Router.open`` or on a worker taking a shard over. This codec reads
only MessagePack data and builds only the plain containers and the few state classes
named in :data:`CLASSES` (their attributes set one by one, no constructor, no
``__setstate__``, no import by name from the data), so reading a snapshot can at worst
fail with ValueError.

Encoded form (MessagePack): a scalar (None, bool, int, float, str, bytes) stands for
itself; everything else is a list whose first item is a tag:

* ``["T", items]`` tuple, ``["F", items]`` frozenset (immutable: no identity);
* ``["L", n, items]`` list, ``["D", n, [[k, v], ...]]`` dict, ``["S", n, items]`` set,
  ``["Q", n, items, maxlen]`` deque, ``["SL", n, items]`` SortedList,
  ``["O", n, class, {attr: value}]`` an object of a class in CLASSES,
  ``["M", struct, builtins]`` a frozen msgspec Struct of STRUCTS;
* ``["R", n]`` the object numbered n again (mutable objects keep their identity, as a
  request shared by a queue and the request table must).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()
_SCALARS = (type(None), bool, int, float, str, bytes)

#: name -> class, filled by :func:`register` (the engines' own state classes)
CLASSES: dict[str, type] = {}
#: name -> frozen msgspec Struct type (views kept in history and explanations)
STRUCTS: dict[str, type] = {}


def register(*classes: type) -> None:
    """Allow instances of ``classes`` in snapshots (plain state holders only)."""
    for cls in classes:
        if issubclass(cls, msgspec.Struct):
            STRUCTS[cls.__name__] = cls
        else:
            CLASSES[cls.__name__] = cls


def _attrs(obj: Any) -> dict:
    out = {}
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in out and hasattr(obj, name):
                out[name] = getattr(obj, name)
    out.update(getattr(obj, "__dict__", {}))
    return out


def to_data(value: Any) -> Any:
    """``value`` as MessagePack-able builtins (see the module doc). Raises TypeError for
    a type the codec does not know."""
    memo: dict[int, int] = {}
    keep: list = []          # keeps the objects alive so their ids stay unique

    def enc(v: Any) -> Any:
        t = type(v)
        if t in _SCALARS:
            return v
        if t is tuple:
            return ["T", [enc(x) for x in v]]
        if t is frozenset:
            return ["F", [enc(x) for x in v]]
        if isinstance(v, msgspec.Struct):
            name = t.__name__
            if STRUCTS.get(name) is not t:
                raise TypeError(f"snapshot: struct {name} is not registered")
            return ["M", name, msgspec.to_builtins(v)]
        n = memo.get(id(v))
        if n is not None:
            return ["R", n]
        n = memo[id(v)] = len(memo)
        keep.append(v)
        if t is list:
            return ["L", n, [enc(x) for x in v]]
        if t is dict:
            return ["D", n, [[enc(k), enc(x)] for k, x in v.items()]]
        if t is set:
            return ["S", n, [enc(x) for x in v]]
        if t is deque:
            return ["Q", n, [enc(x) for x in v], v.maxlen]
        if t.__name__ == "SortedList" and t.__module__.startswith("sortedcontainers"):
            return ["SL", n, [enc(x) for x in v]]
        if CLASSES.get(t.__name__) is t:
            return ["O", n, t.__name__, {k: enc(x) for k, x in _attrs(v).items()}]
        raise TypeError(f"snapshot: cannot encode a {t.__module__}.{t.__qualname__}")

    return enc(value)


def from_data(data: Any) -> Any:
    """The value :func:`to_data` encoded. Raises ValueError for anything malformed."""
    memo: dict[int, Any] = {}

    def bad(why: str) -> ValueError:
        return ValueError(f"not a pyroute state snapshot: {why}")

    def new(n: Any, obj: Any) -> Any:
        if not isinstance(n, int) or n in memo:
            raise bad(f"object number {n!r:.20}")
        memo[n] = obj
        return obj

    def dec(v: Any) -> Any:
        if type(v) in _SCALARS:
            return v
        if type(v) is not list or not v or type(v[0]) is not str:
            raise bad(f"unexpected {type(v).__name__}")
        tag = v[0]
        try:
            if tag == "T":
                return tuple(dec(x) for x in v[1])
            if tag == "F":
                return frozenset(dec(x) for x in v[1])
            if tag == "R":
                return memo[v[1]]
            if tag == "M":
                cls = STRUCTS.get(v[1])
                if cls is None:
                    raise bad(f"unknown struct {v[1]!r:.40}")
                return msgspec.convert(v[2], cls)
            if tag == "L":
                out: Any = new(v[1], [])
                out.extend(dec(x) for x in v[2])
                return out
            if tag == "D":
                out = new(v[1], {})
                for k, x in v[2]:
                    out[dec(k)] = dec(x)
                return out
            if tag == "S":
                out = new(v[1], set())
                out.update(dec(x) for x in v[2])
                return out
            if tag == "Q":
                out = new(v[1], deque(maxlen=v[3]))
                out.extend(dec(x) for x in v[2])
                return out
            if tag == "SL":
                from sortedcontainers import SortedList
                out = new(v[1], SortedList())
                out.update(dec(x) for x in v[2])
                return out
            if tag == "O":
                cls = CLASSES.get(v[2])
                if cls is None:
                    raise bad(f"unknown class {v[2]!r:.40}")
                out = new(v[1], cls.__new__(cls))
                if type(v[3]) is not dict:
                    raise bad("object attributes")
                for k, x in v[3].items():
                    if type(k) is not str or k.startswith("__"):
                        raise bad(f"attribute {k!r:.40}")
                    setattr(out, k, dec(x))
                return out
        except (KeyError, IndexError, TypeError, AttributeError,
                msgspec.ValidationError) as e:
            raise bad(f"{tag} node ({type(e).__name__}: {e})") from None
        raise bad(f"tag {tag!r:.20}")

    return dec(data)


def dumps(value: Any) -> bytes:
    """``value`` encoded as MessagePack bytes (data only)."""
    return _ENC.encode(to_data(value))


def loads(data: bytes) -> Any:
    """The value of :func:`dumps` bytes; ValueError for anything that is not."""
    try:
        tree = _DEC.decode(data)
    except (msgspec.DecodeError, RecursionError) as e:
        raise ValueError(f"not a pyroute state snapshot: {e}") from None
    try:
        return from_data(tree)
    except RecursionError:
        raise ValueError("not a pyroute state snapshot: nested too deeply") from None
