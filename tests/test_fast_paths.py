"""The native engine's shortcuts past the Python boundary give what the long way gives.

* Names by identity: ``submit`` finds a channel or group name it has seen before by the
  str object's address (a small table holding a reference to each), and goes to the dict
  for anything else. Equal strs that are different objects, str subclasses, non-strs and
  names that collide in the table must all answer as the dict does; the table must not
  keep names alive after the router is gone.
* Events built in their slots: Assigned, Finished, Queued and Cancelled are allocated and
  filled where msgspec keeps their fields. They must be equal to, hash like, encode like,
  and be freed like the events the types' own constructors build.
"""

from __future__ import annotations

import gc
import sys

import msgspec
import pytest

import pyroute as pr
from pyroute import _core, reference
from pyroute.events import Assigned, Cancelled, Finished, Queued

from conftest import cfg


def test_the_fast_paths_are_on_with_the_installed_msgspec():
    # the instruction counts in bench/RESULTS.md are measured with all three; if a msgspec
    # release changes its layout they turn themselves off, and this says so (``pack``:
    # the packed records' C structs match pyroute.packed's formats on this machine)
    assert _core._fast_paths == {"command_fields": True, "event_slots": True, "pack": True}


def _floor():
    chans = [pr.Channel(f"ch{i}", priority=i) for i in range(12)]
    groups = [pr.Group(f"g{i}") for i in range(70)]
    return cfg(*groups, channels=chans)


def _pair():
    c = _floor()
    n, r = pr.Router(c, clock=lambda: 0.0), reference.Router(c, clock=lambda: 0.0)
    for router in (n, r):
        for g in range(70):
            router.add_operator(f"op{g}", [f"g{g}"], limit=2, status="online", now=0.0)
    return n, r


class Weird(str):
    """A str subclass that is equal to its value and hashes like it."""


def test_names_answer_as_the_dict_whatever_object_carries_them():
    n, r = _pair()
    t = 1.0
    names = []
    for i in range(300):
        ch, g = f"ch{i % 12}", f"g{(i * 7) % 70}"
        kind = i % 4
        if kind == 1:      # an equal str, another object each time
            ch, g = "".join(["c", "h", str(i % 12)]), "".join(["g", str((i * 7) % 70)])
        elif kind == 2:    # a subclass: never cached, still found
            ch, g = Weird(ch), Weird(g)
        names.append((ch, g))
    for i, (ch, g) in enumerate(names):
        t += 0.5
        assert n.submit(f"c{i}", ch, g, now=t) == r.submit(f"c{i}", ch, g, now=t)
        n.check()
    for ch, g in [("ch99", "g1"), ("ch1", "g99"), (b"ch1", "g1"), ("ch1", 1), (None, "g1")]:
        with pytest.raises(pr.UnknownId) as native:
            n.submit("x", ch, g, now=t)
        with pytest.raises(pr.UnknownId) as ref:
            r.submit("x", ch, g, now=t)
        assert str(native.value) == str(ref.value)
    assert n.stats(t) == r.stats(t)


def test_a_name_seen_once_is_found_again_and_an_unknown_one_after_it_is_not():
    n, _ = _pair()
    ch = "".join(["ch", "3"])
    n.submit("a", ch, "g3", now=1.0)
    n.submit("b", ch, "g3", now=1.0)            # from the table this time
    assert [v.channel for v in (n.request("a"), n.request("b"))] == ["ch3", "ch3"]
    with pytest.raises(pr.UnknownId):
        n.submit("c", "ch3x", "g3", now=1.0)
    assert n.request("b").channel == "ch3"


def test_the_table_lets_the_names_go_with_the_router():
    n, _ = _pair()
    ch = "".join(["ch", "5"])
    before = sys.getrefcount(ch)
    n.submit("a", ch, "g5", now=1.0)
    assert sys.getrefcount(ch) == before + 1      # held by the table alone
    del n
    gc.collect()
    assert sys.getrefcount(ch) == before


def test_events_from_a_router_equal_the_constructed_ones():
    n, r = _pair()
    got = []
    got += n.submit("a", "ch1", "g1", now=1.0)           # Assigned
    got += n.submit("b", "ch1", "g1", now=1.0)           # Assigned (limit 2)
    got += n.submit("c", "ch1", "g1", now=1.0)           # Queued
    got += n.cancel("c", now=2.0)                        # Cancelled
    got += n.finish("a", now=3.0)                        # Finished
    assert {type(e) for e in got} == {Assigned, Queued, Cancelled, Finished}
    for e in got:
        twin = type(e)(**{f: getattr(e, f) for f in e.__struct_fields__})
        assert e == twin and hash(e) == hash(twin)
        assert msgspec.json.encode(e) == msgspec.json.encode(twin)
        assert msgspec.msgpack.encode(e) == msgspec.msgpack.encode(twin)
        assert msgspec.json.decode(msgspec.json.encode(e), type=type(e)) == e
        assert repr(e) == repr(twin)
        assert not gc.is_tracked(e)
        with pytest.raises(AttributeError):
            e.at = 0.0                                    # still frozen
        assert msgspec.structs.replace(e, at=99.0).at == 99.0


def test_events_built_in_their_slots_are_freed_with_their_fields():
    n, _ = _pair()
    rid = "".join(["conv", "-1"])
    op = n.operator("op2").id
    evs = n.submit(rid, "ch2", "g2", now=1.0) + n.finish(rid, now=2.0)
    assert [type(e) for e in evs] == [Assigned, Finished]
    held_rid, held_op = sys.getrefcount(rid), sys.getrefcount(op)
    del evs
    assert sys.getrefcount(rid) == held_rid - 2      # each event held the id once
    assert sys.getrefcount(op) == held_op - 2
    for i in range(5_000):       # a reference leaked by an event would show in the count
        n.submit(f"x{i}", "ch2", "g2", now=3.0 + i)
        n.submit(f"y{i}", "ch2", "g2", now=3.0 + i)
        n.submit(f"z{i}", "ch2", "g2", now=3.0 + i)    # queued: op2 has two slots
        n.cancel(f"z{i}", now=3.0 + i)
        n.finish(f"x{i}", now=3.0 + i)
        n.finish(f"y{i}", now=3.0 + i)
    assert sys.getrefcount(op) == held_op - 2
