# Hand-written stub of pyroute._core (the compiled core). Users import pyroute instead.
from typing import Any, Callable, Iterable

from pyroute._api import Commands, Reads
from pyroute.commands import Command
from pyroute.config import RouterConfig
from pyroute.events import Event

DEBUG: bool

class Router(Commands, Reads):
    """The command methods and reads are declared once, in pyroute._api (Commands,
    Reads); tests/test_protocol.py checks them against the command table."""

    engine: str
    @property
    def config(self) -> RouterConfig: ...
    def __init__(self, config: RouterConfig | dict[str, Any], *,
                 clock: Callable[[], float] = ...) -> None: ...
    @classmethod
    def from_toml(cls, path: str, **kw: Any) -> "Router": ...
    def apply(self, cmd: Command) -> list[Event]: ...
    def apply_many(self, cmds: Iterable[Command]) -> list[Event]: ...
    def _state(self) -> dict[str, Any]: ...
    def _snapshot(self) -> bytes: ...
    @classmethod
    def _restore(cls, config: Any, data: bytes, explain: bool = False,
                 clock: Callable[[], float] = ...) -> "Router": ...
