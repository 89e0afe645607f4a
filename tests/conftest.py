"""Fixtures shared by the suite.

``engine`` runs a test once per engine: the native ``pyroute.Router`` and the pure-Python
``pyroute.reference.Router``, so the reference can never drift from the native engine
silently. ``make`` builds a router of that engine whose every mutating call is followed by
``check()`` (the engine's own consistency check).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import pyroute as pr
from pyroute import reference
from pyroute.protocol import MUTATING

settings.register_profile(
    "ci", max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile(
    "dev", max_examples=300, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

ENGINES = {"native": pr.Router, "reference": reference.Router}

# every call that changes state, from the command table (so it cannot drift from it)
MUTATORS = MUTATING


class Checked:
    """Wraps a router: every mutating call is followed by ``check()``."""

    def __init__(self, router) -> None:
        self.router = router

    def __getattr__(self, name):
        attr = getattr(self.router, name)
        if name in MUTATORS:
            def call(*a, **kw):
                try:
                    return attr(*a, **kw)
                finally:
                    self.router.check()
            return call
        return attr


@pytest.fixture(params=sorted(ENGINES))
def engine(request):
    """The Router class under test: native and reference in turn."""
    return ENGINES[request.param]


@pytest.fixture
def make(engine):
    """``make(config)`` -> a checked router of the engine under test."""
    def factory(config, **kw):
        return Checked(engine(config, **kw))
    return factory


def cfg(*groups, channels=None, **kw) -> pr.RouterConfig:
    """A small config: channels ``web`` (priority 10) and ``email`` unless given."""
    if channels is None:
        channels = [pr.Channel("web", priority=10, target_wait=30.0),
                    pr.Channel("email", priority=0, target_wait=3600.0)]
    if not groups:
        groups = (pr.Group("support"),)
    return pr.RouterConfig(channels=channels, groups=list(groups), **kw)
