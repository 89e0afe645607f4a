"""The command table (pyroute.protocol) against everything that implements or lists
commands: the native and reference engines' signatures, the stub of the compiled core, the
typed declarations, the command structs, the durable router's and the Redis client's
generated methods, the service's routes and roles, both engines' ``apply``, and the
checked test fixtures. A command added to the table and forgotten anywhere fails here."""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import msgspec
import pytest

import pyroute as pr
from pyroute import _api, protocol, reference
from pyroute.commands import Command
from pyroute.journal import DurableRouter

from conftest import ENGINES, Checked

ROOT = Path(__file__).resolve().parents[1]
NODEFAULT = object()


def params_of(fn) -> list[tuple[str, object]]:
    """(name, default) of a callable's parameters after self."""
    out = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        out.append((p.name, NODEFAULT if p.default is inspect.Parameter.empty else p.default))
    return out


def table_params(spec: protocol.Spec) -> list[tuple[str, object]]:
    d = spec.defaults
    return [(p, d.get(p, NODEFAULT)) for p in spec.params]


def stub_methods() -> dict[str, list[tuple[str, object]]]:
    """The methods of ``Router`` in the stub of pyroute._core, parsed (not imported): its
    own, and those of the pyroute._api classes it names as bases."""
    path = ROOT / "bindings" / "_core.pyi"
    if not path.exists():
        path = Path(pr.__file__).with_name("_core.pyi")
    tree = ast.parse(path.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Router")
    out = {}
    for base in cls.bases:
        for name, fn in vars(getattr(_api, base.id)).items():
            if callable(fn) and not name.startswith("_"):
                out[name] = params_of(fn)
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef):
            args = fn.args.args[1:]
            defaults = [NODEFAULT] * (len(args) - len(fn.args.defaults)) + [
                ast.literal_eval(d) for d in fn.args.defaults]
            out[fn.name] = [(a.arg, d) for a, d in zip(args, defaults)]
    return out


# ---------------------------------------------------------------------- the table itself
def test_codes_are_the_row_numbers_and_params_the_struct_fields():
    assert [s.code for s in protocol.COMMANDS] == list(range(len(protocol.COMMANDS)))
    for s in protocol.COMMANDS:
        assert set(s.params) == {f.name for f in msgspec.structs.fields(s.struct)}, s.name
        assert s.role in protocol.ROLES
    assert len(protocol.BY_NAME) == len(protocol.BY_TYPE) == len(protocol.COMMANDS)


def test_the_command_union_holds_exactly_the_tables_structs():
    assert set(typing.get_args(Command)) == set(protocol.COMMAND_TYPES)


def test_v1_journal_codes_and_order_never_change():
    """Append only: journals written by pyroute 0.1 name commands by these codes and
    arguments in this order (tests/data/journal-v1 replays with them)."""
    v1 = [("submit", ("request", "channel", "group", "priority", "visitor", "now", "skills",
                      "prefer", "prefer_for")),
          ("finish", ("request", "now")), ("cancel", ("request", "now")),
          ("add_operator", ("operator", "groups", "limit", "status", "now", "channel_limits",
                            "skills", "levels", "kind")),
          ("remove_operator", ("operator", "now", "requeue")),
          ("set_status", ("operator", "status", "now", "requeue")),
          ("set_groups", ("operator", "groups", "now")),
          ("set_limit", ("operator", "limit", "now")),
          ("transfer", ("request", "group", "operator", "now")),
          ("escalate", ("request", "now")), ("accept", ("request", "operator", "now")),
          ("decline", ("request", "operator", "now")),
          ("ban", ("visitor", "until", "reason", "now")), ("unban", ("visitor", "now")),
          ("categorize", ("request", "name", "now")), ("advance", ("now",))]
    for code, (name, params) in enumerate(v1):
        spec = protocol.COMMANDS[code]
        assert spec.name == name
        # a later version may add parameters at the end, never move or drop one
        assert spec.params[:len(params)] == params, name


# ---------------------------------------------------------------------- signatures
@pytest.mark.parametrize("spec", protocol.COMMANDS, ids=lambda s: s.name)
def test_every_implementation_has_the_tables_signature(spec):
    want = table_params(spec)
    assert params_of(getattr(pr.Router, spec.name)) == want, "native"
    assert params_of(getattr(reference.Router, spec.name)) == want, "reference"
    assert stub_methods()[spec.name] == want, "bindings/_core.pyi"
    assert params_of(getattr(DurableRouter, spec.name)) == want, "DurableRouter"
    assert params_of(getattr(_api.Commands, spec.name)) == want, "_api.Commands"
    from pyroute.redis.client import Client
    tenant = [("tenant", NODEFAULT)] + want
    assert params_of(getattr(Client, spec.name)) == tenant, "redis Client"
    assert params_of(getattr(_api.TenantCommands, spec.name)) == tenant, "_api.TenantCommands"


