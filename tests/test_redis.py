"""pyroute on Redis Streams against a real redis-server (Debian's; ``.ci/run`` installs
it), started on a loopback port by a fixture: the client, the worker, failover after a
SIGKILL, and bad input."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import msgspec
import pytest

redis = pytest.importorskip("redis")
SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(SERVER is None, reason="redis-server is not installed "
                                "(.ci/run installs Debian's redis-server)")

import pyroute as pr  # noqa: E402
from pyroute.redis import Client, Worker, load_tenants, shard_of  # noqa: E402
from pyroute.redis.client import key  # noqa: E402
from redisserver import free_port, redis_server  # noqa: E402

TENANTS = """
[tenants.acme]
channels = [{ name = "web" }]
groups = [{ name = "g" }]
[tenants.globex]
channels = [{ name = "web" }, { name = "email" }]
groups = [{ name = "g" }, { name = "h", overflow = [{ to = ["g"], after = 30.0 }] }]
"""


@pytest.fixture
def server(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def tenants(tmp_path):
    p = tmp_path / "tenants.toml"
    p.write_text(TENANTS)
    return p


def test_client_and_worker_route_like_a_local_router(server, tenants):
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    client = Client(server, timeout=10)
    local = pr.Router(load_tenants(tenants)["acme"])
    calls = [("add_operator", ("alice", ["g"], 2, "online"), {"now": 1.0}),
             ("submit", ("c1", "web", "g"), {"now": 2.0}),
             ("submit", ("c2", "web", "g"), {"now": 3.0}),
             ("submit", ("c3", "web", "g"), {"now": 4.0}),
             ("finish", ("c1",), {"now": 5.0})]
    for name, args, kw in calls:
        cid, since = client.send("acme", _cmd(name, args, kw))
        worker.step(block_ms=50)
        assert client.wait("acme", cid, since) == getattr(local, name)(*args, **kw)
    # a refused command comes back as its RoutingError
    cid, since = client.send("acme", pr.Finish(request="nope", now=6.0))
    worker.step(block_ms=50)
    with pytest.raises(pr.UnknownId, match="nope"):
        client.wait("acme", cid, since)
    assert worker.applied == 5


def _cmd(name, args, kw):
    from pyroute.journal import METHODS, PARAMS
    fields = dict(zip(PARAMS[name], args))
    fields.update(kw)
    if "groups" in fields:
        fields["groups"] = tuple(fields["groups"])
    return METHODS[name](**fields)


def test_unknown_tenant_and_malformed_entries(server, tenants):
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    client = Client(server)
    cid, since = client.send("initech", pr.Submit(request="x", channel="web", group="g",
                                                  now=1.0))
    n = shard_of("initech")
    r = redis.Redis.from_url(server)
    r.xadd(key(n, "commands"), {"cid": "junk", "tenant": "acme", "cmd": b"\xc1garbage"})
    r.xadd(key(n, "commands"), {"nothing": "here"})
    cid2, _ = client.send("initech", pr.Advance(now=2.0))
    for _ in range(3):
        worker.step(block_ms=50)
    events = client.wait("initech", cid, since)
    assert events == [pr.Rejected(request="x", at=1.0, reason="unknown_tenant")]
    assert worker.malformed == 2 and worker.unknown_tenant == 2 and worker.applied == 0
    assert client.wait("initech", cid2, since)[0].reason == "unknown_tenant"


def test_bad_client_input(server):
    client = Client(server)
    with pytest.raises(pr.InvalidArgument):
        client.send("", pr.Advance(now=1.0))
    with pytest.raises(pr.InvalidArgument):
        client.send("acme", "not a command")
    client.timeout = 0.3
    cid, since = client.send("acme", pr.Advance(now=1.0))
    with pytest.raises(TimeoutError, match="worker"):
        client.wait("acme", cid, since)


def test_redis_unreachable_is_retried_not_fatal(tenants, caplog):
    port = free_port()                      # nothing listens there
    worker = Worker(f"redis://127.0.0.1:{port}/0", load_tenants(tenants), lease_ms=1000)
    rounds = iter(range(3))
    worker.run(stop=lambda: next(rounds, None) is None)
    assert "redis unreachable" in caplog.text and worker._backoff > 0.1


def test_failover_after_sigkill_loses_and_repeats_nothing(server, tenants, tmp_path):
    """Two worker processes, 100,000 commands over 16 shards and 32 tenants; the worker
    holding most shards is SIGKILLed mid-stream. The other takes its shards over within
    the lease time; the events of every tenant equal a single-process replay of its
    commands, each command has exactly one event entry, and nobody holds a conversation
    twice."""
    names = [f"t{i}" for i in range(32)]
    base = (TENANTS.split("[tenants.globex]")[0]).replace("[tenants.acme]", "")
    (tmp_path / "many.toml").write_text("".join(f"[tenants.{n}]{base}" for n in names))
    cfg_path = tmp_path / "many.toml"
    configs = load_tenants(cfg_path)
    rng = random.Random(7)
    per_tenant: dict = {n: [] for n in names}
    r = redis.Redis.from_url(server)
    pipe = r.pipeline(transaction=False)
    now = 1.0
    total = 100_000
    live = {n: [] for n in names}
    for n in names:
        cmd = pr.AddOperator(operator="op", groups=("g",), limit=3, status="online", now=now)
        per_tenant[n].append(("setup", cmd))
        pipe.xadd(key(shard_of(n), "commands"),
                  {"cid": f"{n}-setup", "tenant": n, "cmd": msgspec.msgpack.encode(cmd)})
    for i in range(total - len(names)):
        n = rng.choice(names)
        now += 0.001
        if live[n] and rng.random() < 0.5:
            rid = live[n].pop(0)
            cmd = pr.Finish(request=rid, now=now)
        else:
            rid = f"r{i}"
            live[n].append(rid)
            cmd = pr.Submit(request=rid, channel="web", group="g", now=now)
        cid = f"{n}-{i}"
        per_tenant[n].append((cid, cmd))
        pipe.xadd(key(shard_of(n), "commands"),
                  {"cid": cid, "tenant": n, "cmd": msgspec.msgpack.encode(cmd)})
        if i % 5000 == 0:
            pipe.execute()
    pipe.execute()

    env = {**os.environ}
    args = [sys.executable, "-m", "pyroute.cli", "worker", "--redis", server, "--tenants",
            str(cfg_path), "--lease-ms", "1500", "--snapshot-every", "2000",
            "--log-level", "warning"]
    a = subprocess.Popen(args, env=env)
    time.sleep(0.3)
    b = subprocess.Popen(args, env=env)
    try:
        def events_total() -> int:
            return sum(r.xlen(key(s, "events")) for s in range(16))
        deadline = time.monotonic() + 120
        while events_total() < total // 3:
            assert time.monotonic() < deadline, "workers made no progress"
            time.sleep(0.05)
        owners = [r.get(key(s, "lease")) for s in range(16)]
        victim = a if sum(1 for o in owners if o and str(a.pid).encode() in o) >= 8 else b
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        while events_total() < total:
            assert time.monotonic() < deadline, (
                f"only {events_total()} of {total} commands have events after the kill")
            time.sleep(0.1)
        time.sleep(0.5)
        assert events_total() == total          # nothing applied twice after the takeover
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=20)
    # compare every tenant's events with a single-process replay of its commands
    got: dict = {n: [] for n in names}
    for s in range(16):
        for _, f in r.xrange(key(s, "events")):
            got[f[b"tenant"].decode()].append((f[b"cid"].decode(),
                                               msgspec.msgpack.decode(f[b"events"])))
    for n in names:
        router = pr.Router(configs[n])
        want = [(cid if cid != "setup" else f"{n}-setup",
                 msgspec.to_builtins(router.apply(cmd))) for cid, cmd in per_tenant[n]]
        assert [c for c, _ in got[n]] == [c for c, _ in want], n
        assert [e for _, e in got[n]] == [e for _, e in want], n
        router.check()


def test_client_methods_with_a_running_worker(server, tenants):
    import threading
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop.is_set,), daemon=True)
    thread.start()
    try:
        client = Client(server, timeout=20)
        assert client.add_operator("globex", "bob", ["g", "h"], 1, "online", now=1.0) == []
        (ev,) = client.submit("globex", "x", "email", "h", now=2.0)
        assert isinstance(ev, pr.Assigned) and ev.operator == "bob"
        events = client.submit("globex", "y", "web", "h", now=3.0)
        assert [type(e) for e in events] == [pr.Queued]
        with pytest.raises(pr.DuplicateId):
            client.submit("globex", "x", "web", "h", now=4.0)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_redelivered_command_is_applied_once(server, tenants):
    worker = Worker(server, load_tenants(tenants), lease_ms=2000, snapshot_every=1)
    r = redis.Redis.from_url(server)
    n = shard_of("acme")
    cmd = msgspec.msgpack.encode(pr.AddOperator(operator="a", groups=("g",), limit=1,
                                                status="online", now=1.0))
    for _ in range(2):
        r.xadd(key(n, "commands"), {"cid": "same", "tenant": "acme", "cmd": cmd})
        worker.step(block_ms=50)
    # a worker taking over (from the snapshot) still knows the id
    r.delete(key(n, "lease"))
    other = Worker(server, load_tenants(tenants), lease_ms=2000)
    r.xadd(key(n, "commands"), {"cid": "same", "tenant": "acme", "cmd": cmd})
    other.step(block_ms=50)
    entries = [f for _, f in r.xrange(key(n, "events")) if f[b"cid"] == b"same"]
    assert b"events" in entries[0]
    assert [b"error" in f for f in entries[1:]] == [True, True]
    assert worker.applied == 1 and worker.duplicates == 1 and other.duplicates == 1


def test_a_shard_remembers_exactly_its_newest_command_ids(server, tenants):
    """The re-send window is the newest ``remember`` ids of the shard, in the order they
    came, whichever path an entry took (the compiled loop, or the careful one for the
    first entry of a tenant in a batch), and a worker taking over from the snapshot
    remembers the same: a re-send inside the window is refused, one outside is
    applied (as a new command: here an operator id the tenant already has)."""
    worker = Worker(server, load_tenants(tenants), lease_ms=2000, snapshot_every=1,
                    remember=3)
    r = redis.Redis.from_url(server)
    n = shard_of("acme")

    def send(cid, op):
        cmd = pr.AddOperator(operator=op, groups=("g",), limit=1, status="online", now=1.0)
        r.xadd(key(n, "commands"), {"cid": cid, "tenant": "acme",
                                    "cmd": msgspec.msgpack.encode(cmd)})
    for i in range(5):   # one batch: c0 by the careful path, c1..c4 by the native loop
        send(f"c{i}", f"op{i}")
    worker.step(block_ms=50)
    sh = worker.owned[n]
    assert list(sh.seen) == list(sh.order) == ["c2", "c3", "c4"]
    send("c6", "op6")    # a batch of one: the careful path
    worker.step(block_ms=50)
    assert list(sh.seen) == list(sh.order) == ["c3", "c4", "c6"]
    assert worker.applied == 6 and worker.duplicates == 0
    r.delete(key(n, "lease"))
    other = Worker(server, load_tenants(tenants), lease_ms=2000, remember=3)
    send("c4", "op4")    # inside the window: refused
    send("c2", "op2")    # forgotten: applied again (the router refuses the operator id)
    other.step(block_ms=50)
    # c3 made room for c2
    assert list(other.owned[n].seen) == list(other.owned[n].order) == ["c4", "c6", "c2"]
    events = [f for _, f in r.xrange(key(n, "events"))]
    assert [(f[b"cid"], b"error" in f) for f in events[-2:]] == [(b"c4", True),
                                                                 (b"c2", True)]
    assert b"DuplicateId: command id" in events[-2][b"error"]
    assert not events[-1][b"error"].startswith(b"DuplicateId: command id")
    assert other.duplicates == 1
    # a worker keeping fewer ids: the snapshot's newest two (c4, c6), then the replay of
    # the entries after the snapshot (c4 refused again, c2)
    r.delete(key(n, "lease"))
    third = Worker(server, load_tenants(tenants), lease_ms=2000, remember=2)
    third.step(block_ms=50)
    assert list(third.owned[n].seen) == list(third.owned[n].order) == ["c6", "c2"]
    assert third.duplicates == 1
    with pytest.raises(pr.InvalidArgument, match="remember must be a positive int"):
        Worker(server, load_tenants(tenants), remember=0)


def test_a_deeply_nested_entry_is_skipped_not_fatal(server, tenants):
    """A MessagePack value nested deeper than the decoder recurses (RecursionError, not a
    DecodeError) is malformed like any other: logged, skipped, counted; the entries read
    with it still get their events, and the shard goes on."""
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    client = Client(server)
    n = shard_of("acme")
    r = redis.Redis.from_url(server)
    cid1, since = client.send("acme", pr.AddOperator(operator="a", groups=("g",), limit=1,
                                                     status="online", now=1.0))
    # {"request": [[[[...[nil]...]]]], "type": "Submit"}: the decoder skips the value to
    # find the tag, and recurses
    deep = b"\x82\xa7request" + b"\x91" * 100_000 + b"\xc0" + b"\xa4type\xa6Submit"
    r.xadd(key(n, "commands"), {"cid": "deep", "tenant": "acme", "cmd": deep})
    cid2, _ = client.send("acme", pr.Submit(request="c1", channel="web", group="g", now=2.0))
    for _ in range(3):
        worker.step(block_ms=50)
    assert worker.malformed == 1 and worker.applied == 2
    assert client.wait("acme", cid2, since)[0] == pr.Assigned(
        request="c1", operator="a", group="g", channel="web", at=2.0, waited=0.0)
    # a new worker taking the shard over (after a snapshot or not) passes it too
    worker.snapshot(worker.owned[n])
    other = Worker(server, load_tenants(tenants), lease_ms=2000)
    r.delete(key(n, "lease"))
    worker.owned.clear()
    cid3, _ = client.send("acme", pr.Finish(request="c1", now=3.0))
    for _ in range(3):
        other.step(block_ms=50)
    assert client.wait("acme", cid3, since)[0].request == "c1"


def test_an_entry_without_now_takes_the_entrys_own_time(server, tenants):
    """Not the worker's clock: the entry id's milliseconds, so that a worker replaying the
    stream after a takeover computes the same events."""
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    n = shard_of("acme")
    r = redis.Redis.from_url(server)
    enc = msgspec.msgpack.encode
    r.xadd(key(n, "commands"), {"cid": "op", "tenant": "acme", "cmd": enc(pr.AddOperator(
        operator="a", groups=("g",), limit=1, status="online", now=1.0))}, id="5000-0")
    r.xadd(key(n, "commands"), {"cid": "s", "tenant": "acme", "cmd": enc(pr.Submit(
        request="c1", channel="web", group="g"))}, id="7250-0")
    for _ in range(3):
        worker.step(block_ms=50)
    got = {f[b"cid"]: f for _, f in r.xrange(key(n, "events"))}
    events = msgspec.msgpack.decode(got[b"s"][b"events"], type=list[pr.Event])
    assert events == [pr.Assigned(request="c1", operator="a", group="g", channel="web",
                                  at=7.25, waited=0.0)]


class _Boom:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_snapshot_hash_written_by_anyone_is_never_unpickled(server, tenants, tmp_path):
    """Platform code may write to Redis: a `{shard}:snapshot` hash holding a pickle must
    not run on the worker that takes the shard over. It is unusable: the worker replays
    the command stream instead, and the events are the same."""
    import pickle
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    client = Client(server)
    n = shard_of("acme")
    r = redis.Redis.from_url(server)
    cid, since = client.send("acme", pr.AddOperator(operator="a", groups=("g",), limit=1,
                                                    status="online", now=1.0))
    for _ in range(2):
        worker.step(block_ms=50)
    marker = tmp_path / "pwned"
    evil = {"routers": {"acme": pickle.dumps(_Boom(str(marker)))}, "seen": []}
    r.hset(key(n, "snapshot"), mapping={"entry": "9999999999999-0",
                                        "state": msgspec.msgpack.encode(evil)})
    r.delete(key(n, "lease"))
    other = Worker(server, load_tenants(tenants), lease_ms=2000)
    cid2, _ = client.send("acme", pr.Submit(request="c1", channel="web", group="g", now=2.0))
    for _ in range(3):
        other.step(block_ms=50)
    assert not marker.exists(), "reading the snapshot ran code"
    assert other.bad_snapshots == 1
    assert client.wait("acme", cid2, since)[0] == pr.Assigned(
        request="c1", operator="a", group="g", channel="web", at=2.0, waited=0.0)
    # and a real snapshot still restores
    other.snapshot(other.owned[n])
    r.delete(key(n, "lease"))
    third = Worker(server, load_tenants(tenants), lease_ms=2000)
    cid3, _ = client.send("acme", pr.Finish(request="c1", now=3.0))
    for _ in range(3):
        third.step(block_ms=50)
    assert third.bad_snapshots == 0
    assert client.wait("acme", cid3, since)[0].request == "c1"


def test_the_batch_write_keeps_every_field_byte_for_byte(server, tenants):
    """The fenced write takes a batch as one MessagePack argument with str headers on raw
    bytes: values of every header size (short, 8-, 16- and 32-bit lengths) and bytes that
    are not UTF-8 come back as written, one entry per command; without the lease, nothing
    is written."""
    from pyroute._durable import str_array
    from pyroute.redis.worker import _XADD_FENCED
    worker = Worker(server, load_tenants(tenants), lease_ms=2000)
    r = redis.Redis.from_url(server)
    r.set(key(0, "lease"), worker.me)
    values = [b"\xff\x00ok", b"x" * 200, b"\xc4" * 70_000, b"y" * 31, b""]
    fields = [f for i, v in enumerate(values)
              for f in (f"c{i}".encode(), b"1-%d" % i, b"acme", b"events", v)]
    keys = (key(0, "lease"), key(0, "events"))
    assert r.eval(_XADD_FENCED, 2, *keys, worker.me, str_array(fields)) == 1
    got = [f for _, f in r.xrange(key(0, "events"))]
    assert [f[b"events"] for f in got] == values
    assert [f[b"cid"] for f in got] == [b"c0", b"c1", b"c2", b"c3", b"c4"]
    r.set(key(0, "lease"), "someone else")
    assert r.eval(_XADD_FENCED, 2, *keys, worker.me, str_array(fields)) == 0
    assert r.xlen(key(0, "events")) == 5


def _str_array(fields):
    """MessagePack's array and str headers, written out from its specification."""
    def head(n, small, small_max, codes):
        if n < small_max:
            return bytes((small | n,))
        for code, width in codes:
            if n < 1 << (8 * width):
                return bytes((code,)) + n.to_bytes(width, "big")
        raise ValueError(n)
    return (head(len(fields), 0x90, 16, ((0xDC, 2), (0xDD, 4)))
            + b"".join(head(len(f), 0xA0, 32, ((0xD9, 1), (0xDA, 2), (0xDB, 4))) + f
                       for f in fields))


