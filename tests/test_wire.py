"""The wire format (JSON and MessagePack, the schema) and ``pyroute replay``/``schema``."""

from __future__ import annotations

import json

import msgspec
import pytest

import pyroute as pr
from pyroute import reference
from pyroute import wire
from pyroute.cli import main
from pyroute.protocol import COMMAND_TYPES
from test_journal import apply_all, commands_for


@pytest.mark.parametrize("fmt", wire.FORMATS)
@pytest.mark.parametrize("seed", range(3))
def test_commands_and_events_round_trip(fmt, seed):
    config, cmds = commands_for(seed, 200)
    assert wire.decode_commands(wire.encode_commands(cmds, fmt), fmt) == cmds
    router = pr.Router(config)
    events = [e for out in apply_all(router, cmds) if isinstance(out, list) for e in out]
    assert wire.decode_events(wire.encode_events(events, fmt), fmt) == events
    assert {type(c) for c in cmds} >= {pr.Submit, pr.Finish, pr.Cancel, pr.SetStatus}


def test_one_command_a_list_or_an_envelope():
    one = b'{"type": "Submit", "request": "c1", "channel": "web", "group": "g", "now": 1}'
    assert wire.decode_commands(one) == [pr.Submit(request="c1", channel="web", group="g",
                                                   now=1.0)]
    assert len(wire.decode_commands(b"[" + one + b"," + one + b"]")) == 2
    env = b'{"type": "Batch", "version": 1, "commands": [' + one + b"]}"
    assert len(wire.decode_commands(env)) == 1
    msgpack = msgspec.msgpack.encode(pr.Finish(request=3, now=2.0))   # a journal record
    assert wire.decode_commands(msgpack, "msgpack") == [pr.Finish(request=3, now=2.0)]


@pytest.mark.parametrize("data, words", [
    (b'{"type": "Batch", "version": 2, "commands": []}', ["version 2"]),
    (b'{"type": "Submit", "request": "c1"}', ["channel"]),
    (b'{"type": "Launch"}', ["Launch"]),
    (b'{"type": "Finish", "request": 1.5}', ["request"]),
    (b'[{"type": "Finish", "request": "a"}, {"type": "Finish"}]', ["$[1]"]),
    (b"{not json", ["not valid json"]),
    (b"", ["not valid json"]),
])
def test_bad_messages_name_what_is_wrong(data, words):
    with pytest.raises(pr.InvalidArgument) as e:
        wire.decode_commands(data)
    for w in words:
        assert w in str(e.value)


def test_bad_format():
    with pytest.raises(pr.InvalidArgument, match="format"):
        wire.decode_commands(b"[]", "xml")


def test_schema_covers_every_command_and_event(capsys):
    s = wire.schema()
    names = set(s["$defs"])
    assert {c.__name__ for c in COMMAND_TYPES} <= names
    assert {"Assigned", "Queued", "Offered", "Accepted", "OfferExpired", "Overflowed",
            "Transferred", "Finished", "Cancelled", "Rejected", "RetentionDue",
            "StatusChanged"} <= names
    assert s["version"] == wire.WIRE_VERSION
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(s))


def test_replay_command(tmp_path, capsys):
    config, cmds = commands_for(3, 200)
    r = pr.Router.open(tmp_path, config)
    apply_all(r, cmds)
    r.close()
    assert main(["replay", str(tmp_path), "--json", "--stats"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["replayed"] == out["commands"] == r.commands
    assert out["stats"] == json.loads(msgspec.json.encode(r.stats(out["at"])))
    # --until: the state at T, timers due by T fired
    until = cmds[len(cmds) // 2].now
    assert main(["replay", str(tmp_path), "--json", "--stats", "--until", str(until)]) == 0
    part = json.loads(capsys.readouterr().out)
    expected = pr.Router(config)
    from pyroute.journal import read_journal
    journaled = read_journal(tmp_path)[1]
    apply_all(expected, [c for c in journaled if c.now <= until])
    expected.advance(until)
    assert part["stats"] == json.loads(msgspec.json.encode(expected.stats(until)))
    # --explain: the conversation's last decision
    probe = reference.Router(config, explain=True)
    for c in cmds:
        try:
            probe.apply(c)
        except pr.RoutingError:
            pass

    def explained(rid):
        try:
            return probe.explain(rid) is not None
        except pr.RoutingError:
            return False
    rid = next(c.request for c in cmds if isinstance(c, pr.Submit) and explained(c.request))
    assert main(["replay", str(tmp_path), "--json", "--explain", str(rid)]) == 0
    e = json.loads(capsys.readouterr().out)["explain"]
    assert e["request"] == rid and e["decision"] in ("assigned", "offered", "queued",
                                                     "rejected")
    assert main(["replay", str(tmp_path), "--explain", str(rid)]) == 0
    assert "verdict" in capsys.readouterr().out
    assert main(["replay", str(tmp_path), "--explain", "nobody"]) == 1
    assert main(["replay", str(tmp_path / "missing")]) == 1
    assert "cannot read" in capsys.readouterr().err
