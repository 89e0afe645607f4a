"""Packed batches (``apply_packed``, pyroute.packed, docs/packed.md).

The packed form is another way in and out, not another router: the same commands through
``apply_packed`` must change the state exactly as ``apply_many`` does and say the same
events, byte for byte on both engines; a bad batch is refused the way ``apply_many``
refuses (the prefix applied, its events told, nothing of the rest); and the simulator,
which drives the native engine through it, must report the same day as the reference
engine driven by method calls.
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

import pyroute as pr
from pyroute import _core, packed, reference
from pyroute.sim import load_scenario, scenario_from
from pyroute.sim.engine import _simulate

ENGINES = {"native": pr.Router, "reference": reference.Router}

CONFIG = pr.RouterConfig(
    channels=[pr.Channel("web", early_cancel=5.0), pr.Channel("call", priority=1),
              pr.Channel("email", cost=1)],
    groups=[pr.Group("first", escalate_to="second",
                     overflow=[pr.Overflow(to=["second"], after=30.0)]),
            pr.Group("second"),
            pr.Group("offers", accept_timeout=20.0),
            pr.Group("dark", hidden=True)])
GROUPS = [g.name for g in CONFIG.groups]
CHANNELS = [c.name for c in CONFIG.channels]


def floor(engine):
    """A small floor: int operators, one str-named operator, one bot, an offline one."""
    return staff(ENGINES[engine](CONFIG))


def staff(r):
    """``r`` (a router or a durable one, of CONFIG) given the floor's operators."""
    r.add_operator(101, ["first"], 2, "online", now=0.0)
    r.add_operator(102, ["first", "second"], 2, "online", now=0.0)
    r.add_operator(103, ["offers"], 1, "online", now=0.0)
    r.add_operator("senior", ["second"], 1, "online", now=0.0)
    r.add_operator(104, ["first"], 3, "online", now=0.0, kind="bot")
    r.add_operator(105, ["second"], 2, "offline", now=0.0)
    return r


def stream(seed: int, n: int) -> list:
    """A day's commands in the packed form's reach (int ids), some of them refused."""
    rng = random.Random(seed)
    cmds: list = []
    live: list[int] = []
    offered: list[int] = [0]
    t = 0.0
    for k in range(n):
        t += rng.expovariate(1.0)
        x = rng.random()
        if x < 0.4 or not live:
            live.append(1000 + k)
            group = rng.choice(GROUPS)
            if group == "offers":
                offered.append(1000 + k)
            cmds.append(pr.Submit(request=1000 + k, channel=rng.choice(CHANNELS),
                                  group=group, priority=rng.randint(0, 3), now=t))
        elif x < 0.6:
            cmds.append(pr.Finish(request=rng.choice(live), now=t))
        elif x < 0.68:
            cmds.append(pr.Cancel(request=rng.choice(live), now=t))
        elif x < 0.74:
            cmds.append(pr.Escalate(request=rng.choice(live), now=t))
        elif x < 0.8:
            cmds.append(pr.Transfer(request=rng.choice(live), group=rng.choice(GROUPS), now=t))
        elif x < 0.9:
            cmds.append(pr.Accept(request=rng.choice(offered[-3:]), now=t))
        else:
            t += rng.choice([0.0, 25.0, 40.0])
            cmds.append(pr.Advance(now=t))
    return cmds


def one_by_one(r, cmds, packed_form: bool) -> list:
    """Each command alone: its answer (packed bytes, or events packed afterwards) or how
    it was refused; the core's self-check after every step."""
    out = []
    for cmd in cmds:
        try:
            if packed_form:
                got = r.apply_packed(packed.encode_commands([cmd], CONFIG))
            else:
                got = packed.encode_events(r.apply_many([cmd]), CONFIG)
            out.append(got)
        except pr.BatchError as e:
            out.append((e.index, type(e.error).__name__, str(e.error), e.events))
        r.check()
    return out


