# cython: freethreading_compatible = False
"""pyroute._durable: the native parts of pyroute.journal that need nothing of the routing
engine — the group-commit thread (``Syncer``) and the framing of journal records into the
journal's memory mapping (``JournalLog``, ``crc32``), and the Redis workers' batch
framing (``str_array``). The engine's own snapshot code needs
its internals and is compiled into pyroute._core (``snapshot.pyx`` here, included there).
"""

from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.string cimport memcpy

include "syncer.pyx"
include "journal_log.pyx"
include "strarray.pyx"
include "entries.pyx"
