"""What the reconcilers of the integrations share: a task that reads the platform every
``every`` seconds and never dies of a failed read, and the way a correction is applied
(through the service's writer, worked out again at the moment it applies, refused
corrections logged and skipped). The platform modules say what is read and what is
corrected: rocketchat_reconcile.py, chatwoot_reconcile.py."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Callable, Optional


class ReadError(Exception):
    """A read of the platform that failed: nothing is applied from it."""


class Periodic:
    """The lifecycle and counters of a reconciler. Subclasses set ``label`` (for log
    lines), ``log`` and ``every`` (seconds) and define ``run_once``."""

    label = "reconciler"
    platform = "the platform"
    log = logging.getLogger("pyroute")

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.task: Optional[asyncio.Task] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.runs = 0
        self.done = 0           # runs of the loop that have ended (tests wait on it)
        self.failures = 0
        self.last_error: Optional[str] = None
        self.corrections: Counter = Counter()

    @property
    def every(self) -> float:
        raise NotImplementedError

    async def run_once(self) -> Optional[int]:
        raise NotImplementedError

    def start(self) -> None:
        """Start reading on the running event loop (the service's): the first read now."""
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:       # never let the loop die: the next interval retries
                self.log.exception("%s: %s", self.label, e)
            self.done += 1
            await asyncio.sleep(self.every)

    def read_failed(self, e: Exception) -> None:
        self.failures += 1
        self.last_error = str(e)
        self.log.warning("%s: reading %s failed, nothing corrected; retrying in %g s: "
                         "%s", self.label, self.platform, self.every, e)

    async def correct(self, fix: Callable[[], list], fixed: list, what: str) -> int:
        """Apply the commands ``fix()`` returns (called by the writer, from the state they
        apply to); ``fix`` names what it corrects in ``fixed``. Returns how many
        corrections were applied (counted by kind, logged); a refused one is logged and
        counts none. ``fixed`` is cleared."""
        from ..service.http import HTTPError, Refused
        try:
            try:
                events = await self.svc.apply(fix)
            except Refused as e:
                self.log.info("%s: %s refused: %s", self.label, what, e.error)
                return 0
            except HTTPError as e:
                self.log.warning("%s: %s not applied: %s", self.label, what, e)
                return 0
            if not (events or fixed):
                return 0
            for kind in fixed:
                self.corrections[kind] += 1
            if fixed:
                self.log.info("%s: %s: %s", self.label, what, ", ".join(fixed))
            return len(fixed)
        finally:
            fixed.clear()