# ---------------------------------------------------------------------- the same routing
@pytest.mark.parametrize("seed", range(6))
def test_packed_commands_route_as_apply_many_does_on_both_engines(seed):
    cmds = stream(seed, 300)
    runs = {}
    for engine in ENGINES:
        for form in (True, False):
            r = floor(engine)
            runs[engine, form] = (one_by_one(r, cmds, form), r._state())
    first = runs["native", True]
    assert all(run == first for run in runs.values())
    answers = [a for a in first[0] if isinstance(a, bytes)]
    refused = [a for a in first[0] if not isinstance(a, bytes)]
    assert len(answers) > 100 and refused     # the stream does route, and is refused too
    kinds = {type(e).__name__ for a in answers for e in packed.decode_events(a, CONFIG)}
    # the fixed records and the other ones (overflow, the str-named operator, offers)
    assert {"Assigned", "Queued", "Finished", "Offered", "Accepted", "Overflowed"} <= kinds


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 60))
def test_one_batch_is_the_commands_one_by_one(seed, size):
    """A whole batch in one call: the same state and the same events (in order) as its
    commands one at a time, up to the first refused one, which raises BatchError with
    the prefix's events as Structs."""
    cmds = stream(seed, size)
    data = packed.encode_commands(cmds, CONFIG)
    for engine in ENGINES:
        batch, single = floor(engine), floor(engine)
        want: list = []
        failed = None
        for i, cmd in enumerate(cmds):
            try:
                want += single.apply_many([cmd])
            except pr.BatchError as e:
                failed = (i, type(e.error), str(e.error))
                break
        try:
            got = packed.decode_events(batch.apply_packed(data), CONFIG)
            assert failed is None
        except pr.BatchError as e:
            assert (e.index, type(e.error), str(e.error)) == failed
            assert isinstance(e.__cause__, pr.RoutingError)
            got = e.events
        assert got == want
        assert batch._state() == single._state()
        batch.check()


def test_a_str_id_pulled_by_a_packed_finish_travels_as_an_other_record():
    """A conversation submitted by a host with a str id is still told about in full when a
    packed command pulls it: its Assigned cannot be a fixed record (its id is not an
    int), so it is an *other* record carrying the event's MessagePack."""
    for engine in ENGINES:
        r = floor(engine)
        r.apply_packed(packed.encode_commands(
            [pr.Submit(request=1, channel="call", group="offers", now=1.0),
             pr.Accept(request=1, now=1.5)], CONFIG))
        assert r.submit("chat-7", "call", "offers", now=2.0)[0].__class__ is pr.Queued
        raw = r.apply_packed(packed.encode_commands([pr.Finish(request=1, now=3.0)], CONFIG))
        first = packed.EVENT.unpack_from(raw, 0)
        assert first[0] == packed.FINISHED and first[5] == 1 and first[6] == 103
        assert packed.EVENT.unpack_from(raw, 48)[0] == packed.OTHER
        assert packed.decode_events(raw, CONFIG) == [
            pr.Finished(1, 103, 3.0),
            pr.Offered("chat-7", 103, "offers", "call", 3.0, 23.0)]


# ---------------------------------------------------------------------- the format
def test_every_event_type_round_trips_through_the_packed_records():
    events = [
        pr.Assigned(1, 2, "first", "web", 1.0, 0.5), pr.Queued(3, "second", "call", 2.0),
        pr.Queued(4, "first", "email", 2.5, 7, 30.25), pr.Finished(1, 2, 3.0),
        pr.Cancelled(3, 4.0, 2.0, True, "banned"), pr.Rejected(5, 5.0, "channel"),
        pr.Offered(6, 7, "offers", "call", 6.0, 26.0), pr.Accepted(6, 7, 7.0, 1.0),
        pr.Overflowed(8, "first", ("second",), "after", 8.0),
        pr.StatusChanged(9, "away", 9.0, "missed_offers"),
        pr.Assigned("s", 2, "first", "web", 1.0, 0.5), pr.Finished(1, "senior", 3.0),
        pr.Assigned(2**63, 2, "first", "web", 1.0, 0.5), pr.Rejected(-(2**63), 1.0, "hidden"),
        pr.Held("h1", 2, "first", "web", 1.0, 61.0), pr.HoldEnded("h1", 2, 2.0, "released"),
        pr.RetentionDue(3, "bump", 4.0), pr.OfferExpired(6, 7, 5.0),
        pr.Transferred(6, 5.0, 7, "second", None, False),
        pr.TransferFailed(6, 5.0, 7, None, "timeout")]
    data = packed.encode_events(events, CONFIG)
    assert len(data) % 8 == 0
    back = packed.decode_events(data, CONFIG)
    assert back == events
    # the fixed records are what docs/packed.md says, field by field
    assert packed.EVENT.unpack_from(data, 0) == (packed.ASSIGNED, 0, 0, 0, 0, 1, 2, 1.0, 0.5)
    q = packed.EVENT.unpack_from(data, 48)
    assert q[:8] == (packed.QUEUED, 0, 1, 1, 0, 3, 0, 2.0) and math.isnan(q[8])
    assert packed.EVENT.unpack_from(data, 4 * 48)[:5] == (packed.CANCELLED, 2, -1, -1, 1)


