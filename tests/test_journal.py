"""Durable routing: ``Router.open`` journals, snapshots, recovery, and their bad input, on
both engines. Crash tests (SIGKILL) are in test_crash.py."""

from __future__ import annotations

import os
import random
import shutil
import warnings
from pathlib import Path

import msgspec
import pytest

import pyroute as pr
from pyroute import reference
from pyroute.journal import JOURNAL, JournalError, JournalWarning, read_journal
from workload import CommandStream, random_config

DATA = Path(__file__).parent / "data"


def commands_for(seed: int, n: int) -> tuple[pr.RouterConfig, list]:
    """A random config and ``n`` commands for it (fed back with a router's events, so
    accepts and declines find their offers)."""
    rng = random.Random(seed)
    config = random_config(rng)
    stream = CommandStream(config, rng)
    router = pr.Router(config)
    cmds = []
    for _ in range(n):
        cmd = stream.next()
        cmds.append(cmd)
        try:
            stream.observe(router.apply(cmd))
        except pr.RoutingError:
            pass
    return config, cmds


def apply_all(router, cmds) -> list:
    out = []
    for cmd in cmds:
        try:
            out.append(router.apply(cmd))
        except pr.RoutingError as e:
            out.append(type(e))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_reopen_anywhere_gives_the_same_state(engine, tmp_path, seed):
    config, cmds = commands_for(seed, 300)
    rng = random.Random(seed)
    durable = engine.open(tmp_path, config, fsync="never", snapshot_every=29)
    plain = engine(config)
    used_snapshot = False
    for cmd in cmds:
        assert apply_all(durable, [cmd]) == apply_all(plain, [cmd])
        if rng.random() < 0.05:
            state, n = durable._state(), durable.commands
            durable.close()
            durable = engine.open(tmp_path, config, fsync="never", snapshot_every=29)
            durable.check()
            # a refused last command fired what was due by its now; the journal holds the
            # accepted ones, so a read at that time brings the recovered router there too
            durable.stats(now=state["now"])
            assert durable._state() == state and durable.commands == n
            used_snapshot |= durable.recovery.snapshot is not None
            assert durable.recovery.torn == 0
    durable.close()
    assert used_snapshot
    assert len(list(tmp_path.glob("snapshot-*.pyrs"))) <= 2


@pytest.mark.parametrize("seed", range(4))
def test_replaying_the_journal_gives_the_same_events(engine, tmp_path, seed):
    config, cmds = commands_for(100 + seed, 300)
    durable = engine.open(tmp_path, config)
    events = [e for e in apply_all(durable, cmds) if isinstance(e, list)]
    durable.close()
    head, journaled = read_journal(tmp_path)
    assert head["version"] == 1 and len(journaled) == len(events)
    replay = engine(head["config"])
    assert [replay.apply(c) for c in journaled] == events
    if durable.now > replay.now:
        # a refused last call fired the timers due by its time (and holds their events for
        # the next accepted call); nothing of it is journaled: a read at that time brings
        # the replay to the same state
        replay.stats(now=durable.now)
    assert replay._state() == durable._state()


def test_commands_without_now_are_journaled_with_the_clock(engine, tmp_path):
    ticks = iter([5.0, 6.0, 7.0, 8.0])
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = engine.open(tmp_path, config, clock=lambda: next(ticks))
    r.add_operator("a", ["g"], 1, "online")
    r.submit("c1", "web", "g")
    r.apply(pr.Submit(request="c2", channel="web", group="g"))
    r.close()
    _, cmds = read_journal(tmp_path)
    assert [c.now for c in cmds] == [5.0, 6.0, 7.0]
    assert cmds[0] == pr.AddOperator(operator="a", groups=("g",), limit=1, status="online",
                                     now=5.0)


