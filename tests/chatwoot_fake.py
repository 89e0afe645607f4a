"""A contract fake of Chatwoot, built from Chatwoot's source (chatwoot/chatwoot), for the
tests of pyroute.integrations.chatwoot.

What it does as Chatwoot does, and where that was read:

* Account webhooks (app/listeners/webhook_listener.rb): ``conversation_created``,
  ``conversation_status_changed`` and ``conversation_updated`` carry the conversation's
  ``webhook_data`` merged with ``event`` (and ``changed_attributes`` for the last two);
  ``message_created`` carries the message's. ``changed_attributes`` is a list of
  ``{attr: {"previous_value": a, "current_value": b}}`` (app/listeners/base_listener.rb,
  ``extract_changed_attributes``). A status change sends both status_changed and updated,
  an assignee or team change sends updated (app/models/conversation.rb, ``list_of_keys``
  and ``notify_status_change``).
* The conversation payload (app/presenters/conversations/event_data_presenter.rb,
  ``push_data``): ``id`` is the display id, ``inbox_id``, ``status``, ``priority``,
  ``meta.assignee`` (the agent's push_event_data: id, name, availability_status...),
  ``meta.team`` (id, name), ``messages`` (only the last one), timestamps with
  ``updated_at`` as a float.
* Delivery (lib/webhooks/trigger.rb): POST with JSON, headers ``X-Chatwoot-Delivery`` (a
  UUID), and when the webhook has a secret ``X-Chatwoot-Timestamp`` (unix seconds) and
  ``X-Chatwoot-Signature`` = ``sha256=`` + HMAC-SHA256(secret, "{timestamp}.{body}"); a
  5 s timeout; for an account webhook any failure (non-2xx, timeout) is logged and
  dropped, never retried (only agent-bot webhooks raise on 429/500 to be retried). The
  webhooks are sent by background jobs after the change (WebhookJob), so they reach
  pyroute after the API call that caused them has returned: they wait in ``outbox``
  until ``flush``.
* The assignments API (app/controllers/api/v1/accounts/conversations/
  assignments_controller.rb, base_controller.rb): ``POST /api/v1/accounts/{account}/
  conversations/{display_id}/assignments`` with ``{"assignee_id": id}``, the conversation
  found by display id (404 otherwise), the token in the ``api_access_token`` header (401
  without); answers the agent (app/views/api/v1/models/_agent.json.jbuilder).
* ``GET /api/v1/accounts/{account}/agents``: a JSON array of agents with
  ``availability_status``; ``GET /api/v1/accounts/{account}/inboxes``: ``{"payload":
  [...]}`` with ``enable_auto_assignment`` (_inbox.json.jbuilder).
* The conversations API (app/controllers/api/v1/accounts/conversations_controller.rb,
  app/finders/conversation_finder.rb, app/views/api/v1/accounts/conversations/
  index.json.jbuilder): ``GET .../conversations?status=open&assignee_type=all&page=N``
  answers ``{"data": {"meta": {"all_count", ...}, "payload": [...]}}`` in pages of
  ``PER_PAGE`` (``CONVERSATION_RESULTS_PER_PAGE``, 25), latest activity first, so a
  conversation that changes while the pages are read can move from one page to another;
  ``GET .../conversations/{display_id}`` answers one (404 when there is none).
* Priorities (app/models/conversation.rb, ``toggle_priority`` and ``list_of_keys``): one
  of urgent, high, medium, low or none; a change sends ``conversation_updated`` with
  ``priority`` in ``changed_attributes``.

Drift, for the reconciler's tests: ``drop_webhooks`` loses what is queued (pyroute was
unreachable: Chatwoot does not send it again), ``forget_assignment`` clears an assignee
without any webhook (an assignment Chatwoot lost), and ``human_assign(..., webhook=False)``
a hand change whose webhook was lost.

It records, from Chatwoot's side, who holds each conversation and the most any agent
ever held at once, and can be made to fail (connection refused, or an HTTP status) for a
while.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from typing import Any, Callable, Optional

import httpx2

#: seconds Chatwoot waits for a webhook's answer (lib/webhooks/trigger.rb, WEBHOOK_TIMEOUT)
WEBHOOK_TIMEOUT = 5.0
#: conversations per page of the list (CONVERSATION_RESULTS_PER_PAGE's default)
PER_PAGE = 25
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeChatwoot:
    def __init__(self, *, account_id: int = 1, token: str = "cw-token",
                 secret: Optional[str] = "hook-secret", clock: Callable[[], float]) -> None:
        self.account_id = account_id
        self.token = token
        self.secret = secret
        self.clock = clock
        self.lock = threading.RLock()
        self.agents: dict[int, dict] = {}
        self.limits: dict[int, int] = {}       # what the test expects pyroute to keep
        self.inboxes: dict[int, dict] = {}
        self.teams: dict[int, str] = {}
        self.conversations: dict[int, dict] = {}
        self.next_display = 1
        self.outbox: list[tuple[bytes, dict]] = []
        self.dropped: list[tuple[int, dict]] = []   # webhooks pyroute did not take (2xx)
        self.api_calls: list[tuple[str, str, int]] = []
        self.reassigned_by_api = 0      # an API call that moved a held conversation
        self.api_overruns = 0           # an API call that put an agent over its limit
        self.overruns: list[tuple[int, int]] = []   # (conversation, agent) of each
        self.reassignments: list[tuple[int, Any, Any]] = []
        self.history: list[tuple] = []  # (display, {attr: (before, after)}, outbox size)
        self.max_held: dict[int, int] = {}
        self.down = False               # connections refused
        self.fail_status: Optional[int] = None   # every call answered with this status
        #: called after each page of the conversations list is answered (a test moves
        #: conversations between pages with it)
        self.between_pages: Optional[Callable[[int], None]] = None
        self.app = Starlette(routes=[
            Route("/api/v1/accounts/{account:int}/conversations/{display:int}/assignments",
                  self._assign, methods=["POST"]),
            Route("/api/v1/accounts/{account:int}/agents", self._agents, methods=["GET"]),
            Route("/api/v1/accounts/{account:int}/conversations", self._list,
                  methods=["GET"]),
            Route("/api/v1/accounts/{account:int}/conversations/{display:int}", self._show,
                  methods=["GET"]),
            Route("/api/v1/accounts/{account:int}/inboxes", self._inboxes, methods=["GET"]),
        ])
        self.transport = _Transport(self)

    # ------------------------------------------------------------------ set-up
    def add_agent(self, agent_id: int, name: str, *, limit: int,
                  status: str = "online") -> None:
        self.agents[agent_id] = {"id": agent_id, "name": name, "available_name": name,
                                 "email": f"{name.lower()}@example.com",
                                 "availability_status": status, "auto_offline": True,
                                 "confirmed": True, "active": True, "provider": "email",
                                 "role": "agent", "thumbnail": "", "account_id": self.account_id}
        self.limits[agent_id] = limit

    def add_inbox(self, inbox_id: int, name: str, auto_assignment: bool = False) -> None:
        self.inboxes[inbox_id] = {"id": inbox_id, "name": name, "channel_id": inbox_id,
                                  "channel_type": "Channel::WebWidget",
                                  "enable_auto_assignment": auto_assignment,
                                  "auto_assignment_config": {}}

    # ------------------------------------------------------------------ Chatwoot's views
    def held(self, agent_id: int) -> int:
        """Conversations the agent holds in Chatwoot (assigned and not resolved)."""
        return sum(1 for c in self.conversations.values()
                   if c["assignee_id"] == agent_id and c["status"] != "resolved")

    def _note_held(self) -> None:
        for a in self.agents:
            self.max_held[a] = max(self.max_held.get(a, 0), self.held(a))

    def payload(self, display: int, event: str, changed: Optional[dict] = None) -> dict:
        c = self.conversations[display]
        assignee = self.agents.get(c["assignee_id"]) if c["assignee_id"] else None
        team = ({"id": c["team_id"], "name": self.teams.get(c["team_id"], "team")}
                if c["team_id"] else None)
        last = c["messages"][-1:] if c["messages"] else []
        out = {
            "additional_attributes": {}, "can_reply": True,
            "channel": self.inboxes[c["inbox_id"]]["channel_type"],
            "contact_inbox": {"id": display, "source_id": str(uuid.uuid4())},
            "id": display, "inbox_id": c["inbox_id"], "messages": last, "labels": [],
            "meta": {"sender": {"id": 100 + display, "name": f"Customer {display}",
                                "type": "contact"},
                     "assignee": None if assignee is None else {
                         "id": assignee["id"], "name": assignee["name"],
                         "avatar_url": "", "type": "user",
                         "availability_status": assignee["availability_status"]},
                     "assignee_type": "User" if assignee else None,
                     "team": team, "hmac_verified": False},
            "status": c["status"], "custom_attributes": {}, "snoozed_until": None,
            "unread_count": 1, "first_reply_created_at": None, "priority": c["priority"],
            "waiting_since": int(c["created_at"]), "agent_last_seen_at": 0,
            "contact_last_seen_at": 0, "last_activity_at": int(c["updated_at"]),
            "timestamp": int(c["updated_at"]), "created_at": int(c["created_at"]),
            "updated_at": c["updated_at"], "event": event,
        }
        if changed is not None:
            out["changed_attributes"] = [{k: {"previous_value": a, "current_value": b}}
                                         for k, (a, b) in changed.items()]
        return out

    def _message_payload(self, display: int, content: str) -> dict:
        c = self.conversations[display]
        return {"account": {"id": self.account_id, "name": "Acme"},
                "additional_attributes": {}, "content_attributes": {},
                "content_type": "text", "content": content,
                "conversation": self.payload(display, "message_created"),
                "created_at": int(self.clock()), "id": len(c["messages"]) + 1000 * display,
                "inbox": {"id": c["inbox_id"], "name": self.inboxes[c["inbox_id"]]["name"]},
                "message_type": "incoming", "private": False,
                "sender": {"id": 100 + display, "name": f"Customer {display}",
                           "type": "contact"},
                "source_id": None, "event": "message_created"}

    def _queue(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "X-Chatwoot-Delivery": str(uuid.uuid4())}
        if self.secret:
            ts = str(int(self.clock()))
            headers["X-Chatwoot-Timestamp"] = ts
            headers["X-Chatwoot-Signature"] = "sha256=" + hmac.new(
                self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        self.outbox.append((body, headers))

    def _touch(self, display: int) -> None:
        c = self.conversations[display]
        c["updated_at"] = max(self.clock(), c["updated_at"] + 0.001)

    def _change(self, display: int, **attrs: Any) -> None:
        """Chatwoot saving the conversation: the webhooks its change sends."""
        c = self.conversations[display]
        changed = {k: (c[k], v) for k, v in attrs.items() if c[k] != v}
        if not changed:
            return
        for k, v in attrs.items():
            c[k] = v
        self.history.append((display, changed, len(self.outbox)))
        if "status" in changed and c["status"] == "open":
            c["held_since_open"] = False        # reopened: the old assignee stays on it
        if "assignee_id" in changed:
            c["held_since_open"] = c["assignee_id"] is not None
        self._touch(display)
        if "status" in changed:
            self._queue(self.payload(display, "conversation_status_changed", changed))
        self._queue(self.payload(display, "conversation_updated", changed))
        self._note_held()

    # ------------------------------------------------------------------ a day's actions
    def open_conversation(self, inbox_id: int, team_id: Optional[int] = None,
                          priority: Optional[str] = None) -> int:
        """A customer writes in: the conversation, then its first message."""
        with self.lock:
            display = self.next_display
            self.next_display += 1
            now = self.clock()
            self.conversations[display] = {
                "inbox_id": inbox_id, "status": "open", "assignee_id": None,
                "team_id": team_id, "priority": priority, "created_at": now,
                "updated_at": now, "messages": []}
            self._queue(self.payload(display, "conversation_created"))
            self.customer_writes(display, "Hello, I need help")
            return display

    def customer_writes(self, display: int, content: str = "Are you there?") -> None:
        """A message from the customer; on a resolved conversation Chatwoot reopens it."""
        with self.lock:
            c = self.conversations[display]
            c["messages"].append({"content": content, "message_type": 0})
            self._queue(self._message_payload(display, content))
            if c["status"] == "resolved":
                self._change(display, status="open")

    def resolve(self, display: int) -> None:
        with self.lock:
            self._change(display, status="resolved")

    def snooze(self, display: int) -> None:
        with self.lock:
            self._change(display, status="snoozed")

    def human_assign(self, display: int, agent_id: Optional[int], *,
                     webhook: bool = True) -> None:
        """A supervisor picks the assignee in Chatwoot's UI (None: unassigns);
        ``webhook=False``: its webhooks are lost."""
        with self.lock:
            kept = len(self.outbox)
            self._change(display, assignee_id=agent_id)
            if not webhook:
                del self.outbox[kept:]

    def set_team(self, display: int, team_id: Optional[int]) -> None:
        with self.lock:
            self._change(display, team_id=team_id)

    def set_priority(self, display: int, priority: Optional[str]) -> None:
        """An agent sets the priority (urgent, high, medium, low; None: none)."""
        with self.lock:
            self._change(display, priority=priority)

    def drop_webhooks(self) -> int:
        """The queued webhooks never reach pyroute (it was down or unreachable; Chatwoot
        does not send an account webhook again). Returns how many were lost."""
        with self.lock:
            n, self.outbox = len(self.outbox), []
            return n

    def forget_assignment(self, display: int) -> None:
        """Chatwoot loses a conversation's assignee, without a webhook."""
        with self.lock:
            self.conversations[display]["assignee_id"] = None
            self._touch(display)

    def set_presence(self, agent_id: int, status: str) -> None:
        with self.lock:
            self.agents[agent_id]["availability_status"] = status

    def flush(self, post: Callable[..., Any], **kw: Any) -> int:
        """Deliver the queued webhooks with ``post(url, content=, headers=, **kw)`` (a
        TestClient's, or an httpx2 client's with ``timeout=WEBHOOK_TIMEOUT`` as Chatwoot's);
        a non-2xx answer or a timeout is dropped, as Chatwoot drops a failed account
        webhook. Returns how many were sent."""
        with self.lock:
            batch, self.outbox = self.outbox, []
        for body, headers in batch:
            try:
                r = post("/chatwoot/webhook", content=body, headers=headers, **kw)
            except httpx2.TimeoutException:
                self.dropped.append((0, json.loads(body)))
                continue
            if not 200 <= r.status_code < 300:
                self.dropped.append((r.status_code, json.loads(body)))
        return len(batch)

    # ------------------------------------------------------------------ the API
    def _auth(self, request: Request) -> Optional[JSONResponse]:
        if self.fail_status is not None:
            return JSONResponse({"error": "fake failure"}, status_code=self.fail_status)
        if request.headers.get("api_access_token") != self.token:
            return JSONResponse({"errors": ["You need to sign in or sign up before "
                                            "continuing."]}, status_code=401)
        if request.path_params["account"] != self.account_id:
            return JSONResponse({"error": "not found"}, status_code=404)
        return None

    async def _assign(self, request: Request) -> JSONResponse:
        bad = self._auth(request)
        display = request.path_params["display"]
        if bad is not None:
            self.api_calls.append(("assign", str(display), bad.status_code))
            return bad
        body = json.loads(await request.body() or b"{}")
        with self.lock:
            c = self.conversations.get(display)
            if c is None:
                self.api_calls.append(("assign", str(display), 404))
                return JSONResponse({"error": "Resource could not be found"},
                                    status_code=404)
            if "assignee_id" not in body:
                return JSONResponse(None)
            agent = body["assignee_id"]
            agent = int(agent) if agent is not None else None
            if c["assignee_id"] is not None and c["assignee_id"] != agent \
                    and c.get("held_since_open"):
                # taken from an agent who had it in this open stretch (a reopen keeps the
                # old assignee: pyroute may place a reopened conversation anew)
                self.reassigned_by_api += 1
                self.reassignments.append((display, c["assignee_id"], agent))
            self._change(display, assignee_id=agent)
            if agent is not None and self.held(agent) > self.limits.get(agent, 0):
                self.api_overruns += 1
                self.overruns.append((display, agent))
            self.api_calls.append(("assign", str(display), 200))
            return JSONResponse(self.agents.get(agent))

    def _api_conversation(self, display: int) -> dict:
        """The conversation as the API's partial shows it (the webhook payload's fields,
        without the event)."""
        out = self.payload(display, "")
        del out["event"]
        return out

    async def _list(self, request: Request) -> JSONResponse:
        bad = self._auth(request)
        if bad is not None:
            self.api_calls.append(("list", "", bad.status_code))
            return bad
        q = request.query_params
        status = q.get("status", "open")
        page = int(q.get("page", "1") or 1)
        with self.lock:
            self.api_calls.append(("list", str(page), 200))
            chosen = [d for d, c in self.conversations.items()
                      if status == "all" or c["status"] == status]
            # latest activity first (Conversation.latest)
            chosen.sort(key=lambda d: -self.conversations[d]["updated_at"])
            shown = chosen[(page - 1) * PER_PAGE: page * PER_PAGE]
            unassigned = sum(1 for d in chosen if self.conversations[d]["assignee_id"] is None)
            body = {"data": {"meta": {"mine_count": 0, "unassigned_count": unassigned,
                                      "assigned_count": len(chosen) - unassigned,
                                      "all_count": len(chosen)},
                             "payload": [self._api_conversation(d) for d in shown]}}
        if self.between_pages is not None:
            self.between_pages(page)
        return JSONResponse(body)

    async def _show(self, request: Request) -> JSONResponse:
        bad = self._auth(request)
        display = request.path_params["display"]
        if bad is not None:
            self.api_calls.append(("show", str(display), bad.status_code))
            return bad
        with self.lock:
            self.api_calls.append(("show", str(display), 200))
            if display not in self.conversations:
                return JSONResponse({"error": "Resource could not be found"},
                                    status_code=404)
            return JSONResponse(self._api_conversation(display))

    async def _agents(self, request: Request) -> JSONResponse:
        bad = self._auth(request)
        if bad is not None:
            return bad
        with self.lock:
            return JSONResponse(list(self.agents.values()))

    async def _inboxes(self, request: Request) -> JSONResponse:
        bad = self._auth(request)
        if bad is not None:
            return bad
        return JSONResponse({"payload": list(self.inboxes.values())})


class _Transport(httpx2.AsyncBaseTransport):
    """The fake's API reached in-process; refuses connections while ``down``."""

    def __init__(self, fake: FakeChatwoot) -> None:
        self.fake = fake
        self.asgi = httpx2.ASGITransport(app=fake.app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.fake.down:
            self.fake.api_calls.append(("refused", request.url.path, 0))
            raise httpx2.ConnectError("connection refused", request=request)
        return await self.asgi.handle_async_request(request)