def test_commands_round_trip_and_what_has_no_packed_form_is_refused():
    cmds = [pr.Submit(request=-5, channel="email", group="dark", priority=-3, now=1.0),
            pr.Finish(request=2**63 - 1, now=2.0), pr.Cancel(request=0), pr.Advance(now=3.0),
            pr.Escalate(request=7, now=4.0), pr.Transfer(request=7, group="second", now=5.0),
            pr.Accept(request=7, now=6.0)]
    data = packed.encode_commands(cmds, CONFIG)
    assert len(data) == 32 * len(cmds)
    assert packed.decode_commands(data, CONFIG) == cmds
    assert struct.unpack_from("<BxHH", data) == (packed.SUBMIT, 2, 3)
    for bad in (pr.Submit(request="c1", channel="web", group="first"),
                pr.Finish(request=1, now=math.nan), pr.Finish(request=1, now=True),
                pr.Finish(request=1, now="noon"),
                pr.Submit(request=1, channel="web", group="first", visitor="v"),
                pr.Submit(request=1, channel="web", group="first", skills={"x": 1}),
                pr.Submit(request=1, channel="sms", group="first"),
                pr.Submit(request=1, channel="web", group="first", priority=2**31),
                pr.Finish(request=2**63), pr.Finish(request=True),
                pr.Cancel(request=1, switched_to=2), pr.Accept(request=1, operator=101),
                pr.Transfer(request=1, operator=101), pr.SetStatus(operator=1, status="away"),
                pr.Transfer(request=1, group="second", if_busy="refuse")):
        with pytest.raises((pr.InvalidArgument, pr.UnknownId)):
            packed.encode_commands([bad], CONFIG)


# ---------------------------------------------------------------------- garbage
def _state_after(r, call):
    before = r._state()
    with pytest.raises(pr.RoutingError) as ei:
        call(r)
    assert r._state() == before
    return ei.value


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("data", [b"\x01" * 31, b"\x00" * 33, "not bytes", 12, None,
                                  [1, 2], memoryview(b"\x01" * 40)])
def test_what_is_not_whole_records_is_refused_before_anything(engine, data):
    err = _state_after(floor(engine), lambda r: r.apply_packed(data))
    assert isinstance(err, pr.InvalidArgument) and "32-byte command records" in str(err)


def _rec(op=1, ch=0, g=0, prio=0, rid=1, now=1.0):
    return packed.COMMAND.pack(op, ch, g, prio, rid, now)


