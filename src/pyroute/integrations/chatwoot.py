"""Chatwoot: pyroute decides who gets each conversation, Chatwoot shows it. See
docs/integrations/chatwoot.md.

* ``POST /chatwoot/webhook``: Chatwoot's account webhook (events
  ``conversation_created``, ``conversation_status_changed``, ``conversation_updated``;
  ``message_created`` is acknowledged and changes nothing), verified with the
  ``X-Chatwoot-Signature`` header, ``sha256=`` + HMAC-SHA256 of
  ``"{X-Chatwoot-Timestamp}.{raw body}"`` with the webhook's secret, and a window on the
  timestamp. An open conversation is submitted (its inbox gives the channel, its team
  the group, its priority the request priority); resolved ends it; a human who assigns,
  unassigns or moves it to another team in Chatwoot is followed.
* Assignment out: every ``Assigned`` the service applies, whatever caused it (a webhook,
  a finish that freed a slot, an overflow timer), is posted to Chatwoot's
  ``POST /api/v1/accounts/{account}/conversations/{id}/assignments`` by a delivery task
  off the request path, retried with exponential backoff while Chatwoot fails.
* Presence in: ``GET /api/v1/accounts/{account}/agents`` is polled; every agent is a
  pyroute operator whose id is its Chatwoot agent id (an int), ``availability_status``
  online / busy / offline becoming online / away / offline.

Shapes followed from Chatwoot's source (chatwoot/chatwoot): app/listeners/webhook_listener.rb
and app/listeners/base_listener.rb (event names, ``changed_attributes`` as a list of
``{attr: {previous_value, current_value}}``), app/presenters/conversations/
event_data_presenter.rb (the conversation payload: ``id`` is the display id, ``inbox_id``,
``status``, ``priority``, ``meta.assignee``, ``meta.team``, ``updated_at``),
lib/webhooks/trigger.rb (headers, signature, a 5 s timeout, account webhooks not retried),
app/models/conversation.rb (which changes send ``conversation_updated``),
app/controllers/api/v1/accounts/conversations/assignments_controller.rb and
base_controller.rb (the conversation found by display id, ``assignee_id``),
app/views/api/v1/models/_agent.json.jbuilder and _inbox.json.jbuilder
(``availability_status``, ``enable_auto_assignment``).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import logging
import math
import re
import time as _time
from pathlib import Path
from typing import Any, Callable, Optional

import msgspec

from .. import errors
from ..commands import (
    AddOperator, Cancel, Finish, SetGroups, SetLimit, SetStatus, Submit, Transfer,
)
from ..events import Assigned, Queued, Transferred
from .chatwoot_model import CwMeta, CwRef, display_of  # noqa: F401 (part of this API)

log = logging.getLogger("pyroute.chatwoot")

#: Chatwoot's availability_status -> pyroute's status. "busy" agents get no new
#: conversations from Chatwoot's own auto-assignment either.
PRESENCE = {"online": "online", "busy": "away", "offline": "offline"}
#: how many X-Chatwoot-Delivery ids are remembered to drop a replayed delivery
SEEN_DELIVERIES = 100_000


class AgentSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One agent's routing settings (``[chatwoot.agents."<id or email>"]``)."""

    limit: int = 3
    groups: list[str] = []


class ChatwootConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[chatwoot]`` settings (a TOML file given to ``pyroute serve --chatwoot``)."""

    url: str                       # Chatwoot's base URL, e.g. https://chat.example.com
    account_id: int
    api_access_token: str          # an administrator's access token (Profile settings)
    webhook_secret: str = ""       # the webhook's secret (Settings -> Integrations -> Webhooks)
    allow_unsigned: bool = False   # accept webhooks without X-Chatwoot-Signature
    timestamp_window: float = 300.0   # seconds a signed timestamp may be off the clock
    inboxes: dict[str, str] = {}   # Chatwoot inbox id -> pyroute channel
    teams: dict[str, str] = {}     # Chatwoot team id -> pyroute group
    default_group: Optional[str] = None   # conversations without a team
    priorities: dict[str, int] = msgspec.field(   # Chatwoot priority -> request priority
        default_factory=lambda: {"low": 1, "medium": 2, "high": 3, "urgent": 4})
    agents: dict[str, AgentSettings] = {}  # agent id or email -> limit and groups
    default_limit: int = 3         # agents not in ``agents``
    default_groups: list[str] = []  # agents not in ``agents``; empty: such agents not routed
    prefer_for: float = 120.0      # a reopened conversation waits that long for its agent
    poll_every: float = 30.0       # seconds between reads of the agents' presence
    reconcile_every: float = 60.0  # seconds between reads of the open conversations
    retry_base: float = 1.0        # first retry of a failed assignment after this long
    retry_max: float = 60.0        # the backoff doubles up to this
    request_timeout: float = 10.0  # seconds for one call to Chatwoot's API

    @classmethod
    def from_toml(cls, path: str | Path) -> "ChatwootConfig":
        from . import settings_from_toml
        return settings_from_toml(path, "chatwoot", cls)

    def check(self, config: Any) -> None:
        """Refuse settings the router cannot carry out, saying which and why."""
        groups = {g.name: g for g in config.groups}
        channels = {c.name for c in config.channels}
        if not self.url.startswith(("http://", "https://")):
            raise errors.ConfigError(f"chatwoot.url: {self.url!r} is not an http(s) URL")
        if not self.api_access_token:
            raise errors.ConfigError("chatwoot.api_access_token must not be empty (an "
                                     "administrator's access token, Profile settings)")
        if not self.webhook_secret and not self.allow_unsigned:
            raise errors.ConfigError("chatwoot.webhook_secret is empty: give the webhook's "
                                     "secret, or set allow_unsigned = true")
        if not self.inboxes:
            raise errors.ConfigError("chatwoot.inboxes is empty: map each routed inbox id "
                                     "to a channel")
        for inbox, ch in self.inboxes.items():
            if ch not in channels:
                raise errors.ConfigError(f"chatwoot.inboxes[{inbox!r}]: unknown channel {ch!r}")
        used = [(f"chatwoot.teams[{t!r}]", g) for t, g in self.teams.items()]
        if self.default_group is not None:
            used.append(("chatwoot.default_group", self.default_group))
        used += [(f"chatwoot.agents[{a!r}].groups", g) for a, s in self.agents.items()
                 for g in s.groups]
        used += [("chatwoot.default_groups", g) for g in self.default_groups]
        for where, g in used:
            if g not in groups:
                raise errors.ConfigError(f"{where}: unknown group {g!r}")
            if groups[g].accept_timeout is not None:
                raise errors.ConfigError(
                    f"{where}: group {g!r} has accept_timeout, but Chatwoot has no offers "
                    f"to accept (an assignment is final there); leave accept_timeout out "
                    f"for groups routed for Chatwoot")
        for name, v in (("timestamp_window", self.timestamp_window),
                        ("poll_every", self.poll_every),
                        ("reconcile_every", self.reconcile_every),
                        ("retry_base", self.retry_base),
                        ("retry_max", self.retry_max),
                        ("request_timeout", self.request_timeout)):
            if not (math.isfinite(v) and v > 0):
                raise errors.ConfigError(f"chatwoot.{name} must be seconds > 0, got {v!r}")
        for a, s in self.agents.items():
            if s.limit < 0:
                raise errors.ConfigError(f"chatwoot.agents[{a!r}].limit must be >= 0")


# ---------------------------------------------------------------------- payloads
class CwConversation(msgspec.Struct):
    id: Optional[int] = None
    inbox_id: Optional[int] = None
    status: Optional[str] = None


class ChatwootHook(msgspec.Struct):
    """The fields of a Chatwoot webhook that matter here (others are ignored). For the
    conversation events the payload is the conversation (``id`` its display id); for
    ``message_created`` it is the message, with its ``conversation``."""

    event: str
    id: Optional[int] = None
    inbox_id: Optional[int] = None
    status: Optional[str] = None
    priority: Optional[str] = None
    meta: Optional[CwMeta] = None
    changed_attributes: Optional[list[dict[str, Any]]] = None
    updated_at: Optional[float] = None
    conversation: Optional[CwConversation] = None
    message_type: Optional[str] = None


class ChatwootAgent(msgspec.Struct):
    """One entry of ``GET /api/v1/accounts/{account}/agents``."""

    id: int
    availability_status: Optional[str] = None
    email: Optional[str] = None
    name: Optional[str] = None


class ChatwootInbox(msgspec.Struct):
    id: int
    name: Optional[str] = None
    enable_auto_assignment: Optional[bool] = None


class _Inboxes(msgspec.Struct):
    payload: list[ChatwootInbox] = []


def _bound(d: dict, most: int = 200_000) -> None:
    """Forget the oldest half of ``d`` once it holds more than ``most`` entries (caches
    and staleness marks of conversations long gone)."""
    if len(d) > most:
        for key in list(d)[: most // 2]:
            del d[key]


def conversation_id(display: int, k: int) -> str:
    """The id of the ``k``-th pyroute conversation (1, 2, ...) of Chatwoot conversation
    ``display``: ``cw-42``, then ``cw-42#2`` once it is reopened after being resolved
    (ended ids stay taken)."""
    return f"cw-{display}" if k == 1 else f"cw-{display}#{k}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Chatwoot's X-Chatwoot-Signature of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Chatwoot:
    """The integration's state: counters, the delivery queue and the presence poll.

    ``transport`` (an httpx2 transport) and ``clock`` (wall-clock seconds, for the
    signature window) are for tests; by default the API is reached over the network at
    ``cfg.url`` and the clock is ``time.time``."""

    def __init__(self, svc: Any, cfg: ChatwootConfig, *, transport: Any = None,
                 clock: Callable[[], float] = _time.time) -> None:
        cfg.check(svc.router.config)
        self.svc = svc
        self.cfg = cfg
        self.transport = transport
        self.clock = clock
        self.counts: collections.Counter = collections.Counter()
        self.latest: dict[int, int] = {}          # display id -> k of its latest conversation
        self.updated: dict[tuple, float] = {}     # (display id, kind) -> updated_at applied
        self.chatwoot_has: dict[int, Any] = {}    # display id -> its assignee in Chatwoot
        self.teams_seen: dict[int, Any] = {}      # display id -> its team, last seen
        self.touched: dict[int, float] = {}       # display id -> monotonic time of the
        #                                           last webhook or delivery applied
        self.due: dict[int, tuple[float, int]] = {}   # display id -> (when, attempt)
        self.seen: collections.OrderedDict = collections.OrderedDict()
        self.agents_seen: set[int] = set()
        self.last_error: Optional[str] = None
        self._wake: Optional[asyncio.Event] = None
        self._tasks: list[asyncio.Task] = []
        self._client: Any = None
        self.busy = False
        from .chatwoot_reconcile import Reconciler
        self.reconciler = Reconciler(self)

    # ------------------------------------------------------------------ mapping
    def channel_of(self, inbox: Optional[int]) -> Optional[str]:
        return None if inbox is None else self.cfg.inboxes.get(str(inbox))

    def group_of(self, team: Optional[int]) -> tuple[Optional[str], bool]:
        """(group, known): a team maps through ``teams``; no team is ``default_group``."""
        if team is None:
            return self.cfg.default_group, self.cfg.default_group is not None
        g = self.cfg.teams.get(str(team))
        return g, g is not None

    def current(self, display: int) -> tuple[Any, Optional[str], str, int]:
        """(view or None, id or None, the id a new one would take, its k) of the latest
        pyroute conversation of Chatwoot conversation ``display``."""
        router = self.svc.router
        k = self.latest.get(display, 1)
        view, ident = None, None
        if k > 1:
            try:
                view, ident = router.request(conversation_id(display, k - 1)), \
                    conversation_id(display, k - 1)
            except errors.UnknownId:
                k = 1
        while True:
            cand = conversation_id(display, k)
            try:
                v = router.request(cand)
            except errors.UnknownId:
                self.latest[display] = k
                return view, ident, cand, k
            view, ident, k = v, cand, k + 1

    def _ignore(self, why: str, key: str) -> list:
        self.counts[key] += 1
        log.info("chatwoot: %s; not applied", why)
        return []

    def _operator(self, agent: Optional[CwRef]) -> Optional[int]:
        """The agent as an online pyroute operator, else None."""
        if agent is None or agent.id is None:
            return None
        try:
            return agent.id if self.svc.router.operator(agent.id).status == "online" else None
        except (errors.UnknownId, errors.InvalidArgument):
            return None

    # ------------------------------------------------------------------ webhooks in
    def commands_for(self, hook: ChatwootHook) -> list:
        """The pyroute commands a webhook stands for (possibly none), from the router's
        state at the moment they are applied (the writer calls this)."""
        ev = hook.event
        if ev == "message_created":
            # Chatwoot itself reopens a resolved conversation on a customer's message and
            # says so with conversation_status_changed; the message changes nothing here
            return []
        if ev not in ("conversation_created", "conversation_status_changed",
                      "conversation_updated"):
            self.counts["other_event"] += 1
            return []
        display = hook.id
        if display is None:
            return self._ignore(f"{ev} without a conversation id", "malformed")
        channel = self.channel_of(hook.inbox_id)
        if channel is None:
            return self._ignore(f"conversation {display}: inbox {hook.inbox_id} is not in "
                                f"chatwoot.inboxes", "unknown_inbox")
        if hook.updated_at is not None:
            # Chatwoot's jobs may deliver out of order: a status (created, status changed)
            # or an assignment older than the last one applied is stale
            key = (display, ev == "conversation_updated")
            last = self.updated.get(key)
            if last is not None and hook.updated_at < last:
                return self._ignore(f"conversation {display}: stale {ev} (updated_at "
                                    f"{hook.updated_at} < {last})", "stale")
            self.updated[key] = hook.updated_at
        meta = hook.meta or CwMeta()
        team = meta.team.id if meta.team is not None else None
        self.chatwoot_has[display] = meta.assignee.id if meta.assignee is not None else None
        self.touched[display] = _time.monotonic()
        self.teams_seen[display] = team
        _bound(self.touched)
        _bound(self.teams_seen)
        _bound(self.updated)
        _bound(self.latest)
        view, ident, fresh, k = self.current(display)
        live = view is not None and view.state in ("queued", "offered", "active")
        release = ([Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
                   if live else [])
        status = hook.status
        if ev == "conversation_created" or (ev == "conversation_status_changed"
                                            and status == "open"):
            if live or status != "open":
                return []   # already routed; pending (a bot has it), snoozed, resolved
            if ev == "conversation_created" and k > 1:
                return self._ignore(f"conversation {display}: conversation_created for a "
                                    f"conversation already routed", "duplicate")
            group, known = self.group_of(team)
            if not known:
                return self._ignore(f"conversation {display}: team {team} is not in "
                                    f"chatwoot.teams and there is no default_group",
                                    "unknown_team")
            prio = self.priority_of(hook.priority)
            who = self._operator(meta.assignee)
            return [Submit(request=fresh, channel=channel, group=group, priority=prio,
                           prefer=who, prefer_for=self.cfg.prefer_for if who else 0.0)]
        if ev == "conversation_status_changed":
            if status in ("resolved", "pending"):
                # resolved: done; pending: a bot has it (Chatwoot's agent bots)
                self.chatwoot_has.pop(display, None)
                return release
            return []       # snoozed: its agent keeps it and its slot
        # conversation_updated: follow what a human changed in Chatwoot
        changed = set()
        for change in hook.changed_attributes or ():
            if isinstance(change, dict):
                changed.update(change)
        if not live:
            return []
        out: list = []
        if "priority" in changed and view.state == "queued":
            # after a team change too: the new priority is submitted in the new group
            group = view.group
            if "team_id" in changed:
                group, known = self.group_of(team)
                if not known:
                    group = view.group
            redo = self.reprioritise(view, ident, fresh, self.priority_of(hook.priority),
                                     group)
            if redo:
                return redo
        if "team_id" in changed:
            group, known = self.group_of(team)
            if not known:
                return self._ignore(f"conversation {display}: moved to team {team}, which is "
                                    f"not in chatwoot.teams", "unknown_team")
            if group != view.group:
                out.append(Transfer(request=ident, group=group))
        if "assignee_id" in changed:
            agent = meta.assignee.id if meta.assignee is not None else None
            if agent is None:
                if view.operator is not None:
                    # a human sent it back to the queue: routed anew
                    out.append(Transfer(request=ident, group=view.group))
            else:
                follow = self.follow(view, ident, meta.assignee)
                if follow is not None:
                    out = [c for c in out if not isinstance(c, Transfer)] + follow
        return out

    def follow(self, view: Any, ident: str, assignee: CwRef) -> Optional[list]:
        """The commands that follow a person in Chatwoot giving live conversation
        ``ident`` to ``assignee``: None when pyroute has it so already; a transfer to
        them when they are one of its operators (it waits, with the previous holder,
        while they are full, away or offline in pyroute); else it leaves pyroute (someone
        pyroute does not route took it)."""
        if assignee.id == view.operator or (view.transfer_to is not None
                                            and view.transfer_to == assignee.id):
            return None
        try:
            known = assignee.id is not None and self.svc.router.operator(assignee.id)
        except (errors.UnknownId, errors.InvalidArgument):
            known = None
        if not known:
            self.counts["taken_outside"] += 1
            return [Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
        return [Transfer(request=ident, operator=assignee.id)]

    def priority_of(self, name: Optional[str]) -> int:
        """The request priority of a Chatwoot priority (None: no priority, 0)."""
        return self.cfg.priorities.get(name, 0) if name else 0

    def reprioritise(self, view: Any, ident: str, fresh: str, prio: int,
                     group: str) -> list:
        """The commands that give waiting conversation ``ident`` priority ``prio``: the
        router keeps a conversation's priority from its submit (no command changes it), so
        it is submitted again as ``fresh`` with the new priority and the old one is
        cancelled as switched to it (counted ``switched``, not abandoned). The new one
        waits from now, and overflow timers start again; see
        docs/integrations/chatwoot.md ("Priorities")."""
        if view.state != "queued" or prio == view.priority:
            return []
        self.counts["reprioritised"] += 1
        log.info("chatwoot: %s: priority %d -> %d, submitted again as %s", ident,
                 view.priority, prio, fresh)
        return [Submit(request=fresh, channel=view.channel, group=group, priority=prio,
                       skills=dict(view.skills) or None, visitor=view.visitor),
                Cancel(request=ident, switched_to=fresh)]

    def verify(self, headers: Any, body: bytes) -> Optional[str]:
        """None when the webhook is Chatwoot's, else what is wrong (401)."""
        sig = headers.get("x-chatwoot-signature")
        ts = headers.get("x-chatwoot-timestamp")
        if sig is None:
            if self.cfg.allow_unsigned:
                return None
            return "missing X-Chatwoot-Signature (set the webhook's secret in Chatwoot)"
        if not self.cfg.webhook_secret:
            return "a signed webhook, but chatwoot.webhook_secret is not set"
        if ts is None or not re.fullmatch(r"[0-9]{1,12}", ts):
            return "missing or malformed X-Chatwoot-Timestamp"
        off = self.clock() - int(ts)
        if abs(off) > self.cfg.timestamp_window:
            return (f"X-Chatwoot-Timestamp is {abs(off):.0f} s off this clock (window "
                    f"{self.cfg.timestamp_window:g} s): a replay, or a clock to fix")
        if not hmac.compare_digest(sig.encode(), signature(self.cfg.webhook_secret, ts,
                                                           body).encode()):
            return "wrong X-Chatwoot-Signature (is webhook_secret the webhook's secret?)"
        return None

    def replayed(self, delivery: Optional[str]) -> bool:
        """Whether this X-Chatwoot-Delivery id was applied already (remembers the last
        SEEN_DELIVERIES)."""
        if not delivery:
            return False
        if delivery in self.seen:
            return True
        self.seen[delivery] = None
        if len(self.seen) > SEEN_DELIVERIES:
            self.seen.popitem(last=False)
        return False

    # ------------------------------------------------------------------ assignments out
    def on_events(self, events: list) -> None:
        """The service's listener: a Chatwoot conversation that was assigned, queued or
        transferred is queued for delivery (called by the writer, after the events are
        applied); the delivery posts whatever has changed."""
        for e in events:
            if isinstance(e, (Assigned, Queued, Transferred)):
                display = display_of(e.request)
                if display is not None:
                    self.schedule(display)

    def schedule(self, display: int) -> None:
        """Queue a delivery of pyroute's holder of ``display`` (posts only what Chatwoot
        does not show already)."""
        if display not in self.due:
            self.due[display] = (0.0, 0)
            if self._wake is not None:
                self._wake.set()

    def pending(self) -> int:
        """Assignments not yet delivered (queued or waiting for a retry)."""
        return len(self.due) + (1 if self.busy else 0)

    def _headers(self) -> dict:
        return {"api_access_token": self.cfg.api_access_token}

    def _api(self, tail: str) -> str:
        return f"/api/v1/accounts/{self.cfg.account_id}/{tail}"

    async def deliver(self, display: int) -> Optional[str]:
        """Tell Chatwoot who holds conversation ``display`` now: pyroute's current view,
        so a late or repeated delivery posts the latest holder and one Chatwoot shows
        already posts nothing. A waiting conversation that Chatwoot shows with an agent
        (reopened while its agent is full, or given by a human to a full agent) is
        unassigned there until pyroute assigns it. None on success or nothing to do,
        else the failure."""
        view, ident, _, _ = self.current(display)
        if view is None or view.state not in ("active", "offered", "queued"):
            return None
        agent = view.operator if view.state != "queued" else None
        if self.chatwoot_has.get(display) == agent:
            return None
        import httpx2
        try:
            r = await self._client.post(self._api(f"conversations/{display}/assignments"),
                                        json={"assignee_id": agent}, headers=self._headers())
        except httpx2.HTTPError as e:
            return f"{type(e).__name__}: {e}"
        if 200 <= r.status_code < 300:
            self.chatwoot_has[display] = agent
            self.touched[display] = _time.monotonic()
            self.counts["assigned" if agent is not None else "unassigned"] += 1
            return None
        if r.status_code == 404:
            # the conversation is gone from Chatwoot (deleted): end it here too
            log.warning("chatwoot: conversation %s is not in Chatwoot (404); ending %s",
                        display, ident)
            self.counts["gone"] += 1
            await self._end(ident)
            return None
        hint = {401: " (check api_access_token)",
                403: " (the token's user may not assign: use an administrator's)"}
        return f"HTTP {r.status_code}{hint.get(r.status_code, '')}: {r.text[:200]}"

    async def _end(self, ident: str) -> None:
        def cmds() -> list:
            v = self.svc.router.request(ident)
            if v.state == "active":
                return [Finish(request=ident)]
            return [Cancel(request=ident)] if v.state in ("queued", "offered") else []
        try:
            await self.svc.apply(cmds)
        except Exception as e:      # refused or the service is broken: logged, not fatal
            log.warning("chatwoot: could not end %s: %s", ident, e)

    async def _deliver_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            ready = sorted((w, d) for d, (w, _) in self.due.items() if w <= now)
            for _, display in ready:
                when, attempt = self.due.pop(display)
                self.busy = True
                try:
                    failed = await self.deliver(display)
                except Exception as e:     # a bug: logged, retried like a failure
                    failed = f"{type(e).__name__}: {e}"
                finally:
                    self.busy = False
                if failed is not None:
                    delay = min(self.cfg.retry_max, self.cfg.retry_base * 2 ** attempt)
                    self.last_error = failed
                    self.counts["retries"] += 1
                    log.warning("chatwoot: telling Chatwoot who holds conversation %s "
                                "failed (%s); retry %d in %g s (pyroute keeps its view: "
                                "the agent's slot stays taken, nothing is requeued)",
                                display, failed, attempt + 1, delay)
                    if display not in self.due:     # a newer Assigned may have queued it
                        self.due[display] = (loop.time() + delay, attempt + 1)
            self._wake.clear()
            nxt = min((w for w, _ in self.due.values()), default=None)
            timeout = None if nxt is None else max(0.0, nxt - loop.time())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ presence in
    def _settings(self, agent: ChatwootAgent) -> Optional[AgentSettings]:
        s = self.cfg.agents.get(str(agent.id))
        if s is None and agent.email:
            s = self.cfg.agents.get(agent.email)
        if s is None and self.cfg.default_groups:
            s = AgentSettings(limit=self.cfg.default_limit, groups=self.cfg.default_groups)
        return s

    def presence_commands(self, agent: Optional[ChatwootAgent], op: Any,
                          status: Optional[str] = None) -> list:
        """The commands that bring operator ``op`` in line with Chatwoot's ``agent`` (None:
        the agent is no longer listed: offline)."""
        router = self.svc.router
        try:
            v = router.operator(op)
        except (errors.UnknownId, errors.InvalidArgument):
            v = None
        if agent is None:
            return [SetStatus(operator=op, status="offline")] if (
                v is not None and v.status != "offline") else []
        s = self._settings(agent)
        if s is None:
            return []
        status = PRESENCE.get(agent.availability_status or "offline", "offline")
        if v is None:
            return [AddOperator(operator=op, groups=tuple(s.groups), limit=s.limit,
                                status=status)]
        out: list = []
        if list(v.groups) != list(s.groups):
            out.append(SetGroups(operator=op, groups=tuple(s.groups)))
        if v.limit != s.limit:
            out.append(SetLimit(operator=op, limit=s.limit))
        if v.status != status:
            out.append(SetStatus(operator=op, status=status))
        return out

    async def poll_agents(self) -> Optional[str]:
        """Read the agents' presence once and apply it; None, or what failed (logged)."""
        import httpx2
        try:
            r = await self._client.get(self._api("agents"), headers=self._headers())
            if r.status_code != 200:
                raise ValueError(f"HTTP {r.status_code}: {r.text[:200]}")
            agents = msgspec.json.decode(r.content, type=list[ChatwootAgent])
        except (httpx2.HTTPError, ValueError, msgspec.DecodeError) as e:
            self.counts["poll_failures"] += 1
            msg = f"reading agents failed ({type(e).__name__}: {e}); presence unchanged"
            log.warning("chatwoot: %s, next try in %g s", msg, self.cfg.poll_every)
            return msg
        listed = {a.id: a for a in agents}
        for op in sorted(set(listed) | self.agents_seen):
            agent = listed.get(op)
            try:
                await self.svc.apply(lambda agent=agent, op=op: self.presence_commands(agent, op))
            except Exception as e:      # refused: logged, the others still apply
                log.warning("chatwoot: agent %s: %s", op, e)
                continue
            if agent is not None and self._settings(agent) is not None:
                self.agents_seen.add(op)
        if not self.counts["polls"]:
            self.resync()
        self.counts["polls"] += 1
        return None

    def resync(self) -> int:
        """Queue a delivery for every Chatwoot conversation an agent holds in pyroute
        (after the first presence poll, so a delivery cut off by a restart is made; one
        Chatwoot shows already costs a call that changes nothing there). Returns how
        many were queued."""
        n = 0
        for op in self.agents_seen:
            try:
                held = self.svc.router.operator(op).active
            except (errors.UnknownId, errors.InvalidArgument):
                continue
            for request in held:
                display = display_of(request)
                if display is not None and display not in self.due:
                    self.chatwoot_has.setdefault(display, "unknown")
                    self.due[display] = (0.0, 0)
                    n += 1
        if n and self._wake is not None:
            self._wake.set()
        return n

    async def check_inboxes(self) -> list[str]:
        """Warnings for routed inboxes whose Chatwoot auto-assignment is on (read from
        ``GET /api/v1/accounts/{account}/inboxes``)."""
        import httpx2
        try:
            r = await self._client.get(self._api("inboxes"), headers=self._headers())
            inboxes = msgspec.json.decode(r.content, type=_Inboxes).payload \
                if r.status_code == 200 else []
        except (httpx2.HTTPError, msgspec.DecodeError) as e:
            log.warning("chatwoot: cannot read inboxes to check auto-assignment: %s", e)
            return []
        out = []
        for ib in inboxes:
            if str(ib.id) in self.cfg.inboxes and ib.enable_auto_assignment:
                out.append(f"inbox {ib.id} ({ib.name}) has Chatwoot's auto-assignment on: "
                           f"Chatwoot will assign its conversations too; turn it off in "
                           f"Settings -> Inboxes -> {ib.name} -> Collaborators -> Enable "
                           f"auto assignment")
        for w in out:
            log.warning("chatwoot: %s", w)
        self.counts["auto_assignment_on"] = len(out)
        return out

    async def _poll_loop(self) -> None:
        while True:
            await self.poll_agents()
            if self.reconciler.task is None:
                # conversations are read once the agents are known (their first read
                # is now: after a restart it catches up on what was missed)
                self.reconciler.start()
            await asyncio.sleep(self.cfg.poll_every)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        import httpx2
        self._client = httpx2.AsyncClient(base_url=self.cfg.url.rstrip("/"),
                                          timeout=self.cfg.request_timeout,
                                          transport=self.transport)
        self._wake = asyncio.Event()
        if self.due:
            self._wake.set()
        await self.check_inboxes()
        self._tasks = [asyncio.create_task(self._deliver_loop()),
                       asyncio.create_task(self._poll_loop())]

    async def stop(self) -> None:
        await self.reconciler.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def status(self) -> dict:
        return {"counts": dict(self.counts), "pending_assignments": self.pending(),
                "last_error": self.last_error, "reconciler": self.reconciler.status()}


