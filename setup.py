"""Build the native core as the extension module ``pyroute._core``, the journal's native
helpers as ``pyroute._durable``, and the simulator's compiled event loop as
``pyroute.sim._loop``.

``bindings/_core.pyx`` includes the parts under ``routing_core/`` (one concept a file,
each with a ``.pxd`` twin), so the whole core is a single translation unit and the C
compiler can inline across parts.

Set ``PYROUTE_DEBUG=1`` to build with Cython bounds checks, the core's own assertions
(``PR_ASSERT``) and a self-check after every mutating call; CI runs the test suite on
both builds.
"""

import os
import shutil

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

DEBUG = os.environ.get("PYROUTE_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}
macros = [("PYROUTE_DEBUG", "1")] if DEBUG else [("NDEBUG", "1")]
cflags = ["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O3"]


#: the hand-written stubs of the extensions (bindings/ owns them), by installed name
STUBS = {"_core.pyi": "bindings/_core.pyi", "_durable.pyi": "bindings/durability/_durable.pyi"}


class BuildPyWithStub(build_py):
    """Ship the hand-written stubs of the extensions next to them."""

    def run(self):
        super().run()
        for name, source in STUBS.items():
            target = os.path.join(self.build_lib, "pyroute", name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)


# Cython looks for the module's .pxd twin under its qualified name; compiling it as "_core"
# lets it find bindings/_core.pxd beside the .pyx. The init symbol (PyInit__core) is the
# same either way, and the built module is installed as pyroute._core below.
ext = Extension(
    "_core",
    ["bindings/_core.pyx"],
    include_dirs=["routing_core", "bindings"],
    define_macros=macros,
    extra_compile_args=cflags,
)

# The journal's native helpers (group-commit thread, record framing): no engine inside, so
# they are their own module rather than part of the routing binding.
durable = Extension(
    "pyroute._durable",
    ["bindings/durability/_durable.pyx"],
    define_macros=macros,
    extra_compile_args=cflags,
)

# The simulator's event loop (pyroute.sim._loop): compiled so that a run's cost is the
# Router's calls, not the loop's bookkeeping. It holds no routing logic; its event heap is
# the core's generic heap (routing_core/heap.pyx, found on the include path).
sim_loop = Extension(
    "pyroute.sim._loop",
    ["src/pyroute/sim/_loop.pyx"],   # includes routing_core/heap.pyx
    define_macros=macros,
    extra_compile_args=cflags,
)

ext_modules = cythonize(
    [ext, durable, sim_loop],
    compiler_directives=directives,
    include_path=["routing_core", "bindings"],
    force=True,
)
ext_modules[0].name = "pyroute._core"

setup(
    ext_modules=ext_modules,
    cmdclass={"build_py": BuildPyWithStub},
)