@pytest.mark.parametrize("bad, kind, words", [
    (_rec(op=0), pr.InvalidArgument, "unknown packed op code 0"),
    (_rec(op=99), pr.InvalidArgument, "unknown packed op code 99"),
    (_rec(ch=3), pr.UnknownId, "channel index 3: the config has 3 channels"),
    (_rec(g=4), pr.UnknownId, "group index 4: the config has 4 groups"),
    (_rec(op=6, g=65535), pr.UnknownId, "group index 65535"),
    (_rec(prio=2**31 - 1), pr.InvalidArgument, "priority"),
    (_rec(rid=10), pr.DuplicateId, "10"),
    (_rec(op=2, rid=404), pr.UnknownId, "404"),
    (_rec(op=2, rid=13), pr.InvalidState, "still queued"),
    (_rec(op=3, rid=11), pr.InvalidState, "already rejected"),
    (_rec(now=math.inf), pr.TimeError, ""),
    (_rec(now=0.5), pr.TimeError, ""),
])
def test_a_bad_record_fails_at_its_place_on_both_engines_alike(bad, kind, words):
    """The commands before it stay applied and are told (as Structs, in BatchError);
    nothing of it or after it happens; both engines say the same."""
    # 10 active, 11 rejected (a hidden group), 12 and 13 waiting: the first line offline
    setup = [pr.Submit(request=10, channel="web", group="first", now=0.9),
             pr.Submit(request=11, channel="web", group="dark", now=0.9),
             pr.SetStatus(operator=101, status="offline", now=0.9),
             pr.SetStatus(operator=102, status="offline", now=0.9),
             pr.SetStatus(operator=104, status="offline", now=0.9),
             pr.Submit(request=12, channel="web", group="first", now=0.9),
             pr.Submit(request=13, channel="web", group="first", now=0.9)]
    seen = []
    for engine in ENGINES:
        r, twin = floor(engine), floor(engine)
        r.apply_many(setup)
        twin.apply_many(setup)
        good = _rec(op=3, rid=12, now=1.0)
        with pytest.raises(pr.BatchError) as ei:
            r.apply_packed(good + bad + _rec(op=4, now=2.0))
        e = ei.value
        assert e.index == 1 and isinstance(e.error, kind) and words in str(e.error)
        assert e.events == twin.apply_many([pr.Cancel(request=12, now=1.0)])
        assert r._state() == twin._state()
        r.check()
        seen.append((type(e.error), str(e.error), e.events))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_timers_fired_by_a_refused_record_are_told_by_the_next_call(engine):
    """A packed command refused after its ``now`` fired timers: as with apply_many, their
    events are not lost; the next call (packed or not) tells them first."""
    r, twin = floor(engine), floor(engine)
    for x in (r, twin):
        x.submit(1, "call", "offers", now=0.0)         # offered to 103 until 20.0
    with pytest.raises(pr.BatchError):
        r.apply_packed(_rec(op=2, rid=404, now=25.0))
    with pytest.raises(pr.BatchError):
        twin.apply_many([pr.Finish(request=404, now=25.0)])
    got = packed.decode_events(r.apply_packed(_rec(op=4, now=26.0)), CONFIG)
    assert got == twin.advance(26.0)
    assert got[0] == pr.OfferExpired(1, 103, 20.0)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_any_buffer_is_read_as_a_copy(engine):
    """A bytearray (or memoryview) is read as it was at the call: a clock that changes it
    while the batch runs (its records leave ``now`` to the clock) changes nothing."""
    buf = bytearray(packed.COMMAND.pack(packed.SUBMIT, 0, 0, 0, 1, math.nan)
                    + packed.COMMAND.pack(packed.SUBMIT, 0, 0, 0, 2, math.nan))
    ticks = iter([1.0, 1.0, 1.0, 1.0])

    def clock():
        buf[:] = b"\x00" * len(buf)      # op 0: refused, if it were read now
        return next(ticks)

    r = staff(ENGINES[engine](CONFIG, clock=clock))
    twin = floor(engine)
    out = r.apply_packed(buf)
    assert packed.decode_events(out, CONFIG) == twin.apply_many(
        [pr.Submit(request=1, channel="web", group="first", now=1.0),
         pr.Submit(request=2, channel="web", group="first", now=1.0)])
    assert r.apply_packed(memoryview(packed.encode_commands(
        [pr.Finish(request=1, now=2.0)], CONFIG))) == packed.encode_events(
        twin.finish(1, now=2.0), CONFIG)
    assert r.apply_packed(b"") == b""
    assert r._state() == twin._state()


