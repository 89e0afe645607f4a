"""A real redis-server on a free loopback port, for the tests that need one: the
benchmark's own (``pyroute.bench.redisbench.redis_server``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ContextManager

from pyroute.cli import _bench

SERVER = shutil.which("redis-server")
_bench()                        # installed, or the repository's bench/ under that name
from pyroute.bench.redisbench import _port as free_port  # noqa: E402
from pyroute.bench.redisbench import redis_server as _redis_server  # noqa: E402


def redis_server(directory: Path) -> ContextManager[str]:
    """Start redis-server (no persistence) and yield its URL once it answers; stop it
    after, whatever happened."""
    assert SERVER is not None, "redis-server is not installed"
    return _redis_server(SERVER, str(directory))


__all__ = ["SERVER", "free_port", "redis_server"]
