"""The Chatwoot reconciler: reads Chatwoot's open conversations with their assignee on an
interval and corrects what the webhooks did not carry. Chatwoot never re-sends an account
webhook that failed (lib/webhooks/trigger.rb), so without it a conversation resolved
while pyroute was unreachable would hold its agent's slot for ever. See
docs/integrations/chatwoot.md ("Reconciler").

Endpoints, from Chatwoot's source (chatwoot/chatwoot):

* ``GET /api/v1/accounts/{account}/conversations?status=open&assignee_type=all&page=N``
  — app/controllers/api/v1/accounts/conversations_controller.rb (``index``) with
  app/finders/conversation_finder.rb (``status`` filter, default ``open``;
  ``assignee_type`` ``all``; pages of ``CONVERSATION_RESULTS_PER_PAGE``, 25 by default,
  latest activity first) and app/views/api/v1/accounts/conversations/index.json.jbuilder:
  ``{"data": {"meta": {"all_count": …, …}, "payload": [conversation, …]}}``, each
  conversation the partial api/v1/conversations/partials/_conversation.json.jbuilder
  (``id`` the display id, ``inbox_id``, ``status``, ``priority``, ``meta.assignee``,
  ``meta.team``, ``updated_at``). The list covers the inboxes of the token's user: an
  administrator's token sees them all.
* ``GET /api/v1/accounts/{account}/conversations/{display_id}`` (``show``, the same
  partial; 404 when the conversation is gone) — asked for each conversation pyroute holds
  that the list did not show, before it is ended: pages are ordered by activity, so a
  conversation can move between two pages while they are read.

A read that fails is a log line and a retry at the next interval: nothing is applied from
it. Each correction is worked out again by the service's writer when it applies, and a
conversation that a webhook or a delivery touched after the read began is left alone (it
is newer than the read).
"""

from __future__ import annotations

import logging
import time as _time
from typing import Any, Optional

import msgspec

from .. import errors
from ..commands import Cancel, Finish, Submit, Transfer
from .chatwoot_model import CwMeta, CwRef, display_of
from .reconcile import Periodic, ReadError

log = logging.getLogger("pyroute.chatwoot")

MAX_PAGES = 10_000  # a count that keeps growing cannot make a read endless


class ApiConversation(msgspec.Struct):
    """A conversation as Chatwoot's API answers it (the fields used here)."""

    id: int
    inbox_id: Optional[int] = None
    status: Optional[str] = None
    priority: Optional[str] = None
    meta: Optional[CwMeta] = None
    updated_at: Optional[float] = None

    @property
    def assignee(self) -> Optional[int]:
        return self.meta.assignee.id if self.meta and self.meta.assignee else None

    @property
    def team(self) -> Optional[int]:
        return self.meta.team.id if self.meta and self.meta.team else None


class _Meta(msgspec.Struct):
    all_count: Optional[int] = None


class _Data(msgspec.Struct):
    payload: list[ApiConversation]
    meta: _Meta = msgspec.field(default_factory=_Meta)


class _Page(msgspec.Struct):
    data: _Data


#: the pyroute conversation of a Chatwoot conversation that is gone (404)
GONE = None