def test_a_refused_command_is_not_journaled(engine, tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = engine.open(tmp_path, config)
    r.submit("c1", "web", "g", now=1.0)
    size, state = (tmp_path / JOURNAL).stat().st_size, r._state()
    for bad in (lambda: r.submit("c1", "web", "g", now=2.0),
                lambda: r.finish("nope", now=2.0),
                lambda: r.submit("c2", "web", "g", now=0.5),
                lambda: r.submit(None, "web", "g", now=3.0)):
        with pytest.raises(pr.RoutingError):
            bad()
    with pytest.raises(TypeError):
        r.submit("c3", "web", "g", 0, None, 1.0, None, None, 0.0, "extra")
    assert (tmp_path / JOURNAL).stat().st_size == size and r._state() == state
    r.close()


def test_batch_error_journals_the_applied_prefix(engine, tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = engine.open(tmp_path, config)
    with pytest.raises(pr.BatchError):
        r.apply_many([pr.Submit(request="c1", channel="web", group="g", now=1.0),
                      pr.Finish(request="nope", now=2.0),
                      pr.Submit(request="c2", channel="web", group="g", now=3.0)])
    r.close()
    assert [c.request for c in read_journal(tmp_path)[1]] == ["c1"]


def test_torn_last_record_is_cut_and_reported(engine, tmp_path):
    config, cmds = commands_for(7, 60)
    r = engine.open(tmp_path, config, snapshot_every=None)
    apply_all(r, cmds)
    n = r.commands
    r.close()
    path = tmp_path / JOURNAL
    full = path.read_bytes()
    _, journaled = read_journal(tmp_path)
    expected = engine(config)
    apply_all(expected, journaled[:-1])
    for cut in (1, 5, 9):       # inside the header, inside the payload
        path.write_bytes(full[:-cut])
        with pytest.warns(JournalWarning, match="torn or corrupt last record"):
            again = engine.open(tmp_path, config)
        assert again.recovery.torn == 1 and again.commands == n - 1
        assert again._state() == expected._state()
        again.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            engine.open(tmp_path, config).close()      # cut for good: no second warning
    flipped = bytearray(full)
    flipped[-1] ^= 0xFF                                 # a checksum mismatch at the end
    path.write_bytes(bytes(flipped))
    with pytest.warns(JournalWarning):
        assert engine.open(tmp_path, config).recovery.torn == 1


def test_corruption_in_the_middle_is_refused(engine, tmp_path):
    config, cmds = commands_for(8, 40)
    r = engine.open(tmp_path, config, snapshot_every=None)
    apply_all(r, cmds)
    r.close()
    path = tmp_path / JOURNAL
    data = bytearray(path.read_bytes())
    from pyroute.journal import read_records
    offsets = [off for off, _, _ in read_records(bytes(data))]
    data[offsets[len(offsets) // 2] + 9] ^= 0xFF       # inside a record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="damaged in the middle"):
        engine.open(tmp_path, config)


def test_a_corrupt_snapshot_falls_back_to_the_previous_one(engine, tmp_path):
    if engine is pr.Router and not hasattr(engine, "_snapshot"):
        pytest.skip("no native snapshots")
    config, cmds = commands_for(9, 200)
    r = engine.open(tmp_path, config, snapshot_every=40)
    apply_all(r, cmds)
    state, n = r._state(), r.commands
    r.close()
    snaps = sorted(tmp_path.glob("snapshot-*.pyrs"))
    assert len(snaps) == 2
    data = bytearray(snaps[-1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    snaps[-1].write_bytes(bytes(data))
    with pytest.warns(JournalWarning, match="unusable snapshot"):
        again = engine.open(tmp_path, config)
    assert again.recovery.snapshots_skipped == 1
    assert again.recovery.snapshot == int(snaps[0].stem.split("-")[1])
    assert again._state() == state and again.commands == n
    again.close()
    for s in snaps:
        s.write_bytes(b"garbage")
    with pytest.warns(JournalWarning):
        again = engine.open(tmp_path, config)
    assert again.recovery.snapshot is None and again._state() == state


def test_another_config_is_refused(engine, tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    engine.open(tmp_path, config).close()
    other = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("h")])
    with pytest.raises(pr.ConfigError, match="written for another config"):
        engine.open(tmp_path, other)


def test_not_a_journal(engine, tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    (tmp_path / JOURNAL).write_bytes(b"hello world, this is not a journal")
    with pytest.raises(JournalError):
        engine.open(tmp_path, config)
    (tmp_path / JOURNAL).write_bytes(b"")
    with pytest.raises(JournalError):
        engine.open(tmp_path, config)


@pytest.mark.parametrize("kw", [{"fsync": "sometimes"}, {"fsync": None},
                                {"snapshot_every": 0}, {"snapshot_every": 1.5},
                                {"snapshot_every": True}, {"clock": 3},
                                {"batch_interval": -1}])
def test_bad_arguments(engine, tmp_path, kw):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    with pytest.raises(pr.InvalidArgument):
        engine.open(tmp_path, config, **kw)
    assert not (tmp_path / JOURNAL).exists()


def test_closed_router_refuses_commands_but_answers_views(engine, tmp_path):
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    with engine.open(tmp_path, config) as r:
        r.submit("c1", "web", "g", now=1.0)
    with pytest.raises(pr.InvalidState, match="closed"):
        r.submit("c2", "web", "g", now=2.0)
    assert r.request("c1").state == "queued"


@pytest.mark.parametrize("fsync", ["always", "batch", "never"])
def test_every_fsync_mode_recovers(engine, tmp_path, fsync):
    config, cmds = commands_for(11, 80)
    r = engine.open(tmp_path, config, fsync=fsync)
    apply_all(r, cmds)
    state = r._state()
    del r   # no close(): the OS has every write
    assert engine.open(tmp_path, config)._state() == state


def recorded(stats, expected):
    """``stats`` as JSON, with the fields the recorded ``expected`` has (later versions add
    fields at the end of the structs)."""
    def cut(x, like):
        if isinstance(x, dict) and isinstance(like, dict):
            if like and all(k in x for k in like):   # a struct or a map: keep its keys
                return {k: cut(x[k], like[k]) for k in like}
            return x if not like else {k: cut(v, like.get(k)) for k, v in x.items()}
        return x
    return cut(msgspec.json.decode(msgspec.json.encode(stats)), expected)


def test_version_1_journal_stays_readable(tmp_path):
    """A journal written by format version 1 (tests/data, committed) opens and replays to
    the state recorded beside it; later versions must keep reading it, both offline
    (read_journal) and by recovery (Router.open on a copy)."""
    import shutil
    src = DATA / "journal-v1"
    head, cmds = read_journal(src)
    assert head["version"] == 1 and len(cmds) == 120
    expected = msgspec.json.decode((DATA / "journal-v1.state.json").read_bytes())
    for engine in (pr.Router, reference.Router):
        replay = engine(head["config"])
        apply_all(replay, cmds)
        state = replay._state()
        assert recorded(replay.stats(now=1e9), expected) == expected
        copy = tmp_path / engine.engine
        shutil.copytree(src, copy)
        with engine.open(copy, head["config"], snapshot_every=None) as opened:
            assert opened.recovery.replayed == 120
            assert opened._state() == state
            assert recorded(opened.stats(now=1e9), expected) == expected


def test_native_snapshot_refused_by_the_reference_engine(tmp_path):
    config, cmds = commands_for(12, 100)
    r = pr.Router.open(tmp_path, config, snapshot_every=30)
    apply_all(r, cmds)
    state = r._state()
    r.close()
    with pytest.warns(JournalWarning, match="taken by the native engine"):
        ref = reference.Router.open(tmp_path, config)
    assert ref.recovery.snapshot is None and ref._state() == state


def test_attach_makes_a_running_router_durable(engine, tmp_path):
    from pyroute.journal import attach
    config, cmds = commands_for(13, 200)
    plain = engine(config)
    apply_all(plain, cmds[:100])
    durable = attach(plain, tmp_path, fsync="never")
    assert durable._state() == plain._state() and durable.recovery.snapshot == 0
    apply_all(durable, cmds[100:])
    apply_all(plain, cmds[100:])
    durable.close()
    again = engine.open(tmp_path, config)
    assert again._state() == plain._state()
    with pytest.raises(JournalError, match="already holds a journal"):
        attach(plain, tmp_path)


def test_a_failed_write_stops_the_router(engine, tmp_path, monkeypatch):
    """An I/O error once a command is applied (here: msync with fsync="always") leaves
    it unacknowledged; the router stops rather than run ahead of its journal."""
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = engine.open(tmp_path, config, fsync="always")
    r.submit("c1", "web", "g", now=1.0)

    def io_error(self, *a):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(r, "_sync_range", io_error.__get__(r))
    with pytest.raises(pr.RoutingError, match="Input/output error"):
        r.submit("c2", "web", "g", now=2.0)
    with pytest.raises(pr.InvalidState, match="stopped"):
        r.submit("c3", "web", "g", now=3.0)
    monkeypatch.undo()
    again = engine.open(tmp_path, config)
    assert again.request("c1").state == "queued"
    # c2 was copied into the mapping before the sync failed: it may or may not be there,
    # but c3 never is
    with pytest.raises(pr.UnknownId):
        again.request("c3")


def test_a_full_disk_refuses_commands_before_applying_them(engine, tmp_path, monkeypatch):
    """When the journal cannot grow, a command is refused (StorageFull) before it is
    applied; every acknowledged command is journaled; once space returns it goes on."""
    from pyroute.journal import durable
    monkeypatch.setattr(durable, "CHUNK", 4096)
    monkeypatch.setattr(durable, "RESERVE", 8192)
    monkeypatch.setattr(durable, "_BIG", 4096)
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = engine.open(tmp_path, config, fsync="never", snapshot_every=None)
    real = os.posix_fallocate
    full = {"on": True}

    def allocate(fd, offset, size):
        if full["on"]:
            raise OSError(28, "No space left on device")
        return real(fd, offset, size)
    monkeypatch.setattr(os, "posix_fallocate", allocate)
    acked = []
    with pytest.raises(pr.StorageFull, match="not applied"):
        for i in range(100_000):
            r.submit(f"c{i}", "web", "g", now=float(i))
            acked.append(f"c{i}")
    before = r._state()
    with pytest.raises(pr.StorageFull):
        r.apply_many([pr.Submit(request="x", channel="web", group="g")])
    with pytest.raises(pr.StorageFull):
        r.submit("y", "web", "g")
    assert r._state() == before and len(acked) > 100
    full["on"] = False                      # space returns
    r.submit("after", "web", "g", now=1e6)
    state = r._state()
    r.close()
    again = engine.open(tmp_path, config)
    assert again._state() == state
    assert again.request(acked[-1]).state == "queued"


def test_an_explaining_durable_router_recovers_by_replay(tmp_path):
    config, cmds = commands_for(14, 150)
    r = pr.Router.open(tmp_path, config, explain=True, snapshot_every=20)
    apply_all(r, cmds)
    state = r._state()
    rid = next(c.request for c in cmds if isinstance(c, pr.Submit))
    before = r.explain(rid)
    r.close()
    assert not list(tmp_path.glob("snapshot-*"))
    again = pr.Router.open(tmp_path, config, explain=True)
    assert again._state() == state and again.explain(rid) == before


def test_native_crc32_is_zlibs():
    import zlib
    from pyroute._durable import crc32
    rng = random.Random(5)
    for n in (0, 1, 7, 8, 100, 4096):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc32(data) == zlib.crc32(data)


def test_the_group_commit_thread_reports_a_failed_sync(tmp_path):
    import errno
    import time as _t
    from pyroute._durable import Syncer
    bad = Syncer(-1, 0.001)          # fdatasync(-1) fails: EBADF
    deadline = _t.monotonic() + 10
    while bad.error == 0 and _t.monotonic() < deadline:
        _t.sleep(0.01)
    assert bad.error == errno.EBADF
    bad.stop()
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
    r = pr.Router.open(tmp_path, config, fsync="batch")
    r.submit("c1", "web", "g", now=1.0)
    good = r._syncer
    r._syncer = bad                  # as if the disk had failed under the thread
    r._log.set_syncer(bad)
    with pytest.raises(pr.RoutingError, match="syncing the journal failed"):
        r.submit("c2", "web", "g", now=2.0)
    with pytest.raises(pr.InvalidState, match="syncing the journal failed"):
        r.submit("c3", "web", "g", now=3.0)
    r._syncer = good
    r.close()


# ---------------------------------------------------------------- review findings
SMALL = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])


@pytest.mark.parametrize("bad", [2 ** 70, "op\ud800"])
def test_what_cannot_be_journaled_is_refused_before_it_happens(engine, tmp_path, bad):
    r = engine.open(tmp_path, SMALL)
    r.add_operator("a", ["g"], 1, "online", now=0.0)
    state = r._state()
    with pytest.raises(pr.InvalidArgument, match="cannot be journaled"):
        r.add_operator(bad, ["g"], 1, "online", now=1.0)
    with pytest.raises(pr.InvalidArgument, match="cannot be journaled"):
        r.apply(pr.Submit(request=bad, channel="web", group="g", now=1.0))
    assert r._state() == state
    with pytest.raises(pr.BatchError) as e:
        r.apply_many([pr.Submit(request="ok", channel="web", group="g", now=2.0),
                      pr.Submit(request=bad, channel="web", group="g", now=2.0)])
    assert e.value.index == 1 and isinstance(e.value.error, pr.InvalidArgument)
    r.close()
    again = engine.open(tmp_path, SMALL)
    assert again.request("ok").state == "active" and again._state() == r._state()


def test_one_directory_one_router(engine, tmp_path):
    from pyroute.journal import JournalError
    r = engine.open(tmp_path, SMALL)
    with pytest.raises(JournalError, match="in use by another router"):
        engine.open(tmp_path, SMALL)
    r.close()
    engine.open(tmp_path, SMALL).close()


def test_damage_in_a_header_is_not_a_torn_tail(engine, tmp_path):
    from pyroute.journal import read_records
    config, cmds = commands_for(21, 60)
    r = engine.open(tmp_path, config, snapshot_every=None, fsync="always")
    apply_all(r, cmds)
    r.close()
    path = tmp_path / JOURNAL
    data = bytearray(path.read_bytes())
    offsets = [off for off, _, _ in read_records(bytes(data))]
    data[offsets[len(offsets) // 2]] ^= 0x40          # a length field
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="damaged in the middle"):
        engine.open(tmp_path, config)
    assert path.stat().st_size == len(data)            # nothing was cut


def test_few_zero_bytes_after_the_last_record_are_not_torn(engine, tmp_path):
    r = engine.open(tmp_path, SMALL)
    r.submit("c1", "web", "g", now=1.0)
    r.close()
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(b"\0\0\0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.open(tmp_path, SMALL).recovery.torn == 0


def test_attach_refuses_what_it_could_not_reopen(engine, tmp_path):
    from pyroute.journal import attach
    with pytest.raises(pr.InvalidArgument, match="explain"):
        attach(engine(SMALL), tmp_path / "a", explain=True)
    r = attach(engine(SMALL), tmp_path / "b")
    r.add_operator("x", ["g"], 1, now=1.0)
    r.close()
    other = reference.Router if engine is pr.Router else pr.Router
    with pytest.warns(JournalWarning), pytest.raises(JournalError, match="attach"):
        other.open(tmp_path / "b", SMALL)
    assert engine.open(tmp_path / "b", SMALL).operator("x").limit == 1


def test_snapshots_of_another_journal_are_never_used(engine, tmp_path):
    from pyroute.journal import attach
    r = engine.open(tmp_path, SMALL, snapshot_every=2)
    for i in range(5):
        r.submit(f"c{i}", "web", "g", now=float(i))
    r.close()
    (tmp_path / JOURNAL).unlink()
    with pytest.raises(JournalError, match="snapshots"):
        engine.open(tmp_path, SMALL)
    with pytest.raises(JournalError, match="snapshots"):
        attach(engine(SMALL), tmp_path)


def test_a_failed_scheduled_snapshot_does_not_fail_the_command(engine, tmp_path, monkeypatch):
    import pyroute.journal.durable as journal
    r = engine.open(tmp_path, SMALL, snapshot_every=3)
    real = os.replace

    def full(src, dst):
        if str(dst).endswith(".pyrs"):
            raise OSError(28, "No space left on device")
        return real(src, dst)
    monkeypatch.setattr(journal.os, "replace", full)
    with pytest.warns(JournalWarning, match="scheduled snapshot failed"):
        for i in range(4):
            assert r.submit(f"c{i}", "web", "g", now=float(i))[0].request == f"c{i}"
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    r.close()
    assert len(engine.open(tmp_path, SMALL).queue("g")) == 4


def test_the_clock_reaches_the_router(engine, tmp_path):
    ticks = iter(float(t) for t in range(10 ** 9, 10 ** 9 + 100))
    r = engine.open(tmp_path, SMALL, clock=lambda: next(ticks))
    r.submit("c1", "web", "g")
    assert r.stats().at > 1e8         # the same clock, not time.monotonic
    r.close()
    r = engine.open(tmp_path, SMALL, clock=lambda: next(ticks), snapshot_every=1)
    r.submit("c2", "web", "g")
    r.close()
    r = engine.open(tmp_path, SMALL, clock=lambda: next(ticks))   # from the snapshot
    assert r.stats().at > 1e8


def test_a_forked_child_leaves_the_journal_alone(tmp_path):
    r = pr.Router.open(tmp_path, SMALL, fsync="batch")
    r.submit("before", "web", "g", now=1.0)
    pid = os.fork()
    if pid == 0:                       # the child drops its copy and leaves
        try:
            r.close()
            del r
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    for i in range(3):
        r.submit(f"after{i}", "web", "g", now=2.0 + i)
    state = r._state()
    r.close()
    assert pr.Router.open(tmp_path, SMALL)._state() == state


def test_apply_each_journals_what_it_applied(engine, tmp_path):
    """``apply_each`` on a durable router: the applied commands are journaled (one
    record), the refused ones are not, one that cannot be journaled is refused on its
    own, and a reopened router is the same."""
    r = engine.open(tmp_path, SMALL)
    got = r.apply_each([pr.AddOperator(operator="a", groups=("g",), limit=1, status="online",
                                       now=0.0),
                        pr.Submit(request="c1", channel="web", group="g", now=1.0),
                        pr.Finish(request="nope", now=2.0),
                        pr.Submit(request=2 ** 70, channel="web", group="g", now=2.0),
                        pr.Submit(request="c2", channel="web", group="g", now=3.0)])
    assert [type(x).__name__ for x in got] == ["list", "list", "UnknownId",
                                               "InvalidArgument", "list"]
    assert "cannot be journaled" in str(got[3])
    r.close()
    assert [type(c).__name__ for c in read_journal(tmp_path)[1]] == ["AddOperator", "Submit",
                                                                     "Submit"]
    again = engine.open(tmp_path, SMALL)
    assert again._state() == r._state() and again.request("c2").state == "queued"
    again.close()
