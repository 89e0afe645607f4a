"""The package as users see it: the native engine behind ``import pyroute``, the reference
engine beside it, typing markers, public names, and events and commands as wire data."""

from __future__ import annotations

import importlib.machinery
import importlib.resources
import inspect
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import msgspec
import pytest

import pyroute
import pyroute as pr
from pyroute import reference

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ engines

def test_import_pyroute_gives_the_native_engine():
    assert pr.Router.engine == "native"
    core = pyroute._core
    assert issubclass(pr.Router, core.Router)
    # a compiled extension module, not a Python file standing in for it
    assert isinstance(core.__spec__.loader, importlib.machinery.ExtensionFileLoader)
    assert core.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert not inspect.isfunction(core.Router.submit)
    assert "submit" not in vars(pr.Router)   # the facade adds nothing on the hot path
    assert isinstance(core.DEBUG, bool)
    # tests/test_debug_build.py runs this file on the bounds-checked build
    assert core.DEBUG == (os.environ.get("PYROUTE_EXPECT_DEBUG") == "1")


def test_the_reference_engine_is_pure_python():
    assert reference.Router.engine == "reference"
    assert inspect.isfunction(reference.Router.submit)
    assert reference.__file__.endswith(".py")
    assert not issubclass(reference.Router, pyroute._core.Router)


def test_both_engines_have_the_same_public_methods():
    config = pr.RouterConfig(channels=[pr.Channel("web")], groups=[pr.Group("g")])

    def public(router):
        return {n for n in dir(router) if not n.startswith("_") or n in ("_state",)}
    native, ref = public(pr.Router(config)), public(reference.Router(config))
    for name in ("submit", "finish", "cancel", "add_operator", "remove_operator", "set_status",
                 "set_groups", "set_limit", "advance", "apply", "apply_many", "operator",
                 "request", "queue", "stats", "check", "from_toml", "engine", "config",
                 "_state"):
        assert name in native and name in ref, name
    assert ref - native == set()


@pytest.mark.parametrize("cls", [pr.Router, reference.Router], ids=["native", "reference"])
def test_public_methods_are_documented(cls):
    for name in ("submit", "finish", "cancel", "add_operator", "remove_operator", "set_status",
                 "set_groups", "set_limit", "advance", "apply", "apply_many", "operator",
                 "request", "queue", "stats"):
        doc = getattr(cls, name).__doc__
        assert doc and len(doc.strip()) > 20, f"{cls.engine}.{name} has no docstring"


def test_importing_without_the_native_core_fails_loudly():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "pyroute._core":
                    raise ImportError("blocked for the test")
                return None
        sys.meta_path.insert(0, Block())
        try:
            import pyroute
        except ImportError as e:
            print("ImportError:", e)
        else:
            print("imported", pyroute.Router.engine)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT / "src")}, check=True).stdout
    assert out.startswith("ImportError:")
    assert "pyroute._core" in out and "pip install" in out


# ------------------------------------------------------------------------------ typing, names

def test_py_typed_is_shipped():
    marker = importlib.resources.files("pyroute").joinpath("py.typed")
    assert marker.is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["pyroute"]


def test_native_stub_declares_every_public_method():
    stub = ROOT / "bindings" / "_core.pyi"
    if not stub.is_file():
        pytest.skip("not a source checkout")
    # the stub's Router inherits the typed declarations of pyroute._api (Commands, Reads)
    text = stub.read_text() + (ROOT / "src" / "pyroute" / "_api.py").read_text()
    assert "class Router(Commands, Reads)" in text
    for name in dir(pyroute._core.Router):
        if not name.startswith("__"):
            assert f"def {name}(" in text or f"{name}:" in text, name


def test_every_name_in_all_exists():
    assert len(pr.__all__) == len(set(pr.__all__))
    for name in pr.__all__:
        assert getattr(pyroute, name) is not None, name
    ns: dict = {}
    exec("from pyroute import *", ns)
    assert set(pr.__all__) <= set(ns)


def test_version_matches_the_project_metadata():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pr.__version__ == pyproject["project"]["version"]


def test_exception_hierarchy():
    for exc in (pr.UnknownId, pr.DuplicateId, pr.InvalidState, pr.ConfigError,
                pr.InvalidArgument, pr.TimeError, pr.BatchError):
        assert issubclass(exc, pr.RoutingError)
    assert issubclass(pr.UnknownId, KeyError)
    for exc in (pr.ConfigError, pr.InvalidArgument, pr.TimeError):
        assert issubclass(exc, ValueError)
    # UnknownId reads as a message, not as a quoted KeyError
    assert str(pr.UnknownId("unknown operator 'x'")) == "unknown operator 'x'"


# ------------------------------------------------------------------------------ wire format

EVENTS = [
    pr.Assigned(request="c1", operator="alice", group="g", channel="web", at=1.0, waited=0.5),
    pr.Assigned(request=17, operator=3, group="g", channel="web", at=1.0, waited=0.0),
    pr.Queued(request="c2", group="g", channel="email", at=2.0),
    pr.Overflowed(request="c3", group="g", to=("h", "i"), reason="after", at=3.0),
    pr.Finished(request="c1", operator="alice", at=4.0),
    pr.Cancelled(request="c2", at=5.0, waited=3.0, early=True),
    pr.Rejected(request="c4", at=6.0, reason="hidden"),
    pr.StatusChanged(operator="alice", status="away", at=7.0),
    pr.StatusChanged(operator=9, status="online", at=7.5, reason="shift"),
]

