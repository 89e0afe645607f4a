"""Typed use of pyroute's public API, checked by mypy (tests/test_protocol.py): the native
router, the durable router's and the Redis client's generated methods, events and views."""

from __future__ import annotations

from typing import Optional

import pyroute as pr
from pyroute.redis import Client

cfg = pr.RouterConfig(channels=(pr.Channel("web"),), groups=(pr.Group("g"),))

r = pr.Router(cfg)
events: list[pr.Event] = r.add_operator("a", ["g"], 2, status="online", now=0.0)
events += r.submit("c1", "web", "g", now=1.0)
for ev in events:
    if isinstance(ev, pr.Assigned):
        who: pr.events.Id = ev.operator
events += r.apply_many([pr.Finish(request="c1", now=2.0), pr.Advance(now=3.0)])
view: pr.OperatorView = r.operator("a")
stats: pr.Stats = r.stats(now=3.0)
picked: Optional[pr.events.Id] = r.pick("g", "web")

d = pr.Router.open("/tmp/pyroute-typing-example", cfg)
more: list[pr.Event] = d.submit("c2", "web", "g", now=4.0)
more += d.transfer("c2", group="g", now=5.0)
more += d.apply(pr.Cancel(request="c2", now=6.0))
waiting: list[pr.events.Id] = d.queue("g")
d.close()

client = Client("redis://localhost:6379/0")
got: list[pr.Event] = client.submit("acme", "c3", "web", "g", now=7.0)
got += client.set_status("acme", "a", "away")