def test_a_clock_that_calls_apply_packed_again_is_refused_and_its_method_calls_answered():
    calls = []

    def clock():
        if not calls:
            calls.append("in")
            with pytest.raises(pr.InvalidState, match="apply_packed"):
                r.apply_packed(packed.COMMAND.pack(packed.ADVANCE, 0, 0, 0, 0, 0.5))
            calls.append(r.submit("from-clock", "web", "second", now=0.5))
        return 1.0

    r = staff(pr.Router(CONFIG, clock=clock))
    out = r.apply_packed(packed.COMMAND.pack(packed.SUBMIT, 0, 0, 0, 7, math.nan))
    assert calls[1] == [pr.Assigned("from-clock", 102, "second", "web", 0.5, 0.0)]
    assert packed.decode_events(out, CONFIG)[0].request == 7
    r.check()


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_a_visitors_conversation_ended_by_a_packed_command_is_forgotten_as_by_apply_many(
        engine):
    """A conversation submitted by a method with a visitor (sticky routing remembers its
    operator) and ended by a packed Finish or Cancel: the visitor's books are kept as
    when apply_many ends it."""
    cfg = pr.RouterConfig(channels=[pr.Channel("web")],
                          groups=[pr.Group("g", sticky_for=600.0)])
    routers = []
    for form in ("packed", "many"):
        r = ENGINES[engine](cfg)
        r.add_operator(1, ["g"], 3, "online", now=0.0)
        r.add_operator(2, ["g"], 3, "online", now=0.0)
        r.submit(10, "web", "g", visitor="ann", now=1.0)
        r.submit(11, "web", "g", visitor="bob", now=1.0)
        cmds = [pr.Finish(request=10, now=2.0), pr.Cancel(request=11, now=2.0)]
        if form == "packed":
            r.apply_packed(packed.encode_commands(cmds, cfg))
        else:
            r.apply_many(cmds)
        back = r.submit(12, "web", "g", visitor="ann", now=3.0)   # sticky: ann's operator
        routers.append((r._state(), back))
    assert routers[0] == routers[1]


def test_ids_no_messagepack_holds_still_travel_in_other_records():
    """The methods take any int and any str as an id; an event naming one MessagePack
    cannot hold (past 64 bits, a lone surrogate) goes in the wide form, not lost."""
    big, odd = 2**70, "caf\udce9"
    for engine in ENGINES:
        r = floor(engine)
        r.submit(big, "call", "offers", now=1.0)            # offered to 103
        r.submit(odd, "call", "offers", now=1.0)            # queued behind it
        out = r.apply_packed(packed.encode_commands([pr.Advance(now=30.0)], CONFIG))
        got = packed.decode_events(out, CONFIG)
        assert got[0] == pr.OfferExpired(big, 103, 21.0)
        assert any(e.request == odd for e in got if hasattr(e, "request"))
        assert {packed.EVENT.unpack_from(out, 0)[:2]} == {(packed.OTHER, 1)}
        r.check()


def applicable(cmds: list) -> list:
    """The commands of ``cmds`` a fresh floor accepts, in order (the refused ones left
    out): a batch that applies whole."""
    r = floor("reference")
    kept = []
    for cmd in cmds:
        try:
            r.apply_many([cmd])
        except pr.BatchError:
            continue
        kept.append(cmd)
    return kept


def test_the_native_answer_is_the_shared_encoders_bytes_for_a_big_batch():
    """The native engine writes the records in C; pyroute.packed.apply (what the reference
    engine and the wrappers use, and the native engine where its structs would not match
    the layout) writes them in Python: the same bytes, on a batch big enough to grow and
    then give back the native answer's room."""
    cmds = applicable(stream(7, 3000))
    assert len(cmds) > 1500
    # then a wave the floor cannot answer, its overflow timers fired by one Advance: the
    # answer outgrows the room it started with (two event records a command)
    cmds += [pr.Submit(request=10**6 + k, channel="web", group="first", now=1e6)
             for k in range(2000)] + [pr.Advance(now=2e6)]
    data = packed.encode_commands(cmds, CONFIG)
    a, b = floor("native"), floor("native")
    out = a.apply_packed(data)
    assert len(out) > 2 * packed.EVENT.size * len(cmds) and out == packed.apply(b, data)
    assert a._state() == b._state()
    assert _core._fast_paths["pack"] is True
    assert a.apply_packed(packed.encode_commands([pr.Advance(now=1e7)], CONFIG)) == \
        packed.encode_events(b.advance(1e7), CONFIG)