COMMANDS = [
    pr.Submit(request="c1", channel="web", group="g"),
    pr.Submit(request=5, channel="web", group="g", priority=-2, visitor="v-17", now=1.0),
    pr.Finish(request="c1", now=2.0),
    pr.Cancel(request=5),
    pr.AddOperator(operator="alice", groups=("g", "h"), limit=5, status="online", now=0.0),
    pr.RemoveOperator(operator="alice", requeue=True, now=3.0),
    pr.SetStatus(operator=1, status="away", requeue=False, now=4.0),
    pr.SetGroups(operator="alice", groups=(), now=5.0),
    pr.SetLimit(operator="alice", limit=0),
    pr.Advance(now=6.0),
    pr.Advance(),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_round_trip_through_json_and_msgpack(event):
    assert msgspec.json.decode(msgspec.json.encode(event), type=pr.Event) == event
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(event), type=pr.Event) == event
    assert type(msgspec.json.decode(msgspec.json.encode(event), type=pr.Event)) is type(event)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: type(c).__name__)
def test_commands_round_trip_through_json_and_msgpack(cmd):
    assert msgspec.json.decode(msgspec.json.encode(cmd), type=pr.Command) == cmd
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(cmd), type=pr.Command) == cmd


def test_events_are_tagged():
    raw = msgspec.json.decode(msgspec.json.encode(EVENTS[0]))
    assert raw == {"type": "Assigned", "request": "c1", "operator": "alice", "group": "g",
                   "channel": "web", "at": 1.0, "waited": 0.5}
    for ev in EVENTS:
        assert msgspec.to_builtins(ev)["type"] == type(ev).__name__


def test_commands_are_tagged_and_decode_from_hand_written_json():
    assert msgspec.to_builtins(pr.Finish(request="c1", now=2.0)) == {
        "type": "Finish", "request": "c1", "now": 2.0}
    cmd = msgspec.json.decode(
        b'{"type": "Submit", "request": "c9", "channel": "web", "group": "g", "now": 1.5}',
        type=pr.Command)
    assert cmd == pr.Submit(request="c9", channel="web", group="g", now=1.5)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"type": "Explode"}', type=pr.Command)


@pytest.mark.parametrize("obj", EVENTS[:1] + COMMANDS[:1], ids=["event", "command"])
def test_events_and_commands_are_frozen(obj):
    field = obj.__struct_fields__[0]
    with pytest.raises(AttributeError):
        setattr(obj, field, "other")
    assert hash(obj) == hash(msgspec.structs.replace(obj))


def _scenario(router_cls):
    r = router_cls(pr.RouterConfig(
        channels=[pr.Channel("web", priority=10), pr.Channel("email")],
        groups=[pr.Group("g", overflow=[pr.Overflow(to=["h"], after=5.0)]), pr.Group("h"),
                pr.Group("x", hidden=True)]))
    cmds = [pr.AddOperator(operator="alice", groups=("g",), limit=1, status="online", now=0.0),
            pr.AddOperator(operator=2, groups=("h",), limit=1, now=0.0),
            pr.Submit(request="c1", channel="web", group="g", now=1.0),
            pr.Submit(request=2, channel="email", group="g", now=2.0),
            pr.Submit(request="c3", channel="web", group="x", now=2.0),
            pr.SetStatus(operator=2, status="online", now=10.0),
            pr.Cancel(request="c1", now=11.0),
            pr.Finish(request=2, now=12.0)]
    return r, cmds


def test_events_from_both_engines_encode_byte_for_byte_alike():
    encoded = []
    for cls in (pr.Router, reference.Router):
        r, cmds = _scenario(cls)
        events = r.apply_many(cmds)
        assert {type(e) for e in events} == {pr.Assigned, pr.Queued, pr.Overflowed,
                                             pr.StatusChanged, pr.Cancelled, pr.Finished,
                                             pr.Rejected}
        data = msgspec.json.encode(events)
        assert msgspec.json.decode(data, type=list[pr.Event]) == events
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(events),
                                      type=list[pr.Event]) == events
        encoded.append(data)
    assert encoded[0] == encoded[1]


def test_commands_decoded_from_the_wire_drive_the_router():
    r, cmds = _scenario(pr.Router)
    wire = msgspec.msgpack.encode(cmds)
    decoded = msgspec.msgpack.decode(wire, type=list[pr.Command])
    assert decoded == cmds
    ref, _ = _scenario(reference.Router)
    assert r.apply_many(decoded) == ref.apply_many(cmds)


def test_views_and_stats_encode():
    r, cmds = _scenario(pr.Router)
    r.apply_many(cmds)
    stats = msgspec.json.decode(msgspec.json.encode(r.stats(now=20.0)), type=pr.Stats)
    assert stats == r.stats(now=20.0)
    assert msgspec.json.decode(msgspec.json.encode(r.operator("alice")),
                               type=pr.OperatorView) == r.operator("alice")
    assert msgspec.to_builtins(r.operator("alice"))["groups"] == ("g",)
    assert msgspec.to_builtins(r.request("c3"))["state"] == "rejected"
