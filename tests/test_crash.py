"""Crash tests: a child process applies a random command stream through
``Router.open(..., fsync="always")`` and reports each acknowledged command on stdout; it is
killed with SIGKILL at a random moment. Reopening must give exactly the state of the
acknowledged commands (the one in flight may or may not be there): nothing acknowledged
lost, nothing half-applied. 60 kills over the suite, on both engines.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings

import msgspec
import pytest

import pyroute as pr
from pyroute import reference
from test_journal import apply_all, commands_for

CHILD = r"""
import sys, msgspec
import pyroute as pr
from pyroute import reference
from pyroute.commands import Command
engine, directory, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = msgspec.msgpack.decode(open(path, "rb").read())
config = data["config"]
cmds = msgspec.convert(data["commands"], list[Command])
R = pr.Router if engine == "native" else reference.Router
router = R.open(directory, config, fsync="always", snapshot_every=23)
out = sys.stdout
out.write("ready\n"); out.flush()
for i, cmd in enumerate(cmds):
    try:
        router.apply(cmd)
    except pr.RoutingError:
        pass
    out.write(f"{i}\n"); out.flush()
out.write("done\n"); out.flush()
"""


@pytest.mark.parametrize("seed", range(12))
def test_sigkill_loses_nothing_acknowledged(tmp_path, seed):
    rng = random.Random(seed)
    engine = pr.Router if seed % 2 == 0 else reference.Router
    config, cmds = commands_for(500 + seed, 250)
    spec = tmp_path / "spec.msgpack"
    spec.write_bytes(msgspec.msgpack.encode({"config": msgspec.to_builtins(config),
                                             "commands": cmds}))
    for kill in range(5):
        directory = tmp_path / f"run{kill}"
        target = rng.randrange(1, len(cmds))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, engine.engine, str(directory), str(spec)],
            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert child.stdout.readline().strip() == "ready"
        acked = 0
        for line in child.stdout:
            if line.strip() == "done":
                break
            acked = int(line) + 1
            if acked >= target:
                if rng.random() < 0.5:
                    time.sleep(rng.random() * 0.002)   # land inside a later command
                break
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        child.stdout.close()
        assert child.returncode in (-signal.SIGKILL, 0)
        acked += sum(1 for x in rest.split() if x.isdigit())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a torn last record is expected sometimes
            reopened = engine.open(directory, config)
        reopened.check()
        expected = engine(config)
        apply_all(expected, cmds[:acked])

        def brought_to(twin):
            # a refused last command fired what was due by its now; the journal holds the
            # accepted ones: a read at that time brings the reopened router there too
            if reopened.now <= twin.now:
                reopened.stats(now=twin.now)
            return reopened._state()

        got = brought_to(expected)
        if got != expected._state():
            apply_all(expected, cmds[acked:acked + 1])    # the one in flight
            got = brought_to(expected)
            assert got == expected._state(), (
                f"seed {seed} kill {kill}: after {acked} acknowledged commands the "
                f"reopened state matches neither {acked} nor {acked + 1} commands")
        reopened.close()
