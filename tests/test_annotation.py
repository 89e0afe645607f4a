"""The native core stays free of Python interaction: ``cython -a`` marks no line of
``routing_core/`` (the hot path) with a non-zero score under the release directives."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# every part of the core (one concept a file), whatever it is called
PARTS = sorted(p.stem for p in (ROOT / "routing_core").glob("*.pyx"))


@pytest.mark.skipif(not (ROOT / "routing_core").is_dir(), reason="needs the source tree")
def test_core_has_no_python_interaction(tmp_path):
    pytest.importorskip("Cython")
    for d in ("bindings", "routing_core"):
        shutil.copytree(ROOT / d, tmp_path / d)
    cmd = [sys.executable, "-m", "cython", "-3", "-a", "-X", "cdivision=True",
           "-X", "boundscheck=False", "-X", "wraparound=False", "-I", "routing_core",
           "-I", "bindings", "bindings/_core.pyx", "-o", "bindings/_core.c"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    yellow = []
    assert PARTS, "no parts found in routing_core/"
    for part in PARTS:
        page = (tmp_path / "bindings" / f"{part}.html").read_text()
        rows = re.findall(r'<pre class="cython line score-(\d+)"[^>]*>\+?<span class="">(\d+)'
                          r'</span>: (.*?)</pre>', page, re.S)
        assert rows, f"no annotated lines found for {part}"
        yellow += [f"routing_core/{part}.pyx:{n}: {html.unescape(re.sub('<[^>]+>', '', c)).strip()}"
                   for score, n, c in rows if int(score) > 0]
    assert not yellow, "Python interaction in the core:\n" + "\n".join(yellow)
