"""Attacks on the library's durability, each reproduced (docs/durability.md, "Failures"):
damage before an intact last record, large zero tails, forked children, a deleted lock
file, a full disk, and ``pyroute replay --until`` with values that are not times."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

import pytest

import pyroute as pr
from pyroute import reference
from pyroute.journal import JOURNAL, JournalError, JournalWarning, read_records
from pyroute.journal.format import zero_from

SMALL = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
ENGINES = [pr.Router, reference.Router]


@pytest.fixture(params=ENGINES, ids=["native", "reference"])
def engine(request):
    return request.param


def journal_of(engine, path, n=6):
    """A journal of n submits whose records end in zero bytes (prefer_for=0.0 last)."""
    r = engine.open(path, SMALL, snapshot_every=None)
    for i in range(n):
        r.submit(f"c{i}", "web", "g", now=float(i))
    r.close()
    data = (path / JOURNAL).read_bytes()
    recs = list(read_records(data))
    assert recs[-1][2].endswith(b"\x00"), "the last record must end in zeros for this test"
    return data, recs


def test_damage_before_an_intact_last_record_is_damage_not_a_torn_tail(engine, tmp_path):
    """The last record ends in zero bytes; the one before it is damaged. That is damage
    in the middle (an acknowledged command follows it), never a torn tail to cut."""
    data, recs = journal_of(engine, tmp_path)
    bad = bytearray(data)
    off, end, _ = recs[-2]
    bad[end - 3] ^= 0x55                   # inside the second-to-last payload
    (tmp_path / JOURNAL).write_bytes(bytes(bad))
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no "cut off a torn record" warning either
        with pytest.raises(JournalError, match="damaged in the middle"):
            engine.open(tmp_path, SMALL)
    assert (tmp_path / JOURNAL).read_bytes() == bytes(bad)   # nothing was cut


def test_a_torn_last_record_before_a_large_zero_tail_is_cut(engine, tmp_path):
    """A file that grew in chunks: the torn record is followed by MiBs of zeros."""
    data, recs = journal_of(engine, tmp_path)
    off, end, _ = recs[-1]
    torn = data[:end - 20] + bytes(64 << 20)   # (its last 9 bytes are 0.0 anyway)
    (tmp_path / JOURNAL).write_bytes(torn)
    with pytest.warns(JournalWarning, match="torn"):
        r = engine.open(tmp_path, SMALL)
    assert r.recovery.torn == 1 and r.commands == len(recs) - 2
    r.close()


@pytest.mark.parametrize("data", [b"", b"\0", b"a", b"a\0\0", b"\0" * (3 << 20),
                                  b"x" + b"\0" * (3 << 20) + b"y",
                                  b"a" * (2 << 20) + b"\0" * ((1 << 20) + 7)])
def test_zero_from_is_rstrip(data):
    for start in (0, 1, len(data) // 2):
        if start <= len(data):
            assert zero_from(data, start) == start + len(data[start:].rstrip(b"\0"))


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs: a real file system that fills up (skipped where mounting is not
    permitted: it needs root and CAP_SYS_ADMIN)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root and mount(8): the full-disk test cannot run here")
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if run.returncode:
        pytest.skip(f"mounting a tmpfs is not permitted here ({run.stderr.strip()}): the "
                    f"full-disk test cannot run")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


FILL = r"""
import sys, pyroute as pr
cfg = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])
r = pr.Router.open(sys.argv[1], cfg, fsync=sys.argv[2], snapshot_every=None)
acked = 0
try:
    for i in range(10_000_000):
        r.submit(f"c{i}", "web", "g", now=float(i))
        acked += 1
except pr.StorageFull as e:
    refused = str(e)
state = r._state()
try:
    r.submit("again", "web", "g", now=1e9)
except pr.StorageFull:
    pass