def routes(svc: Any, cfg: "ChatwootConfig | Chatwoot") -> list:
    """Starlette routes of the integration, sharing the service's writer; registers the
    delivery listener and the integration's tasks with the service. ``cfg`` may be a
    ``Chatwoot`` made already (tests give it a transport and a clock)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    cw = cfg if isinstance(cfg, Chatwoot) else Chatwoot(svc, cfg)
    svc.chatwoot = cw
    svc.listeners.append(cw.on_events)
    svc.integrations.append(cw)
    hook_decoder = msgspec.json.Decoder(ChatwootHook)

    async def webhook(request: Request) -> JSONResponse:
        from ..service.http import HTTPError, Refused, decoding, read_body
        try:
            body = await read_body(request, svc.max_body, svc.body_timeout)
        except HTTPError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        wrong = cw.verify(request.headers, body)
        if wrong is not None:
            cw.counts["unauthorized"] += 1
            log.warning("chatwoot: webhook refused: %s", wrong)
            return JSONResponse({"error": wrong}, status_code=401)
        try:
            hook = decoding(lambda: hook_decoder.decode(body), what="Chatwoot webhook")
        except HTTPError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        if cw.replayed(request.headers.get("x-chatwoot-delivery")):
            cw.counts["replayed"] += 1
            return JSONResponse({"applied": False, "ignored": "delivery seen before"})
        try:
            # the commands are worked out by the writer, from the state they apply to
            events = await svc.apply(lambda: cw.commands_for(hook))
        except HTTPError as e:      # 503: the journal cannot take it
            return JSONResponse({"error": str(e)}, status_code=e.status)
        except Refused as e:        # refused by the router: answered 200, counted
            cw.counts["refused"] += 1
            log.warning("chatwoot: %s refused by the router: %s", hook.event, e.error)
            if hook.id is not None:
                cw.schedule(hook.id)    # Chatwoot is shown pyroute's holder again
            return JSONResponse({"applied": False, "ignored": str(e.error)})
        except Exception as e:
            return JSONResponse({"error": f"internal error: {type(e).__name__}: {e}"},
                                status_code=500)
        cw.counts["handled"] += 1
        return JSONResponse({"applied": True, "events": len(events)})

    async def status(request: Request) -> JSONResponse:
        from ..service.http import HTTPError
        try:
            svc.role(request)
        except HTTPError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        return JSONResponse(cw.status())

    return [Route("/chatwoot/webhook", webhook, methods=["POST"]),
            Route("/chatwoot/status", status, methods=["GET"])]
