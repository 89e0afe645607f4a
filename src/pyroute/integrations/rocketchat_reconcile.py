"""The Rocket.Chat reconciler: reads Rocket.Chat's REST API on an interval and corrects
what its webhooks never report — a chat moved back to the queue or put on hold (no
webhook), an agent's availability (no webhook at all), a webhook lost for good — so that
pyroute's view of every agent's chats and status is Rocket.Chat's again within one
interval. See docs/integrations/rocketchat.md ("Reconciler").

Endpoints, from Rocket.Chat's source:

* ``GET /api/v1/livechat/rooms?open=true&offset=…&count=…`` — ``apps/meteor/app/livechat/
  imports/server/rest/rooms.ts`` (needs ``view-livechat-rooms``), answering ``{rooms,
  count, offset, total}``; a room has ``_id``, ``open``, ``servedBy {_id, username, ts}``,
  ``departmentId`` and ``onHold``.
* ``GET /api/v1/livechat/users/agent?offset=…&count=…`` — ``apps/meteor/app/livechat/
  imports/server/rest/users.ts`` with ``findAgents`` of ``server/api/lib/users.ts``
  (projection ``username, name, status, statusLivechat, emails, livechat``), answering
  ``{users, count, offset, total}``.
* Authentication: headers ``X-User-Id`` and ``X-Auth-Token`` (a personal access token).

A read that fails (network, status other than 200, a body that is not what the source
says) is a log line and a retry at the next interval: nothing is applied from it.
Corrections go through the service's writer one room or agent at a time, each worked out
again at the moment it is applied, and a room that a webhook touched after the read began
is left alone (the webhook is newer than the read).
"""

from __future__ import annotations

import logging
import time as _time
from typing import Any, Optional

import msgspec

from .. import errors
from ..commands import Cancel, Finish, ReleaseHold, SetStatus, Submit, Transfer
from .reconcile import Periodic, ReadError

log = logging.getLogger("pyroute.rocketchat")

PAGE = 100          # Rocket.Chat's default upper count limit (API_Upper_Count_Limit)
MAX_PAGES = 10_000  # a total that keeps growing cannot make a read endless


class ApiAgent(msgspec.Struct):
    id: Optional[str] = msgspec.field(name="_id", default=None)
    username: Optional[str] = None
    ts: Any = None


