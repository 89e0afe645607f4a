"""Misuse that mypy must flag (tests/test_protocol.py): each line ending in "# error"."""

from __future__ import annotations

import pyroute as pr
from pyroute.redis import Client

cfg = pr.RouterConfig(channels=(pr.Channel("web"),), groups=(pr.Group("g"),))
r = pr.Router(cfg)
r.submit("c1", 5, "g")  # error
r.finish("c1", nope=1.0)  # error

d = pr.Router.open("/tmp/pyroute-typing-example", cfg)
d.submit("c1", "web")  # error
d.set_limit("a", "three")  # error
n: int = d.finish("c1")  # error
d.categorize("c1", "billing", now=1.0)

client = Client("redis://localhost:6379/0")
client.submit("c1", "web", "g", priority="high")  # error
client.finish("acme", "c1", 1.0, 2.0)  # error
client.advance("acme")