@pytest.mark.parametrize("sizes", [[], [0], [31, 32, 255, 256, 65535, 65536],
                                   [1] * 15, [1] * 16, [2] * 65536])
def test_the_native_batch_framing_follows_the_msgpack_headers(sizes):
    """str_array against the headers of the MessagePack specification, at every boundary
    of their sizes (array: 15/16 and 65,535/65,536 items; str: 31/32, 255/256, 65,535/
    65,536 bytes); anything but a list of bytes is a TypeError."""
    from pyroute._durable import str_array
    fields = [bytes([i % 256]) * n for i, n in enumerate(sizes)]
    assert str_array(fields) == _str_array(fields)
    for bad in ([b"a", "text"], [bytearray(b"x")], [None]):
        with pytest.raises(TypeError):
            str_array(bad)
    with pytest.raises(TypeError):
        str_array((b"a",))


@pytest.mark.parametrize("seen", ["c1c2", [1, 2], [["x"]], None])
def test_a_snapshot_whose_remembered_ids_are_not_ids_is_unusable(server, tenants, seen):
    """A snapshot whose "seen" is not a list of command ids (a str, ints, lists, nothing)
    is counted as unusable and the shard replayed from the start, with an empty window:
    its routers are not restored either, and nothing in it is taken for an id."""
    worker = Worker(server, load_tenants(tenants), lease_ms=2000, snapshot_every=1)
    client = Client(server)
    n = shard_of("acme")
    r = redis.Redis.from_url(server)
    cid, since = client.send("acme", pr.AddOperator(operator="a", groups=("g",), limit=1,
                                                    status="online", now=1.0))
    worker.step(block_ms=50)
    state = msgspec.msgpack.decode(r.hget(key(n, "snapshot"), "state"))
    assert state["seen"] == [cid]           # the worker's own snapshot: the ids, as str
    state["seen"] = seen
    r.hset(key(n, "snapshot"), "state", msgspec.msgpack.encode(state))
    r.delete(key(n, "lease"))
    other = Worker(server, load_tenants(tenants), lease_ms=2000)
    cid2, _ = client.send("acme", pr.Submit(request="c1", channel="web", group="g", now=2.0))
    other.step(block_ms=50)
    sh = other.owned[n]
    assert other.bad_snapshots == 1
    assert list(sh.seen) == list(sh.order) == [cid, cid2]   # replayed from the start
    assert client.wait("acme", cid2, since)[0] == pr.Assigned(
        request="c1", operator="a", group="g", channel="web", at=2.0, waited=0.0)