class ApiRoom(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    open: bool = True
    servedBy: Optional[ApiAgent] = None
    departmentId: Optional[str] = None
    onHold: bool = False


class ApiRooms(msgspec.Struct):
    rooms: list[ApiRoom]
    total: int


class ApiUser(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    username: Optional[str] = None
    status: Optional[str] = None            # online, away, busy, offline
    statusLivechat: Optional[str] = None    # available, not-available


class ApiUsers(msgspec.Struct):
    users: list[ApiUser]
    total: int


class Snapshot(msgspec.Struct):
    rooms: list[ApiRoom]
    users: list[ApiUser]


def wanted_status(user: ApiUser, idle_agents: bool) -> str:
    """The pyroute status of a Rocket.Chat agent, as Rocket.Chat decides whom it may
    route to (``queryStatusAgentOnline`` in its Users model: ``statusLivechat:
    'available'`` and, unless *Livechat_enabled_when_agent_idle*, a ``status`` other than
    offline): online when Rocket.Chat would route to them, away when they switched
    livechat off, offline when they are not connected."""
    if user.statusLivechat != "available":
        return "offline" if user.status == "offline" else "away"
    if user.status == "offline" and not idle_agents:
        return "offline"
    return "online"


class Reconciler(Periodic):
    """Reads Rocket.Chat every ``reconcile_every`` seconds and corrects drift.
    ``transport``: an httpx transport (tests give one that talks to a fake)."""

    label = "rocketchat reconciler"
    platform = "Rocket.Chat"
    log = log

    def __init__(self, rc: Any, transport: Any = None) -> None:
        # rc: the RocketChat integration (pyroute.integrations.rocketchat), which makes
        # its reconciler: this module does not import it back
        super().__init__(rc.svc)
        self.rc = rc
        self.cfg = rc.cfg
        self.transport = transport
        self.waiting_in_rocketchat = 0
        self.stranded: list[str] = []

    @property
    def every(self) -> float:
        return self.cfg.reconcile_every

    def status(self) -> dict:
        return {"runs": self.runs, "failures": self.failures, "last_error": self.last_error,
                "corrections": dict(self.corrections),
                "waiting_in_rocketchat": self.waiting_in_rocketchat,
                "stranded": len(self.stranded)}

    # ------------------------------------------------------------------ reading
    async def read(self) -> Snapshot:
        import httpx2 as httpx
        assert self.cfg.api_url is not None
        headers = {"X-User-Id": self.cfg.api_user_id or "",
                   "X-Auth-Token": self.cfg.api_token or "", "Accept": "application/json"}
        base = self.cfg.api_url.rstrip("/")
        async with httpx.AsyncClient(base_url=base, headers=headers,
                                     timeout=self.cfg.api_timeout,
                                     transport=self.transport) as client:
            rooms = await self._pages(client, "/api/v1/livechat/rooms", {"open": "true"},
                                      ApiRooms, "rooms")
            users = await self._pages(client, "/api/v1/livechat/users/agent", {}, ApiUsers,
                                      "users")
        return Snapshot(rooms=rooms, users=users)

    async def _pages(self, client: Any, path: str, params: dict, type_: Any,
                     field: str) -> list:
        import httpx2 as httpx
        out: list = []
        decoder = msgspec.json.Decoder(type_)
        for _ in range(MAX_PAGES):
            try:
                r = await client.get(path, params={**params, "offset": len(out),
                                                   "count": PAGE})
            except httpx.HTTPError as e:
                raise ReadError(f"GET {path}: {type(e).__name__}: {e}") from None
            if r.status_code != 200:
                raise ReadError(f"GET {path}: HTTP {r.status_code}: {r.text[:200]}")
            try:
                page = decoder.decode(r.content)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise ReadError(f"GET {path}: not what Rocket.Chat answers: {e}") from None
            items = getattr(page, field)
            out.extend(items)
            if not items or len(out) >= page.total:
                return out
        raise ReadError(f"GET {path}: more than {MAX_PAGES} pages")

    # ------------------------------------------------------------------ correcting
    async def run_once(self) -> Optional[int]:
        """One read and its corrections: the number of commands applied, or None when
        the read failed (logged; nothing applied)."""
        started = _time.monotonic()
        self.runs += 1
        try:
            snap = await self.read()
        except ReadError as e:
            self.read_failed(e)
            return None
        self.last_error = None
        rc = self.rc
        for u in snap.users:
            rc.agents.learn(u.id, u.username)
        for room in snap.rooms:
            if room.servedBy is not None:
                rc.agents.learn(room.servedBy.id, room.servedBy.username)
        users = {u.username: u for u in snap.users if u.username}
        served = {r.id: r for r in snap.rooms
                  if r.open and not r.onHold and r.servedBy is not None
                  and r.servedBy.username}
        self.waiting_in_rocketchat = sum(1 for r in snap.rooms
                                         if r.open and not r.onHold and r.servedBy is None)
        applied = 0

        async def apply(fix: Any, what: str) -> None:
            nonlocal applied
            applied += await self.correct(fix, fixed, what)

        fixed: list[str] = []
        # agents first: a chat is given back to an agent only once they are online
        names = set(users) | set(rc.agents.ids.values())
        for name in sorted(names, key=str):
            fixed.clear()
            await apply(lambda name=name: self._fix_agent(name, users.get(name), fixed),
                        f"agent {name!r}")
        # the rooms pyroute holds, and the rooms Rocket.Chat says are served
        for rid in sorted(set(served) | self._pyroute_rooms(names)):
            fixed.clear()
            await apply(lambda rid=rid: self._fix_room(rid, served.get(rid), started,
                                                       fixed), f"room {rid!r}")
        fixed.clear()
        await apply(lambda: self._orphan_holds(names, started, fixed), "holds")
        self._stranded(snap)
        return applied

    def _fix_agent(self, name: str, user: Optional[ApiUser], fixed: list) -> list:
        router = self.rc.svc.router
        try:
            view = router.operator(name)
        except (errors.UnknownId, errors.InvalidArgument):
            return []
        # an agent Rocket.Chat no longer lists (removed from the livechat agents) is
        # offline for pyroute: nobody routes to them
        want = "offline" if user is None else wanted_status(user, self.cfg.idle_agents)
        if view.status == want:
            return []
        fixed.append(f"status {view.status} -> {want}")
        return [SetStatus(operator=name, status=want)]

    def _pyroute_rooms(self, names: set) -> set:
        """Rooms of the conversations pyroute holds for these agents or has waiting."""
        router, ch = self.rc.svc.router, self.cfg.channel
        out: set = set()
        for name in names:
            try:
                view = router.operator(name)
            except (errors.UnknownId, errors.InvalidArgument):
                continue
            for conv in view.active:
                room = self.rc.room_of(conv)
                if room is not None:
                    out.add(room)
        for g in router.config.groups:
            for conv in router.queue(g.name, ch):
                room = self.rc.room_of(conv)
                if room is not None:
                    out.add(room)
        return out

    def _fix_room(self, room: str, rcroom: Optional[ApiRoom], started: float,
                  fixed: list) -> list:
        rc = self.rc
        seen = rc.rooms.get(room)
        if seen is not None and seen.touched > started:
            return []               # a webhook applied since the read is newer than it
        view, ident, fresh = rc._current(room)
        live = (view is not None and view.state in ("queued", "offered", "active")
                and view.channel == self.cfg.channel)
        if rcroom is None or rcroom.servedBy is None:
            # closed, back in Rocket.Chat's queue, or on hold: no agent's slot is taken
            if not live:
                return []
            fixed.append("released (not served in Rocket.Chat: closed, queued or on hold)")
            return [Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
        if seen is not None and seen.closed:
            return []               # its close was seen: the read is older than it
        username = rcroom.servedBy.username
        if username is None or not rc._operator_online(username):
            if live and view.operator != username:
                fixed.append(f"released (served by {username!r}, not an online operator)")
                return [Finish(request=ident) if view.state == "active"
                        else Cancel(request=ident)]
            return []
        if live:
            if view.operator == username:
                if view.state == "active" and view.transfer_to not in (None, username):
                    # theirs, with a transfer away pending that Rocket.Chat undid
                    fixed.append(f"kept on {username!r} (a pending transfer withdrawn)")
                    return [Transfer(request=ident, operator=username)]
                return []           # theirs already
            if view.state != "active":
                # waiting in pyroute for the agent it was given to (their slots are full
                # in pyroute's view): a transfer would start transfer_timeout, after which
                # anyone could take it; it is theirs when a slot frees
                return []
            fixed.append(f"moved to {username!r}")
            return [Transfer(request=ident, operator=username)] + rc.release_for(username)
        group = rc._group_for(rcroom.departmentId, username)
        if group is None:
            return []
        fixed.append(f"given to {username!r}")
        # as a Taken would: the chat, then the hold its placement left on the agent
        return [Submit(request=fresh, channel=self.cfg.channel, group=group,
                       prefer=username, prefer_for=self.cfg.prefer_for)] \
            + rc.release_for(username)

    def _orphan_holds(self, names: set, started: float, fixed: list) -> list:
        """Holds of placements whose chat never came: placed before the read (by more
        than ``placement_window``, so their assignment, if Rocket.Chat made one, is in
        it and was applied above, releasing its hold), or before a restart. Released."""
        rc = self.rc
        router = rc.svc.router
        cut = started - self.cfg.placement_window
        out, live = [], set()
        for name in sorted(names, key=str):
            try:
                holds = router.operator(name).holds
            except (errors.UnknownId, errors.InvalidArgument):
                continue
            for h in holds:
                if not rc.own_hold(h):
                    continue
                live.add(h)
                made = rc.hold_made.get(h)
                if made is None or made < cut:
                    out.append(ReleaseHold(hold=h))
        for h in list(rc.hold_made):
            if h not in live or any(c.hold == h for c in out):
                del rc.hold_made[h]
        if out:
            fixed.append(f"released {len(out)} hold(s) no chat came for")
        return out

    def _stranded(self, snap: Snapshot) -> None:
        """Chats waiting in Rocket.Chat's queue while pyroute would name an agent for
        them: Rocket.Chat got ``{}`` when it asked and has not asked again yet."""
        rc = self.rc
        out = []
        for r in snap.rooms:
            if not r.open or r.onHold or r.servedBy is not None:
                continue
            group = rc.group_of(r.departmentId)
            if group is not None and rc.svc.router.pick(group, self.cfg.channel) is not None:
                out.append(r.id)
        self.stranded = out
        if out:
            log.warning("rocketchat reconciler: %d chat(s) wait in Rocket.Chat's queue "
                        "while pyroute has an agent free for them (Rocket.Chat asks again "
                        "only when its queue worker runs): %s", len(out),
                        ", ".join(out[:10]))
