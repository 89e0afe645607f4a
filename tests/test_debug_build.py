"""The core built with bounds checks, PR_ASSERT assertions and a self-check after every
call (``PYROUTE_DEBUG=1``) passes the differential, invariant and bad-input tests.

The debug extension is built from the source tree into a temporary directory next to a
copy of the Python package, and the tests run there in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["test_differential.py", "test_invariants.py", "test_bad_input.py",
          "test_package.py", "test_journal.py", "test_packed.py"]


@pytest.mark.skipif(not (ROOT / "setup.py").exists(), reason="needs the source tree")
def test_debug_build_passes_core_suites(tmp_path):
    env = dict(os.environ, PYROUTE_DEBUG="1")
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "tmp")],
        cwd=ROOT, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    pkg = tmp_path / "lib" / "pyroute"
    # the Python package beside the debug extensions, subpackages included (never the
    # tree's own compiled modules)
    shutil.copytree(ROOT / "src" / "pyroute", pkg, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.so", "*.c", "*.html", "__pycache__"))
    suites = [str(ROOT / "tests" / s) for s in SUITES if (ROOT / "tests" / s).exists()]
    assert suites, "no core suites found"
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "lib"), PYROUTE_EXPECT_DEBUG="1",
               HYPOTHESIS_PROFILE="ci")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), *suites],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