@pytest.mark.parametrize("name", sorted(protocol.READS))
def test_every_read_has_one_signature_everywhere(name):
    want = params_of(getattr(reference.Router, name))
    assert [p for p, _ in want] == list(protocol.READS[name])
    assert params_of(getattr(pr.Router, name)) == want
    if name != "explain":   # explain is pyroute.Router's (the subclass), not the core's
        assert stub_methods()[name] == want
    assert params_of(getattr(_api.Reads, name)) == want


def test_the_router_has_no_public_method_the_table_does_not_know():
    known = set(protocol.BY_NAME) | set(protocol.READS) | set(protocol.BATCHES) | {
        "apply", "from_toml", "open", "config", "engine", "now"}
    for cls, extra in ((pr.Router, protocol.NATIVE_READS), (reference.Router, {})):
        public = {n for n in dir(cls(CONFIG)) if not n.startswith("_")}
        assert public == known | set(extra), cls
    assert params_of(pr.Router.memory) == []


def test_mutating_is_every_command_and_apply():
    assert set(protocol.MUTATING) == set(protocol.BY_NAME) | {"apply", "apply_many", "apply_each",
                                                              "apply_packed"}
    assert not set(protocol.MUTATING) & set(protocol.READS)


# ---------------------------------------------------------------------- apply on both engines
CONFIG = pr.RouterConfig(
    channels=[pr.Channel("web")],
    groups=[pr.Group("g", escalate_to="h"), pr.Group("h"),
            pr.Group("offers", accept_timeout=30.0)])

#: one valid instance of every command, for the prepared router below
SAMPLES = {
    "submit": pr.Submit(request="n1", channel="web", group="g", now=10.0),
    "finish": pr.Finish(request="c1", now=10.0),
    "cancel": pr.Cancel(request="c1", now=10.0),
    "add_operator": pr.AddOperator(operator="z", groups=("g",), limit=1, status="online",
                                   now=10.0),
    "remove_operator": pr.RemoveOperator(operator="a", now=10.0, requeue=True),
    "set_status": pr.SetStatus(operator="a", status="away", now=10.0),
    "set_groups": pr.SetGroups(operator="a", groups=("g", "h"), now=10.0),
    "set_limit": pr.SetLimit(operator="a", limit=3, now=10.0),
    "transfer": pr.Transfer(request="c1", group="h", now=10.0),
    "escalate": pr.Escalate(request="c1", now=10.0),
    "accept": pr.Accept(request="c2", now=10.0),
    "decline": pr.Decline(request="c2", now=10.0),
    "ban": pr.Ban(visitor="v1", now=10.0),
    "unban": pr.Unban(visitor="v0", now=10.0),
    "categorize": pr.Categorize(request="c1", name="billing", now=10.0),
    "advance": pr.Advance(now=100.0),
    "hold": pr.Hold(group="h", channel="web", hold="h1", seconds=30.0, now=10.0),
    "release_hold": pr.ReleaseHold(hold="h0", now=10.0),
}


def prepared(cls):
    """a and b online (b in g and h), c1 with a, c2 offered to o, v0 banned, one of b's
    slots held (h0)."""
    r = cls(CONFIG)
    r.add_operator("a", ["g"], 1, status="online", now=0.0)
    r.add_operator("b", ["h"], 2, status="online", now=0.0)
    r.add_operator("o", ["offers"], 1, status="online", now=0.0)
    r.submit("c1", "web", "g", now=1.0)
    r.submit("c2", "web", "offers", now=2.0)
    r.ban("v0", now=3.0)
    r.hold("h", "web", "h0", 600.0, now=3.0)
    return r


def test_there_is_a_sample_of_every_command():
    assert set(SAMPLES) == set(protocol.BY_NAME)
    assert all(protocol.spec_of(cmd).name == name for name, cmd in SAMPLES.items())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_apply_is_the_method_call_on_both_engines(name):
    cmd = SAMPLES[name]
    seen = []
    for cls in ENGINES.values():
        by_apply, by_call = prepared(cls), prepared(cls)
        events = by_apply.apply(cmd)
        assert events == getattr(by_call, name)(*protocol.arguments(cmd))
        assert by_apply._state() == by_call._state()
        assert events == by_apply.apply_many([]) + events   # apply_many([]) changes nothing
        assert by_apply._state() != prepared(cls)._state(), f"{name}: make a sample that acts"
        seen.append(events)
    assert seen[0] == seen[1], "the engines disagree"


