"""No import cycles in ``src/pyroute/`` or ``bench/``, and ``import pyroute`` stays light.

Check for cycles with::

    python -m pytest tests/test_imports.py

The import graph is read from the source (``ast``), not from a running interpreter, so
every import counts: at module level and inside functions (a lazy import that closes a
cycle is still a cycle, only one that does not fail yet). Modules are the ``.py`` files
of ``src/pyroute/`` as package ``pyroute`` (with its subpackages) and of ``bench/`` as
``pyroute.bench``, which it is installed as (``pyproject.toml``), and the extension
``pyroute._core`` built from ``bindings/_core.pyx`` (``setup.py``). The Python imports of
the Cython modules (``.pyx``, with the files they ``include``) count too; compiled
modules and stubs (``.so``, ``.pyi``) are nodes without imports of their own. Edges:

* ``import a.b`` goes to ``a.b`` (or the longest part of it that is a module here);
* ``from a import n`` goes to ``a.n`` when that is a module here, else to ``a``;
* relative imports are resolved against the importing module's package;
* a module's implicit import of its own parent packages is left out: ``from . import x``
  in ``pkg/y.py`` is an edge to ``pkg.x``, not to ``pkg/__init__.py``; but
  ``from . import name`` of a name defined in ``pkg/__init__.py`` is an edge to ``pkg``.

An import of a module of the tree's packages that does not exist is reported apart (it
would fail when it runs, and the graph cannot follow it).

The strongly connected components (Tarjan) of more than one module are the cycles; each is
reported with the import lines (``file:line``) that make it.

The second half runs ``python -X importtime -c "import pyroute"`` (and reads
``sys.modules`` after ``import pyroute``) in a fresh interpreter: the reference engine (the
test oracle) and sortedcontainers must not be on the runtime path (issue 11).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
#: (directory, the package it is imported as)
ROOTS: tuple[tuple[Path, str], ...] = ((REPO / "src" / "pyroute", "pyroute"),
                                       (REPO / "bench", "pyroute.bench"))
#: extension modules built from outside those directories (setup.py): name -> (source,
#: where its ``include`` files are found)
EXTENSIONS: dict[str, tuple[Path, tuple[Path, ...]]] = {
    "pyroute._core": (REPO / "bindings" / "_core.pyx",
                      (REPO / "bindings", REPO / "routing_core")),
    "pyroute._durable": (REPO / "bindings" / "durability" / "_durable.pyx",
                         (REPO / "bindings" / "durability",)),
}
#: modules that must not be loaded by ``import pyroute``
OFF_THE_RUNTIME_PATH = ("pyroute.reference", "sortedcontainers")


# ---------------------------------------------------------------------------------------
# The import graph


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: Path
    line: int
    text: str

    def where(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.text}"


def find_modules(roots: Iterable[tuple[Path, str]],
                 extensions: Optional[dict[str, tuple[Path, tuple[Path, ...]]]] = None,
                 ) -> dict[str, Module]:
    """Every module under the roots, by dotted name, and the extension modules. A directory
    is a subpackage when it has an ``__init__.py``; ``__pycache__`` and build output are
    skipped."""
    out: dict[str, Module] = {}
    for name, (path, _) in (extensions or {}).items():
        out[name] = Module(name, path, False)
    for root, package in roots:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(p == "__pycache__" or p.startswith(".") or p.endswith(".egg-info")
                   for p in rel.parts):
                continue
            if not path.is_file():
                continue
            stem = path.name.split(".", 1)[0]
            if path.suffix not in (".py", ".pyx", ".pyi", ".so"):
                continue
            if not stem.isidentifier():
                continue
            dirs = rel.parts[:-1]
            if not all((root.joinpath(*dirs[:i + 1]) / "__init__.py").is_file()
                       for i in range(len(dirs))):
                continue        # not inside a package
            if stem == "__init__":
                name = ".".join((package,) + dirs)
                is_package = True
            else:
                name = ".".join((package,) + dirs + (stem,))
                is_package = False
            # the source wins over a stub or a compiled module of the same name
            old = out.get(name)
            if old is None or _rank(path) < _rank(old.path):
                out[name] = Module(name, path, is_package)
    return out


def _rank(path: Path) -> int:
    return {".py": 0, ".pyx": 1, ".pyi": 2}.get(path.suffix, 3)


def _statements(mod: Module, include_dirs: tuple[Path, ...] = ()
                ) -> Iterator[tuple[Path, ast.stmt]]:
    """The import statements of a module, wherever they are (functions, classes, ifs),
    with the file each is in (a Cython module's ``include`` files are part of it)."""
    if mod.path.suffix == ".py":
        tree = ast.parse(mod.path.read_text(encoding="utf-8"), str(mod.path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield mod.path, node
    elif mod.path.suffix == ".pyx":
        yield from _cython_imports(mod.path, (mod.path.parent,) + include_dirs, set())


_PYX_IMPORT = re.compile(r"^\s*(import\s|from\s+\S+\s+import\b)")
_PYX_INCLUDE = re.compile(r"""^\s*include\s+["']([^"']+)["']""")


def _cython_imports(path: Path, include_dirs: tuple[Path, ...], seen: set[Path]
                    ) -> Iterator[tuple[Path, ast.stmt]]:
    """The Python imports of a Cython file and of the files it ``include``s (``cimport``
    left out): each statement, continued over parentheses or backslashes, parsed on its
    own."""
    seen.add(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        inc = _PYX_INCLUDE.match(lines[i])
        if inc:
            for d in include_dirs:
                found = d / inc.group(1)
                if found.is_file():
                    if found not in seen:
                        yield from _cython_imports(found, include_dirs, seen)
                    break
            i += 1
            continue
        m = _PYX_IMPORT.match(lines[i])
        if not m or re.match(r"^\s*(from\s+\S+\s+cimport|cimport)\b", lines[i]):
            i += 1
            continue
        first = i
        text = lines[i].strip()
        while (text.count("(") > text.count(")") or text.endswith("\\")) and i + 1 < len(lines):
            i += 1
            text = text.rstrip("\\") + " " + lines[i].strip()
        i += 1
        try:
            tree = ast.parse(text.split("#", 1)[0])
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                node.lineno = first + 1
                yield path, node


def _package_of(mod: Module) -> str:
    return mod.name if mod.is_package else mod.name.rpartition(".")[0]


def _longest_known(name: str, modules: dict[str, Module]) -> Optional[str]:
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules:
            return cand
    return None


def _is_ancestor(pkg: str, name: str) -> bool:
    return name == pkg or name.startswith(pkg + ".")


def _resolve(stmt: ast.stmt, mod: Module) -> list[tuple[str, Optional[str]]]:
    """(module named, name imported from it or None) for each alias of the statement,
    relative imports resolved against ``mod``'s package."""
    if isinstance(stmt, ast.Import):
        return [(alias.name, None) for alias in stmt.names]
    assert isinstance(stmt, ast.ImportFrom)
    if stmt.level:
        base = _package_of(mod)
        for _ in range(stmt.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{stmt.module}" if stmt.module else base
    else:
        base = stmt.module or ""
    return [(base, alias.name) for alias in stmt.names]


def targets(stmt: ast.stmt, mod: Module, modules: dict[str, Module]) -> list[str]:
    """The modules of the tree one import statement of ``mod`` makes it depend on.

    ``from a import n`` goes to ``a.n`` if that is a module, else to ``a``; a module that
    is not in the tree is followed to its longest part that is (its parents, which
    importing it imports), except when that is a parent package of ``mod`` itself."""
    out: list[str] = []
    for base, name in _resolve(stmt, mod):
        if name is not None and name != "*" and f"{base}.{name}" in modules:
            out.append(f"{base}.{name}")
        elif base in modules:
            out.append(base)
        else:
            t = _longest_known(base, modules)
            if t is not None and not _is_ancestor(t, mod.name):
                out.append(t)
    return [t for t in dict.fromkeys(out) if t != mod.name]


def unresolved(stmt: ast.stmt, mod: Module, modules: dict[str, Module]) -> list[str]:
    """The modules a statement names inside the tree's packages that are not in it (an
    import that would fail, and an edge the graph cannot see)."""
    out = []
    for base, name in _resolve(stmt, mod):
        root = base.split(".", 1)[0]
        if root in modules and base not in modules:
            out.append(base)
    return out


def import_graph(modules: dict[str, Module],
                 extensions: Optional[dict[str, tuple[Path, tuple[Path, ...]]]] = None,
                 broken: Optional[list[Edge]] = None) -> dict[str, list[Edge]]:
    """Module name -> its import edges into the tree, one per (statement, target).
    Imports of modules of the tree's packages that do not exist go to ``broken``."""
    graph: dict[str, list[Edge]] = {name: [] for name in modules}
    sources: dict[Path, list[str]] = {}

    def text(path: Path, line: int) -> str:
        if path not in sources:
            sources[path] = path.read_text(encoding="utf-8").splitlines()
        return sources[path][line - 1].strip()

    for name, mod in modules.items():
        dirs = (extensions or {}).get(name, (mod.path, ()))[1]
        for path, stmt in _statements(mod, dirs):
            for t in targets(stmt, mod, modules):
                graph[name].append(Edge(name, t, path, stmt.lineno, text(path, stmt.lineno)))
            if broken is not None:
                for t in unresolved(stmt, mod, modules):
                    broken.append(Edge(name, t, path, stmt.lineno, text(path, stmt.lineno)))
    return graph


def strongly_connected(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components, each sorted; order of discovery."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({e.target for e in graph[start]})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted({e.target for e in graph[w]}))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def cycles(graph: dict[str, list[Edge]]) -> list[tuple[list[str], list[Edge]]]:
    """Each component of more than one module, with the edges that stay inside it."""
    out = []
    for comp in strongly_connected(graph):
        inside = set(comp)
        edges = [e for name in comp for e in graph[name] if e.target in inside]
        if len(comp) > 1 or edges:
            out.append((comp, edges))
    return out


def _a_cycle(comp: list[str], edges: list[Edge]) -> list[str]:
    """One closed path through a component, from its first module back to it (BFS)."""
    succ: dict[str, set[str]] = {}
    for e in edges:
        succ.setdefault(e.source, set()).add(e.target)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(succ.get(v, ())):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1] + [start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp


def describe(found: list[tuple[list[str], list[Edge]]], root: Path = REPO) -> str:
    parts = []
    for comp, edges in found:
        lines = [f"import cycle among {len(comp)} modules: {' -> '.join(_a_cycle(comp, edges))}"]
        lines += [f"    {e.source} -> {e.target}    {e.where(root)}"
                  for e in sorted(edges, key=lambda e: (e.source, e.line, e.target))]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _in_bench(name: str) -> bool:
    return name == "pyroute.bench" or name.startswith("pyroute.bench.")


_BROKEN: list[Edge] = []


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Edge]]:
    _BROKEN.clear()
    return import_graph(find_modules(ROOTS, EXTENSIONS), EXTENSIONS, _BROKEN)


@pytest.mark.parametrize("part", ["src", "bench"])
def test_no_import_cycles(graph: dict[str, list[Edge]], part: str) -> None:
    """No module of ``src/pyroute/`` (part "src") or of ``bench/`` (part "bench") is on an
    import cycle."""
    found = [(comp, edges) for comp, edges in cycles(graph)
             if any(_in_bench(m) == (part == "bench") for m in comp)]
    assert not found, "\n" + describe(found)


def test_every_import_inside_the_tree_resolves(graph: dict[str, list[Edge]]) -> None:
    """An import of a module of ``pyroute`` that is not there would fail when it runs (a
    lazy one only then), and the graph cannot follow it."""
    assert not _BROKEN, "imports of modules that do not exist:\n" + "\n".join(
        f"    {e.source} imports {e.target}    {e.where(REPO)}" for e in _BROKEN)


def test_the_graph_sees_the_tree(graph: dict[str, list[Edge]]) -> None:
    """A guard against a vacuous pass: the graph holds the package, the extension and the
    benchmarks, and their known imports (bench -> pyroute, cli -> pyroute.bench,
    pyroute._core -> pyroute.errors)."""
    assert "pyroute" in graph and "pyroute.router" in graph and "pyroute.sim._loop" in graph
    assert "pyroute.bench.workloads" in graph and "pyroute.bench.runner" in graph
    assert any(e.target == "pyroute" for e in graph["pyroute.bench.workloads"])
    assert any(_in_bench(e.target) for e in graph["pyroute.cli"])
    assert any(e.target == "pyroute.errors" for e in graph["pyroute._core"])
    assert "pyroute._core" in (REPO / "setup.py").read_text(encoding="utf-8")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_the_checker_finds_lazy_and_relative_cycles(tmp_path: Path) -> None:
    """The rules of the module docstring, on a small made-up tree."""
    _write(tmp_path / "pkg", {
        "__init__.py": "from .a import f\nVERSION = 1\n",
        "a.py": "from . import b\n\ndef f():\n    return b\n",
        # a lazy import closes a -> b -> a
        "b.py": "def g():\n    from .a import f\n    return f\n",
        # implicit parent import: not an edge to pkg; the name VERSION is one
        "c.py": "from . import d\n",
        "d.py": "import os\n",
        "e.py": "from . import VERSION\n",
        "sub/__init__.py": "",
        "sub/x.py": "from .. import c\nfrom ..sub import y\n",
        "sub/y.py": "from pkg.sub.x import *\n",
        "sub/z.pyx": ("from libc.math cimport exp\nfrom ..c import (\n    d,\n)\n"
                      "include \"part.pxi\"\n"),
        "sub/part.pxi": "def h():\n    import pkg.e\n",
        # a module that is not there: not an edge to the parent, but reported
        "f.py": "def k():\n    from ._gone import x\n    import pkg.sub.gone\n",
    })
    modules = find_modules([(tmp_path / "pkg", "pkg")])
    assert set(modules) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e", "pkg.f",
                            "pkg.sub", "pkg.sub.x", "pkg.sub.y", "pkg.sub.z"}
    broken: list[Edge] = []
    g = import_graph(modules, broken=broken)
    to = {name: sorted({e.target for e in edges}) for name, edges in g.items()}
    assert to["pkg"] == ["pkg.a"]
    assert to["pkg.a"] == ["pkg.b"]
    assert to["pkg.b"] == ["pkg.a"]
    assert to["pkg.c"] == ["pkg.d"]
    assert to["pkg.e"] == ["pkg"]
    assert to["pkg.sub.x"] == ["pkg.c", "pkg.sub.y"]
    assert to["pkg.sub.y"] == ["pkg.sub.x"]
    assert to["pkg.sub.z"] == ["pkg.c", "pkg.e"]
    assert to["pkg.f"] == ["pkg.sub"]
    assert [(e.target, e.line) for e in broken] == [("pkg._gone", 2), ("pkg.sub.gone", 3)]
    found = cycles(g)
    assert [comp for comp, _ in found] == [["pkg.a", "pkg.b"], ["pkg.sub.x", "pkg.sub.y"]]
    text = describe(found, tmp_path)
    assert "pkg/b.py:2: from .a import f" in text
    assert "pkg/sub/x.py:2: from ..sub import y" in text


# ---------------------------------------------------------------------------------------
# What ``import pyroute`` loads


def _python(*args: str) -> subprocess.CompletedProcess:
    """A fresh interpreter that imports the same pyroute as this test run."""
    import pyroute
    where = str(Path(pyroute.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([where] + [p for p in
                                                   env.get("PYTHONPATH", "").split(os.pathsep)
                                                   if p])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=str(REPO / "tests"), timeout=120, check=True)


def _importtime_modules(stderr: str) -> list[str]:
    """The modules named by ``-X importtime`` lines
    (``import time: self [us] | cumulative | imported package``)."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.rsplit("|", 1)[-1].strip()
        if name and name != "imported package":
            out.append(name)
    return out


def test_import_pyroute_leaves_the_oracle_out_importtime() -> None:
    got = _python("-X", "importtime", "-c", "import pyroute")
    loaded = _importtime_modules(got.stderr)
    assert "pyroute" in loaded, got.stderr[-2000:]
    bad = [m for m in loaded
           if any(m == x or m.startswith(x + ".") for x in OFF_THE_RUNTIME_PATH)]
    assert not bad, f"`python -X importtime -c 'import pyroute'` loads {bad}"


def test_import_pyroute_leaves_the_oracle_out_sys_modules() -> None:
    got = _python("-c", "import pyroute, sys; print(pyroute.__file__); "
                        "print('\\n'.join(sorted(sys.modules)))")
    first, *loaded = got.stdout.splitlines()
    import pyroute
    assert Path(first).resolve() == Path(pyroute.__file__).resolve()
    bad = [m for m in loaded
           if any(m == x or m.startswith(x + ".") for x in OFF_THE_RUNTIME_PATH)]
    assert not bad, f"`import pyroute` loads {bad}"
