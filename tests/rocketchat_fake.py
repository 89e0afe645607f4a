"""A fake Rocket.Chat omnichannel, built from Rocket.Chat's own source, to drive pyroute's
integration as the platform does over a day.

What it does, and where in RocketChat/Rocket.Chat it was read:

* Placement — ``apps/meteor/app/livechat/server/lib/routing/External.ts``: for each chat
  to place, 10 concurrent ``GET <External Queue URL>`` with ``X-RocketChat-Secret-Token``,
  ``departmentId`` and ``ignoreAgentId`` as query parameters; ``results.filter(Boolean)``
  and the first answer wins; an answer counts only if ``findOneOnlineAgentByUserList``
  finds the username online (``statusLivechat: 'available'``, status not offline); the
  agent is assigned at once, nothing waits for pyroute. All answers ``{}``: the chat
  stays in the queue (``no-agent-online``).
* The queue worker — ``apps/meteor/server/services/omnichannel/queue.ts``: every
  ``Omnichannel_queue_delay_timeout`` (5 s) it tries each waiting inquiry again.
* Webhooks — ``apps/meteor/app/livechat/server/hooks/sendToCRM.ts`` (payload: the room's
  guest info with ``_id``, ``type``, ``messages`` — every visible message of the room —
  and per type ``departmentId``, ``servedBy {_id, username, ts}``, ``oldServedBy``,
  ``oldDepartmentId``, ``closedAt``, ``closedBy``) and the sender ``sendRequest`` of
  ``apps/meteor/app/livechat/server/lib/Livechat.ts`` (header
  ``X-RocketChat-Livechat-Token``; only HTTP 200 counts as delivered; anything else, or
  a network failure, is tried again ``Livechat_http_timeout * 4`` = 20 s later, 10 tries
  in all; ``lib/webhooks.ts`` of later versions tries 5 times and only on 5xx/429). The
  sends are not awaited (``void sendRequest(...)``), so they arrive in any order.
* Without webhooks: "move to queue" (``returnRoomAsInquiry`` → ``RoutingManager.
  unassignAgent``), on-hold and resume (the room's ``onHold``), agents switching
  livechat off (``statusLivechat``) or being removed.
* REST API for the reconciler — ``apps/meteor/app/livechat/imports/server/rest/rooms.ts``
  (``GET /api/v1/livechat/rooms?open=true``, paged by ``offset``/``count``, answering
  ``{rooms, count, offset, total}``) and ``rest/users.ts`` with ``server/api/lib/users.ts``
  (``GET /api/v1/livechat/users/agent``: ``{users, count, offset, total}`` with
  ``username, status, statusLivechat``), authenticated by ``X-User-Id``/``X-Auth-Token``.

The clock is virtual (``now``, seconds); the HTTP calls to pyroute are real (httpx2
against a uvicorn server on localhost), concurrent where Rocket.Chat's are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx2 as httpx

EPOCH = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
RETRY_AFTER = 20.0      # Livechat_http_timeout (5 s) * 4
ATTEMPTS = 10
QUEUE_EVERY = 5.0       # Omnichannel_queue_delay_timeout


def iso(t: float) -> str:
    return (EPOCH + dt.timedelta(seconds=t)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@dataclass
class Agent:
    uid: str
    username: str
    limit: int
    status: str = "online"              # the user's presence
    livechat: str = "available"         # statusLivechat
    agent: bool = True                  # still a livechat agent


@dataclass
class Room:
    id: str
    department: Optional[str]
    open: bool = True
    served: Optional[tuple[str, str, float]] = None     # uid, username, ts
    on_hold: bool = False
    closed_at: Optional[float] = None
    messages: list = field(default_factory=list)


@dataclass
class Delivery:
    due: float
    payload: dict
    attempts: int = 0
    seq: int = 0
    adds: Optional[str] = None    # the agent whose load it tells of (a forward to them)


class FakeRocketChat:
    def __init__(self, pyroute_url: str, secret: str, livechat_token: str,
                 agents: list[Agent], seed: int = 0, lose_answers: float = 0.0,
                 delay: tuple[float, float] = (0.5, 4.0)) -> None:
        self.url = pyroute_url
        self.secret = secret
        self.livechat_token = livechat_token
        self.agents = {a.username: a for a in agents}
        self.rnd = random.Random(seed)
        self.now = 0.0
        self._last_stamp = -1.0
        self.rooms: dict[str, Room] = {}
        self.inquiries: list[str] = []          # rooms waiting, in arrival order
        self.outbox: list[Delivery] = []
        self.lose_answers = lose_answers        # a 200 lost on the way back: retried
        self.delay = delay                      # seconds before a webhook first goes out
        self.lock = threading.Lock()            # the REST API is read from pyroute's thread
        self.api_user, self.api_token = "uid-reconciler", "rest-token"
        self.api_down = False
        self.seq = 0
        self.next_queue_run = QUEUE_EVERY
        # what the platform saw
        self.over_limit: list[tuple[float, str, int]] = []
        # over a limit after Rocket.Chat gave an agent a chat pyroute had not been told of
        # yet (a forward whose webhook is on its way, a resume from on-hold, which has no
        # webhook, before the reconciler read it): a lag no router outside can close
        self.over_limit_untold: list[tuple[float, str, int]] = []
        self.untold: dict[str, int] = {}        # agent -> such chats not told yet
        self.resumed: list[str] = []            # agents of resumes no read has seen
        self.explained: dict[str, int] = {}     # agent -> the load such an overrun reached
        self.gets = 0
        self.deliveries = 0
        self.failed_deliveries: list[tuple[int, str]] = []
        self.given_up: list[dict] = []
        self.client: Optional[httpx.AsyncClient] = None

    async def __aenter__(self) -> "FakeRocketChat":
        self.client = httpx.AsyncClient(base_url=self.url, timeout=30.0,
                                        limits=httpx.Limits(max_connections=40))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.client is not None
        await self.client.aclose()

    # ------------------------------------------------------------------ the model
    def serving(self, username: str) -> int:
        """Open chats an agent serves, on-hold ones left out (they take no slot)."""
        return sum(1 for r in self.rooms.values()
                   if r.open and not r.on_hold and r.served and r.served[1] == username)

    def _online(self, username: str) -> Optional[Agent]:
        a = self.agents.get(username)
        if a is None or not a.agent or a.livechat != "available" or a.status == "offline":
            return None
        return a

    def _payload(self, kind: str, room: Room, **extra: Any) -> dict:
        with self.lock:
            return {"_id": room.id, "label": f"visitor of {room.id}", "type": kind,
                    "createdAt": iso(0), "visitor": {"_id": f"v-{room.id}",
                                                     "username": f"guest-{room.id}"},
                    "messages": list(room.messages), "departmentId": room.department,
                    **extra}

    def _send(self, payload: dict, adds: Optional[str] = None) -> None:
        self.seq += 1
        lo, hi = self.delay
        if adds is not None:
            self.untold[adds] = self.untold.get(adds, 0) + 1
        self.outbox.append(Delivery(self.now + self.rnd.uniform(lo, hi), payload,
                                    seq=self.seq, adds=adds))

    def _served_by(self, room: Room) -> Optional[dict]:
        if room.served is None:
            return None
        uid, name, ts = room.served
        return {"_id": uid, "username": name, "ts": iso(ts)}

    def _check_limits(self) -> None:
        for a in self.agents.values():
            n = self.serving(a.username)
            if n <= a.limit:
                self.explained.pop(a.username, None)
            elif self.untold.get(a.username, 0) > 0 or n <= self.explained.get(a.username, 0):
                # over through a chat not told of yet (or still over, no further)
                self.explained[a.username] = max(n, self.explained.get(a.username, 0))
                self.over_limit_untold.append((self.now, a.username, n))
            else:
                self.over_limit.append((self.now, a.username, n))

    # ------------------------------------------------------------------ placing
    async def _ask(self, department: Optional[str], ignore: Optional[str]) -> Optional[str]:
        assert self.client is not None
        params = {k: v for k, v in (("departmentId", department), ("ignoreAgentId", ignore))
                  if v}
        try:
            r = await self.client.get("/rocketchat/queue", params=params,
                                      headers={"X-RocketChat-Secret-Token": self.secret,
                                               "Accept": "application/json"})
            self.gets += 1
            body = r.json()
        except (httpx.HTTPError, ValueError):
            return None
        name = body.get("username") if isinstance(body, dict) else None
        return name if name and self._online(name) else None

    async def place(self, room_id: str, ignore: Optional[str] = None) -> Optional[str]:
        """External.ts getNextAgent: 10 concurrent asks, the first answer, assigned at
        once; the Taken webhook goes out later."""
        room = self.rooms[room_id]
        answers = await asyncio.gather(*(self._ask(room.department, ignore)
                                         for _ in range(10)))
        chosen = [a for a in answers if a]
        if not chosen or not room.open or room.served is not None:
            return None
        agent = self.agents[chosen[0]]
        with self.lock:
            room.served = (agent.uid, agent.username, self._stamp())
            if room_id in self.inquiries:
                self.inquiries.remove(room_id)
        self._check_limits()
        self._send(self._payload("LivechatSessionTaken", room,
                                 servedBy=self._served_by(room)))
        return agent.username

    async def new_chat(self, room_id: str, department: Optional[str] = None,
                       history: int = 0) -> Optional[str]:
        with self.lock:
            room = self.rooms[room_id] = Room(room_id, department)
            room.messages = [self._message(room_id, i) for i in range(history)]
            self.inquiries.append(room_id)
        self._send(self._payload("LivechatSessionStart", room))
        self._send(self._payload("LivechatSessionQueued", room))
        return await self.place(room_id)

    def _message(self, room_id: str, i: int) -> dict:
        return {"_id": f"{room_id}-m{i}", "username": f"guest-{room_id}",
                "msg": f"message {i}: " + "lorem ipsum [dolor] {sit} \"amet\" " * 4,
                "ts": iso(self.now), "rid": room_id}

    async def queue_worker(self) -> None:
        """queue.ts: each waiting inquiry tried again, one by one."""
        for room_id in list(self.inquiries):
            await self.place(room_id)

    # ------------------------------------------------------------------ the agents' doing
    def say(self, room_id: str) -> None:
        with self.lock:
            room = self.rooms[room_id]
            room.messages.append(self._message(room_id, len(room.messages)))

    def close(self, room_id: str) -> None:
        room = self.rooms[room_id]
        with self.lock:
            room.open = False
            room.closed_at = self.now
            room.on_hold = False
            if room_id in self.inquiries:
                self.inquiries.remove(room_id)
        self._send(self._payload("LivechatSession", room, servedBy=self._served_by(room),
                                 closedAt=iso(self.now), closedBy={"_id": "x"},
                                 closer="user"))

    def _stamp(self) -> float:
        """``servedBy.ts`` of an assignment: a JavaScript Date, milliseconds; two
        assignments of one virtual second stay apart (a real floor's are ms apart)."""
        self._last_stamp = max(self.now, round(self._last_stamp + 0.001, 3))
        return self._last_stamp

    def forward(self, room_id: str, to: str) -> None:
        room = self.rooms[room_id]
        old = self._served_by(room)
        agent = self.agents[to]
        with self.lock:
            room.served = (agent.uid, agent.username, self._stamp())
        self._check_limits()
        self._send(self._payload("LivechatSessionForwarded", room,
                                 servedBy=self._served_by(room), oldServedBy=old), adds=to)

    def move_to_queue(self, room_id: str) -> None:
        """Move to queue: unassigned, back to the inquiries; no webhook."""
        with self.lock:
            room = self.rooms[room_id]
            room.served = None
            self.inquiries.append(room_id)

    def hold(self, room_id: str, on: bool) -> None:
        with self.lock:
            room = self.rooms[room_id]
            if room.on_hold and not on and room.served:      # resumed: no webhook
                self.untold[room.served[1]] = self.untold.get(room.served[1], 0) + 1
                self.resumed.append(room.served[1])
            room.on_hold = on
        self._check_limits()

    def set_agent(self, username: str, **kw: Any) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self.agents[username], k, v)

    # ------------------------------------------------------------------ webhooks
    async def _deliver(self, d: Delivery) -> None:
        assert self.client is not None
        d.attempts += 1
        body = json.dumps(d.payload).encode()
        try:
            r = await self.client.post("/rocketchat/webhook", content=body, headers={
                "X-RocketChat-Livechat-Token": self.livechat_token,
                "Content-Type": "application/json"})
            status = r.status_code
            if status == 200 and d.adds is not None:   # applied: pyroute knows now
                self.untold[d.adds] -= 1
                d.adds = None
        except httpx.HTTPError as e:
            status = -1
            self.failed_deliveries.append((status, str(e)))
        self.deliveries += 1
        if status == 200 and self.rnd.random() < self.lose_answers:
            status = -2                # applied, but the answer never got back
        if status == 200:
            return
        if status not in (-1, -2):
            self.failed_deliveries.append((status, d.payload["type"]))
        if d.attempts >= ATTEMPTS:
            self.given_up.append(d.payload)
            return
        d.due = self.now + RETRY_AFTER
        self.outbox.append(d)

    async def tick(self, seconds: float = 1.0) -> None:
        """Let ``seconds`` of virtual time pass: the queue worker runs when due, and the
        webhooks due are sent together, in no particular order."""
        self.now += seconds
        if self.now >= self.next_queue_run:
            self.next_queue_run = self.now + QUEUE_EVERY
            await self.queue_worker()
        due = [d for d in self.outbox if d.due <= self.now]
        if due:
            self.outbox = [d for d in self.outbox if d.due > self.now]
            self.rnd.shuffle(due)
            await asyncio.gather(*(self._deliver(d) for d in due))

    async def drain(self) -> None:
        """Time passes until every webhook was delivered or given up."""
        while self.outbox:
            await self.tick(1.0)

    # ------------------------------------------------------------------ REST API
    def api(self, request: httpx.Request) -> httpx.Response:
        """The two endpoints the reconciler reads (an httpx MockTransport handler, called
        on pyroute's thread)."""
        if self.api_down:
            return httpx.Response(503, text="Service Unavailable")
        if (request.headers.get("x-user-id") != self.api_user
                or request.headers.get("x-auth-token") != self.api_token):
            return httpx.Response(401, json={"status": "error",
                                             "message": "You must be logged in to do this."})
        q = request.url.params
        offset, count = int(q.get("offset", 0)), min(int(q.get("count", 50)), 100)
        with self.lock:
            if request.url.path == "/api/v1/livechat/rooms":
                if offset == 0:             # the reconciler sees the resumes now
                    for agent in self.resumed:
                        self.untold[agent] -= 1
                    self.resumed = []
                rooms = [r for r in self.rooms.values()
                         if q.get("open") != "true" or r.open]
                page = [{"_id": r.id, "t": "l", "open": r.open,
                         "departmentId": r.department, "onHold": r.on_hold,
                         **({"servedBy": self._served_by(r)} if r.served else {})}
                        for r in rooms[offset:offset + count]]
                return httpx.Response(200, json={"rooms": page, "count": len(page),
                                                 "offset": offset, "total": len(rooms),
                                                 "success": True})
            if request.url.path == "/api/v1/livechat/users/agent":
                users = [a for a in self.agents.values() if a.agent]
                page = [{"_id": a.uid, "username": a.username, "name": a.username.title(),
                         "status": a.status, "statusLivechat": a.livechat}
                        for a in users[offset:offset + count]]
                return httpx.Response(200, json={"users": page, "count": len(page),
                                                 "offset": offset, "total": len(users),
                                                 "success": True})
        return httpx.Response(404, json={"success": False, "error": "not found"})
