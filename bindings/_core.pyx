# cython: freethreading_compatible = False
"""pyroute._core: the native engine and its Python boundary.

This is the only place where Python objects meet the core: id <-> handle maps, argument
checks, conversion of the core's event records into event Structs, and ``_raise_core``,
the one function that turns the core's error state into an exception. Users import
``pyroute``, never this module.

The module is one translation unit built from included parts: the core (routing_core/,
one concept a file), then the binding — checks.pyx (argument checks), fields.pyx (command
struct fields read from their slots, for apply_many), packing.pyx (packed records, for
apply_packed), router.pyx (the
Router class), lowering.pyx (config into engine arrays), convert.pyx (event records into
events), views.pyx and state.pyx (snapshots of the state for views and tests),
check.pyx (the core's self-check) and durability/snapshot.pyx (snapshot bytes).
"""

include "slab.pyx"
include "heapnodes.pyx"
include "heap.pyx"
include "reqqueue.pyx"
include "opslots.pyx"
include "timers.pyx"
include "engine.pyx"
include "events.pyx"
include "history.pyx"
include "ageheap.pyx"
include "capacity.pyx"
include "queueing.pyx"
include "eligibility.pyx"
include "walks.pyx"
include "reserve.pyx"
include "assign.pyx"
include "overflow.pyx"
include "fire.pyx"
include "requests.pyx"
include "operators.pyx"
include "offers.pyx"
include "holds.pyx"
include "ewt.pyx"

import time as _time_mod

from libc.math cimport isfinite, INFINITY
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

cdef enum:
    NAME_SLOTS = 64      # per kind (channels, groups) in Router's table of names seen

from pyroute import errors as _errors
from pyroute.errors import RoutingError, InvalidState, InvalidArgument, BatchError
from pyroute.config import (
    compile_config as _compile, RULE_REASONS as _REASONS, POLICIES as _POLICIES,
    MAX_LIMIT as _MAX_LIMIT, PRIORITY_LIMIT as _PRIORITY_LIMIT,
)
from pyroute._common import (
    rng_init as _rng_init, iterate_commands as _iterate, Bans as _Bans,
    Categories as _Categories, Switches as _Switches,
    check_channel_limits as _check_channel_limits, SkillTags as _SkillTags,
    check_levels as _check_levels, check_prefer_for as _check_prefer_for,
    check_kind as _check_kind, KINDS as _KINDS,
    check_visitor as _check_visitor, build_stats as _build_stats, exact_id as _exact_id,
    check_int as _check_int, check_groups as _check_groups, check_status as _check_status,
    REJECT_REASONS as _REJECT_REASONS, CANCEL_REASONS as _CANCEL_REASONS,
    channel_refused as _channel_refused,
    untold_assigned as _untold_assigned, untold_expiry as _untold_expiry, Live as _Live,
)
from pyroute._common import close_sum as _close_sum
from pyroute._common import (
    HOLD_REASONS as _HOLD_REASONS, check_hold_seconds as _check_hold_seconds,
)
from pyroute.events import (
    Assigned, Queued, Overflowed, Finished, Cancelled, Rejected, StatusChanged, RetentionDue,
    Offered, Accepted, OfferExpired, Transferred, TransferFailed, Held, HoldEnded,
    HoldRefused,
)
from pyroute.commands import (
    Submit, Finish, Cancel, AddOperator, RemoveOperator, SetStatus, SetGroups, SetLimit,
    Ban, Unban, Categorize, Accept, Decline, Advance, Transfer, Escalate, Hold as HoldCmd,
    ReleaseHold,
)
from pyroute.views import STATUSES as _STATUSES, OperatorView, RequestView

DEBUG = bool(PR_DEBUG)

cdef long PRIORITY_LIMIT = _PRIORITY_LIMIT      # compared in C on the hot path
cdef tuple STATUSES = _STATUSES
cdef dict STATUS_CODE = {name: i for i, name in enumerate(_STATUSES)}
cdef tuple REASONS = _REASONS
cdef tuple REJECT_REASONS = _REJECT_REASONS
cdef tuple CANCEL_REASONS = _CANCEL_REASONS
cdef tuple XFER_REASONS = ("timeout", "unavailable", "busy", "withdrawn")   # offers.pyx XFER_*
cdef tuple STATE_NAMES = ("queued", "offered", "active", "finished", "cancelled", "rejected")


include "checks.pyx"
include "fields.pyx"
include "building.pyx"
include "router.pyx"
include "lowering.pyx"
include "convert.pyx"
include "packing.pyx"
include "views.pyx"
include "state.pyx"
include "check.pyx"
include "durability/snapshot.pyx"
