"""The shapes of Chatwoot's conversations that the webhook side
(pyroute.integrations.chatwoot) and the reconciler (chatwoot_reconcile) both read, and
pyroute's ids of Chatwoot conversations."""

from __future__ import annotations

from typing import Any, Optional

import msgspec


class CwRef(msgspec.Struct):
    id: Optional[int] = None
    email: Optional[str] = None


class CwMeta(msgspec.Struct):
    assignee: Optional[CwRef] = None
    team: Optional[CwRef] = None


def display_of(request: Any) -> Optional[int]:
    """The Chatwoot display id of a pyroute conversation id, None if not Chatwoot's."""
    if not isinstance(request, str) or not request.startswith("cw-"):
        return None
    head = request[3:].partition("#")[0]
    return int(head) if head.isdigit() else None
