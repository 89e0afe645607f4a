"""pyroute: decides in microseconds which operator gets each customer conversation.

Public names live here; the compiled core is ``pyroute._core`` and is never imported by
users. Importing pyroute without its compiled core fails loudly: there is no silent
fallback to pure Python (the pure-Python engine is ``pyroute.reference.Router``, on purpose).
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "pyroute's native core (pyroute._core) is not built: install pyroute with "
        "`pip install .` (needs a C compiler), not by putting src/ on sys.path"
    ) from exc

from .commands import (
    Accept, AddOperator, Advance, Ban, Cancel, Categorize, Command, Decline, Escalate, Transfer, Finish,
    Hold, ReleaseHold, RemoveOperator, SetGroups, SetLimit, SetStatus, Submit, Unban,
)
from .config import Channel, Group, Overflow, Relax, Retention, RouterConfig
from .errors import (
    BatchError, ConfigError, ConfigWarning, DuplicateId, InvalidArgument, InvalidState, RoutingError,
    StorageFull, TimeError, UnknownId,
)
from .events import (
    Accepted, Assigned, Cancelled, Event, Finished, Offered, OfferExpired, Overflowed, Queued,
    Rejected, RetentionDue, StatusChanged, TransferFailed, Transferred, Held, HoldEnded,
    HoldRefused,
)
from .router import Router
from .views import (
    BanView, Candidate, ChannelStats, Explanation, GroupStats, OperatorView, Outcomes,
    RequestView, Stats, TotalStats,
)

__version__ = "0.1.0"

__all__ = [
    "Router", "RouterConfig", "Channel", "Group", "Overflow", "Retention", "RetentionDue",
    "Relax", "Transferred", "TransferFailed", "Transfer", "Escalate",
    "Hold", "ReleaseHold", "Held", "HoldEnded", "HoldRefused",
    "Assigned", "Offered", "Accepted", "OfferExpired", "Queued", "Overflowed", "Finished", "Cancelled", "Rejected", "StatusChanged",
    "Event", "Command", "Submit", "Finish", "Cancel", "Accept", "Decline", "AddOperator", "RemoveOperator",
    "SetStatus", "SetGroups", "SetLimit", "Ban", "Unban", "Categorize", "Advance",
    "RoutingError", "UnknownId", "DuplicateId", "InvalidState", "ConfigError", "ConfigWarning",
    "InvalidArgument", "TimeError", "BatchError", "StorageFull",
    "OperatorView", "RequestView", "BanView", "Outcomes", "Stats", "ChannelStats", "GroupStats", "TotalStats",
    "Explanation", "Candidate",
]