class Reconciler(Periodic):
    """Reads Chatwoot every ``reconcile_every`` seconds through the integration's client
    and corrects drift in pyroute (and, through the delivery task, in Chatwoot)."""

    label = "chatwoot reconciler"
    platform = "Chatwoot"
    log = log

    def __init__(self, cw: Any) -> None:
        # cw: the Chatwoot integration (pyroute.integrations.chatwoot), which makes its
        # reconciler: this module does not import it back
        super().__init__(cw.svc)
        self.cw = cw
        self.open_in_chatwoot = 0

    @property
    def every(self) -> float:
        return self.cw.cfg.reconcile_every

    def status(self) -> dict:
        return {"runs": self.runs, "failures": self.failures, "last_error": self.last_error,
                "corrections": dict(self.corrections),
                "open_in_chatwoot": self.open_in_chatwoot}

    # ------------------------------------------------------------------ reading
    async def _get(self, path: str, params: Optional[dict] = None) -> Any:
        import httpx2
        cw = self.cw
        try:
            r = await cw._client.get(cw._api(path), params=params, headers=cw._headers())
        except httpx2.HTTPError as e:
            raise ReadError(f"GET {path}: {type(e).__name__}: {e}") from None
        return r

    async def read(self) -> dict[int, ApiConversation]:
        """Chatwoot's open conversations by display id, every page."""
        out: dict[int, ApiConversation] = {}
        decoder = msgspec.json.Decoder(_Page)
        for page in range(1, MAX_PAGES + 1):
            r = await self._get("conversations", {"status": "open", "assignee_type": "all",
                                                  "page": page})
            if r.status_code != 200:
                hint = {401: " (check api_access_token)"}.get(r.status_code, "")
                raise ReadError(f"GET conversations: HTTP {r.status_code}{hint}: "
                                f"{r.text[:200]}")
            try:
                data = decoder.decode(r.content).data
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise ReadError(f"GET conversations: not what Chatwoot answers: {e}") from None
            for c in data.payload:
                out[c.id] = c
            total = data.meta.all_count
            if not data.payload or (total is not None and len(out) >= total):
                return out
        raise ReadError(f"GET conversations: more than {MAX_PAGES} pages")

    async def show(self, display: int) -> Optional[ApiConversation]:
        """One conversation (None: Chatwoot has it no more)."""
        r = await self._get(f"conversations/{display}")
        if r.status_code == 404:
            return GONE
        if r.status_code != 200:
            raise ReadError(f"GET conversations/{display}: HTTP {r.status_code}: "
                            f"{r.text[:200]}")
        try:
            return msgspec.json.decode(r.content, type=ApiConversation)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ReadError(f"GET conversations/{display}: not what Chatwoot answers: "
                            f"{e}") from None

    def held(self) -> set[int]:
        """The Chatwoot conversations pyroute has live: held by one of Chatwoot's agents
        (every operator the integration added) or waiting."""
        router = self.cw.svc.router
        ids: list = []
        for op in self.cw.agents_seen:
            try:
                ids.extend(router.operator(op).active)
            except (errors.UnknownId, errors.InvalidArgument):
                continue
        for g in router.config.groups:
            ids.extend(router.queue(g.name))
        return {d for d in map(display_of, ids) if d is not None}

    # ------------------------------------------------------------------ correcting
    async def run_once(self) -> Optional[int]:
        """One read and its corrections: how many were applied, or None when the read
        failed (logged; nothing applied)."""
        started = _time.monotonic()
        self.runs += 1
        cw = self.cw
        try:
            listed = await self.read()
            routed = {d: c for d, c in listed.items() if cw.channel_of(c.inbox_id)}
            confirm: dict[int, Optional[ApiConversation]] = {}
            for d in sorted(self.held() - set(routed)):
                confirm[d] = await self.show(d)
        except ReadError as e:
            self.read_failed(e)
            return None
        self.last_error = None
        self.open_in_chatwoot = len(routed)
        applied = 0
        fixed: list[str] = []
        seen = {**routed, **confirm}
        for d in sorted(seen):
            applied += await self.correct(
                lambda d=d: self._fix(d, seen[d], started, fixed), fixed,
                f"conversation {d}")
        # Chatwoot shows another holder than pyroute's (an assignment it lost, a
        # conversation pyroute holds back): the delivery task posts pyroute's view
        for d in sorted(seen):
            cw.schedule(d)
        return applied

    def _fix(self, d: int, c: Optional[ApiConversation], started: float,
             fixed: list) -> list:
        cw = self.cw
        if cw.touched.get(d, 0.0) > started:
            return []           # a webhook or delivery since the read is newer than it
        view, ident, fresh, k = cw.current(d)
        live = view is not None and view.state in ("queued", "offered", "active")
        if c is GONE or c.status in ("resolved", "pending"):
            # resolved with its webhook lost, deleted, or given back to a bot
            cw.chatwoot_has.pop(d, None)
            if not live:
                return []
            fixed.append(f"released ({'gone' if c is GONE else c.status} in Chatwoot)")
            return [Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
        if c.status != "open":
            return []           # snoozed: its agent keeps it and its slot
        channel = cw.channel_of(c.inbox_id)
        if channel is None:
            return []
        cw.chatwoot_has[d] = c.assignee     # what Chatwoot shows, as of the read
        group, known = cw.group_of(c.team)
        if not live:
            cw.teams_seen[d] = c.team
            if not known:
                return cw._ignore(f"conversation {d}: team {c.team} is not in "
                                  f"chatwoot.teams and there is no default_group",
                                  "unknown_team")
            assignee = CwRef(id=c.assignee) if c.assignee is not None else None
            who = cw._operator(assignee)
            if c.assignee is not None and c.assignee not in cw.agents_seen:
                return []       # someone pyroute does not route holds it
            fixed.append("submitted (open in Chatwoot, not in pyroute)")
            return [Submit(request=fresh, channel=channel, group=group,
                           priority=cw.priority_of(c.priority), prefer=who,
                           prefer_for=cw.cfg.prefer_for if who else 0.0)]
        # a team changed in Chatwoot since pyroute last saw the conversation moves it;
        # otherwise its group is pyroute's (a transfer to an agent may have changed it)
        last_team = cw.teams_seen.get(d, c.team)
        cw.teams_seen[d] = c.team
        if last_team == c.team or not known:
            group = view.group
        if view.state == "queued":
            redo = cw.reprioritise(view, ident, fresh, cw.priority_of(c.priority), group)
            if redo:
                fixed.append(f"priority {view.priority} -> {redo[0].priority}")
                return redo
        if group != view.group:
            fixed.append(f"moved to group {group!r} (its team in Chatwoot)")
            return [Transfer(request=ident, group=group)]
        holder = view.operator if view.state == "active" else None
        if d in cw.due:
            return []           # pyroute's own post is on its way: Chatwoot will show it
        if c.assignee is None:
            if holder is not None:
                # Chatwoot shows nobody for a conversation an agent holds in pyroute: an
                # assignment Chatwoot lost; posted again (below), nothing to apply here
                fixed.append(f"assignment to {holder!r} posted again")
            return []
        if c.assignee == holder:
            return []
        follow = cw.follow(view, ident, CwRef(id=c.assignee))
        if follow is None:
            return []
        fixed.append(f"given to {c.assignee!r} by hand in Chatwoot" if isinstance(
            follow[0], Transfer) else "taken outside pyroute in Chatwoot")
        return follow
