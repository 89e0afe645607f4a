"""pyroute on Redis Streams: sharded workers with leases and failover, and a client.

Tenants (each with its own RouterConfig) are spread over ``shards`` by a hash of their
name. Per shard, in one Redis Cluster hash slot (``{pyroute:N}``):

* ``{pyroute:N}:commands`` — a stream; clients append ``cid`` (a unique command id),
  ``tenant`` and ``cmd`` (the command, MessagePack, the wire format of
  ``pyroute.wire``);
* ``{pyroute:N}:events`` — a stream; the worker appends, for each command in order,
  ``cid``, ``entry`` (the command's stream entry id), ``tenant`` and ``events``
  (MessagePack list) or ``error`` (``Kind: message``);
* ``{pyroute:N}:lease`` — the worker that owns the shard (``SET NX PX``, renewed); every
  write of a worker is fenced by it (a Lua script checks the lease first), so a worker
  that lost its shard cannot write;
* ``{pyroute:N}:snapshot`` — a hash: ``entry`` (the last command applied) and ``state``
  (each tenant's router snapshot).

A worker that takes a shard over restores the snapshot, replays the commands after it
without emitting again what the events stream already holds (commands are deterministic,
so the replay reproduces exactly those events), then goes on. See docs/scaling.md.
"""

from .client import Client, shard_of
from .worker import Worker, load_tenants

__all__ = ["Client", "Worker", "shard_of", "load_tenants"]