assert r._state() == state, "a refused command changed the state"
print(acked, flush=True)
sys.stdin.readline()                    # the test frees space, then says go on
r.submit("after", "web", "g", now=2e9)
r.close()
print("closed", flush=True)
"""


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_a_full_disk_is_an_error_not_a_crash(small_disk, fsync):
    """The journal fills a real (tmpfs) disk: commands are refused with StorageFull
    before they are applied (no SIGBUS), every acknowledged command is in the journal,
    and once space returns the router goes on, and recovers exactly."""
    with subprocess.Popen([sys.executable, "-c", FILL, str(small_disk / "j"), fsync],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"the router died (exit {child.wait()}): {line!r}"
        acked = int(line)
        assert acked > 10_000
        subprocess.run(["mount", "-o", "remount,size=64m", "tmpfs", str(small_disk)],
                       check=True)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "closed"
        assert child.wait(timeout=60) == 0
    r = pr.Router.open(small_disk / "j", SMALL)
    assert r.recovery.torn == 0 and r.commands == acked + 1
    assert r.request(f"c{acked - 1}").state == "queued"
    assert r.request("after").state == "queued"
    with pytest.raises(pr.UnknownId):
        r.request(f"c{acked}")           # refused: never applied
    with pytest.raises(pr.UnknownId):
        r.request("again")
    r.close()


def test_deleting_the_lock_file_lets_no_second_router_in(engine, tmp_path):
    r = engine.open(tmp_path, SMALL)
    (tmp_path / "lock").unlink()
    with pytest.raises(JournalError, match="in use by another router"):
        engine.open(tmp_path, SMALL)
    r.close()
    engine.open(tmp_path, SMALL).close()


def test_a_forked_childs_copy_refuses_commands(tmp_path):
    """The child's copy shares the parent's journal mapping: a command there would write
    into the parent's journal behind its back. It is refused; the parent goes on."""
    r = pr.Router.open(tmp_path, SMALL, fsync="batch")
    r.submit("before", "web", "g", now=1.0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for call in (lambda: r.submit("child", "web", "g", now=2.0),
                         lambda: r.apply(pr.Finish(request="before", now=2.0)),
                         lambda: r.apply_many([pr.Advance(now=2.0)])):
                try:
                    call()
                    break
                except pr.InvalidState as e:
                    assert "forked child" in str(e)
            else:
                code = 0
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"\0", "the child's copy took a command"
    r.submit("after", "web", "g", now=3.0)
    state = r._state()
    r.close()
    again = pr.Router.open(tmp_path, SMALL)
    assert again._state() == state and again.commands == 2
    with pytest.raises(pr.UnknownId):
        again.request("child")


@pytest.mark.parametrize("until", ["inf", "-inf", "1e400", "nan", "soon"])
def test_replay_until_must_be_a_finite_time(tmp_path, until, capsys):
    from pyroute.cli import main
    r = pr.Router.open(tmp_path, SMALL)
    r.submit("c1", "web", "g", now=1.0)
    r.close()
    with pytest.raises(SystemExit) as e:
        main(["replay", str(tmp_path), f"--until={until}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--until" in err and ("finite" in err or "not a number" in err)


class _Boom:
    """Unpickling this runs code: it creates the file named."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _poison_snapshot(directory, marker):
    """Replace the newest snapshot's state by a pickle that would create ``marker``,
    keeping the record's checksum valid (anyone who can write the file can do that)."""
    import pickle
    import zlib

    import msgspec
    from pyroute.journal.format import _HEAD
    path = sorted(directory.glob("snapshot-*.pyrs"))[-1]
    data = path.read_bytes()
    snap = msgspec.msgpack.decode(data[8:])
    snap["state"] = pickle.dumps({"_reqs": _Boom(str(marker)), "engine": _Boom(str(marker))})
    payload = msgspec.msgpack.encode(snap)
    path.write_bytes(_HEAD.pack(len(payload), zlib.crc32(payload)) + payload)


def test_a_snapshot_is_never_unpickled(engine, tmp_path):
    r = engine.open(tmp_path / "j", SMALL, snapshot_every=5)
    for i in range(12):
        r.submit(f"c{i}", "web", "g", now=float(i))
    state = r._state()
    r.close()
    marker = tmp_path / "pwned"
    _poison_snapshot(tmp_path / "j", marker)
    with pytest.warns(JournalWarning, match="does not restore|unusable"):
        again = engine.open(tmp_path / "j", SMALL)
    assert not marker.exists(), "reading a snapshot ran code"
    assert again._state() == state        # from the older snapshot or the journal
    again.close()


class _FlakyHash(str):
    """An id whose hash works once, then raises."""

    calls = 0

    def __hash__(self):
        type(self).calls += 1
        if type(self).calls > 1:
            raise RuntimeError("hash called twice")
        return str.__hash__(self)

    def __eq__(self, other):
        return str.__eq__(self, other)


@pytest.mark.parametrize("what", ["request", "operator", "visitor"])
def test_an_id_whose_hash_fails_later_changes_nothing_or_everything(engine, what):
    """A str subclass whose __hash__ raises on its second call: the call either raises
    with the state unchanged, or succeeds with a state equal to a plain-str call."""
    def fresh():
        r = engine(SMALL)
        r.add_operator("a", ["g"], 2, status="online", now=0.0)
        r.submit("busy", "web", "g", now=0.5)
        return r
    plain, hostile = fresh(), fresh()
    before = hostile._state()
    _FlakyHash.calls = 0
    ident = _FlakyHash("x")
    calls = {"request": lambda r, i: r.submit(i, "web", "g", now=1.0),
             "operator": lambda r, i: r.add_operator(i, ["g"], 1, status="online", now=1.0),
             "visitor": lambda r, i: r.submit("c2", "web", "g", visitor=i, now=1.0)}
    try:
        got = calls[what](hostile, ident)
    except (RuntimeError, pr.RoutingError):
        assert hostile._state() == before, "a raising call changed the state"
        return
    assert got == calls[what](plain, "x")
    assert hostile._state() == plain._state()


def test_a_full_disk_under_the_service_is_503_and_loses_nothing(small_disk):
    """pyroute serve on a disk that fills: 503 for what could not be journaled (never a
    crash, never a 500), reads keep answering, every acknowledged conversation is in the
    journal, and the service goes on once space returns."""
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from starlette.testclient import TestClient

    from pyroute.service import build_app
    from pyroute.service.app import Service
    auth = {"Authorization": "Bearer t0ken"}
    svc = Service.open(small_disk / "j", SMALL, {"t0ken": "supervisor"}, max_body=1 << 22)
    acked, refused = [], []

    def send(batch: int, ids: list) -> int:
        body = [{"type": "Submit", "request": i, "channel": "web", "group": "g"} for i in ids]
        r = c.post("/v1/commands", json=body, headers=auth)
        assert r.status_code in (200, 503), (r.status_code, r.text[:300])
        events = r.json()["events"] if r.status_code == 200 else \
            r.json().get("applied_events", [])
        done = {e["request"] for e in events}
        acked.extend(i for i in ids if i in done)
        refused.extend(i for i in ids if i not in done)
        return r.status_code

    with TestClient(build_app(svc)) as c:
        status, b = 200, 0
        while status == 200:
            assert b < 2_000, "the disk never filled"
            status = send(b, [f"b{b}-{i}" for i in range(500)])
            b += 1
        for k in range(100_000):           # what is left fits smaller requests
            if send(b, [f"s{k}"]) == 503:
                break
        assert c.get("/v1/stats", headers=auth).status_code == 200   # reads answer
        assert send(b, ["while-full"]) == 503
        subprocess.run(["mount", "-o", "remount,size=64m", "tmpfs", str(small_disk)],
                       check=True)
        assert send(b + 1, ["after"]) == 200
    assert len(acked) > 10_000 and refused
    r = pr.Router.open(small_disk / "j", SMALL)
    assert r.recovery.torn == 0
    for i in acked[-3:] + ["after"]:
        assert r.request(i).state == "queued"
    for i in refused[:3] + ["while-full"]:
        with pytest.raises(pr.UnknownId):
            r.request(i)
    assert r.stats(now=r.now).total.waiting == len(acked)
    r.close()