def test_the_shared_dispatch_refuses_what_is_not_a_command():
    for bad in (None, "Submit", {"type": "Submit"}, pr.Assigned):
        for cls in ENGINES.values():
            with pytest.raises(pr.InvalidArgument, match="command struct"):
                cls(CONFIG).apply(bad)


def test_records_round_trip_through_the_table():
    for cmd in SAMPLES.values():
        assert protocol.from_record(list(protocol.record(cmd))) == cmd
    for bad in ([], [99], [-1, "x"], ["submit"], [True], [1, "c1", 1.0, "extra"]):
        with pytest.raises(ValueError):
            protocol.from_record(bad)


def test_command_binds_arguments_as_the_method_does():
    assert protocol.command("finish", "c1", now=5.0) == pr.Finish(request="c1", now=5.0)
    assert protocol.command("set_groups", "a", ["g"]) == pr.SetGroups(operator="a",
                                                                      groups=("g",))
    for args, kw in (((), {}), (("c1", 1.0, 2.0), {}), (("c1",), {"request": "c2"}),
                     (("c1",), {"nope": 1})):
        with pytest.raises(pr.InvalidArgument):
            protocol.command("finish", *args, **kw)
    with pytest.raises(pr.InvalidArgument, match="no command"):
        protocol.command("explode")


# ---------------------------------------------------------------------- derived lists
def test_service_routes_and_roles_come_from_the_table():
    pytest.importorskip("starlette")
    from pyroute.service import app
    assert app.URL_NAMES == {s.type_name: s.name for s in protocol.COMMANDS}
    assert app.INTEGRATION_COMMANDS == {s.type_name for s in protocol.COMMANDS
                                        if s.role == protocol.INTEGRATION}
    doc = app.openapi_document()
    for s in protocol.COMMANDS:
        assert f"/v1/commands/{s.name}" in doc["paths"]


def test_journal_tables_come_from_the_table():
    from pyroute import journal
    assert journal.OPS == tuple(s.name for s in protocol.COMMANDS)
    assert journal.PARAMS == {s.name: s.params for s in protocol.COMMANDS}


class _Counting:
    """A stand-in router that counts check() calls."""

    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1

    def __getattr__(self, name):
        return lambda *a, **kw: []


@pytest.mark.parametrize("name", protocol.MUTATING)
def test_checked_fixtures_check_after_every_mutating_call(name):
    inner = _Counting()
    getattr(Checked(inner), name)()
    assert inner.checks == 1


# ---------------------------------------------------------------------- type checkers
def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """mypy over ``source`` against the pyroute under test (its .py files and stubs, with
    the compiled core's stub beside them)."""
    pytest.importorskip("mypy")
    pkg = Path(pr.__file__).parent
    root = tmp_path / "typed"
    shutil.copytree(pkg, root / "pyroute",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__", "bench"))
    if not (root / "pyroute" / "_core.pyi").exists():
        shutil.copyfile(ROOT / "bindings" / "_core.pyi", root / "pyroute" / "_core.pyi")
    (tmp_path / "usage.py").write_text(source)
    env = dict(os.environ, MYPYPATH=str(root))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), "--python-version", "3.11",
         "--no-error-summary", "--strict-optional", str(tmp_path / "usage.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_mypy_accepts_the_typed_usage_file(tmp_path):
    src = (ROOT / "tests" / "typing" / "usage.py").read_text()
    run = _mypy(tmp_path, src)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_sees_the_generated_methods_and_their_types(tmp_path):
    """Misuse of the durable router's and the Redis client's generated methods is caught:
    the declarations are visible to a type checker (not Any)."""
    src = (ROOT / "tests" / "typing" / "misuse.py").read_text()
    run = _mypy(tmp_path, src)
    expected = [int(line.split("# error", 1)[0] and i + 1) for i, line in
                enumerate(src.splitlines()) if line.rstrip().endswith("# error")]
    flagged = sorted({int(ln.split(":")[1]) for ln in run.stdout.splitlines()
                      if ": error:" in ln})
    assert expected and flagged == expected, run.stdout