# ---------------------------------------------------------------------- wrappers
def test_a_durable_router_journals_a_packed_batch(tmp_path):
    cmds = applicable(stream(3, 200))
    data = packed.encode_commands(cmds, CONFIG)
    d = staff(pr.Router.open(tmp_path / "j", CONFIG))
    out = d.apply_packed(data)
    state = d._state()
    d.close()
    again = pr.Router.open(tmp_path / "j", CONFIG)
    assert again._state() == state
    assert packed.decode_events(out, CONFIG) == floor("native").apply_many(cmds)
    again.close()


def test_an_explaining_router_explains_what_a_packed_batch_decided():
    r = pr.Router(CONFIG, explain=True)
    r.add_operator(101, ["first"], 2, "online", now=0.0)
    r.apply_packed(packed.encode_commands(
        [pr.Submit(request=1, channel="web", group="first", now=1.0)], CONFIG))
    assert r.explain(1).operator == 101
    with pytest.raises(pr.BatchError):
        r.apply_packed(_rec(rid=2, now=2.0) + _rec(op=2, rid=404, now=2.0))
    assert r.explain(2).operator == 101    # the prefix reached the mirror too


# ---------------------------------------------------------------------- the simulator
def test_the_simulator_reports_the_same_day_packed_and_by_method_calls():
    """The simulator drives the native engine with packed records, and the reference
    engine (or a wrapped router) with method calls: the bundled example floor (overflow,
    a bot, escalations, transfers, patience, early cancels, breaks) and the same floor
    with offers must give the same report all three ways."""
    example = Path(pr.__file__).parent / "sim" / "example.toml"
    raw = msgspec.json.decode(msgspec.json.encode(load_scenario(example)))
    raw["duration"], raw["warmup"] = 7200.0, 600.0
    offering = {**raw, "router": {**raw["router"], "groups": [
        {**g, "accept_timeout": 15.0} for g in raw["router"]["groups"]]}}
    for variant in (raw, offering):
        sc = scenario_from(variant)
        if variant is raw:      # and a group that turns some away (max_queue)
            for g in variant["router"]["groups"]:
                g["max_queue"] = 0
            sc = scenario_from(variant)
        native = _simulate(sc)[0]
        methods = _simulate(sc, wrap=lambda r: r)[0]
        ref = _simulate(sc, engine="reference")[0]
        plain = [msgspec.to_builtins(x) for x in (native, methods, ref)]
        for d in plain:
            d.pop("wall_seconds")
            d.pop("engine")
        assert plain[0] == plain[1] == plain[2]
        assert native.overall.answered > 500
        if variant is raw:
            assert native.overall.rejected > 0


def test_ids_of_every_size_come_back_as_they_went_in():
    """The native engine reads an int id of up to two 30-bit digits from its digits and
    a bigger one through the C API: both give the id back exactly, signs included."""
    ids = [0, 1, -1, 2**30 - 1, 2**30, -(2**30), 2**31, 2**60 - 1, -(2**60) + 1, 2**60,
           2**62 + 12345, -(2**62), 2**63 - 1, -(2**63)]
    for engine in ENGINES:
        r = ENGINES[engine](CONFIG)
        r.add_operator(2**61 + 7, ["second"], len(ids), "online", now=0.0)
        out = r.apply_packed(packed.encode_commands(
            [pr.Submit(request=x, channel="web", group="second", now=1.0) for x in ids], CONFIG))
        recs = list(packed.EVENT.iter_unpack(out))
        assert [rec[5] for rec in recs] == ids
        assert {rec[6] for rec in recs} == {2**61 + 7}
        assert all(rec[0] == packed.ASSIGNED for rec in recs)
