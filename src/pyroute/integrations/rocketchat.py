"""Rocket.Chat omnichannel: pyroute as its "External Service" routing method, kept in
sync by its omnichannel webhooks and, when configured, by a reconciler that reads its REST
API. See docs/integrations/rocketchat.md.

* ``GET /rocketchat/queue?departmentId=…&ignoreAgentId=…`` with the header
  ``X-RocketChat-Secret-Token``: Rocket.Chat asks whom the next chat of a department
  should go to (it does not say which chat, and asks ten times at once, taking the first
  answer); pyroute answers ``{"username": …}`` — ``Router.pick`` of the department's
  group — or ``{}`` when nobody can take it.
* ``POST /rocketchat/webhook`` with the header ``X-RocketChat-Livechat-Token``: taken
  (the chat is submitted, preferring the agent who took it), forwarding (transferred, or
  released when it goes back to a queue) and close (finished, or cancelled if nobody had
  taken it), so pyroute's view of every agent's load stays Rocket.Chat's; start and
  queued change nothing (the chat waits in Rocket.Chat's own queue). Answered 200 once
  applied or definitively irrelevant (duplicate, stale, refused for good), 5xx when a
  retry can succeed (Rocket.Chat retries only until it gets a 200). Duplicates and stale
  deliveries are recognised by the room's timestamps (``servedBy.ts``, ``oldServedBy.ts``,
  ``closedAt``) and a bounded memory of each room (:class:`Rooms`).
* ``GET /rocketchat/status`` (supervisor bearer token): the integration's counters.

Agents are pyroute operators whose ids are their Rocket.Chat usernames; departments map
to groups (``departments``, or a group of the department's id, or ``default_group``).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hmac
import json
import logging
import math
import os
import time as _time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional

import msgspec

from .. import errors
from ..commands import Cancel, Finish, Hold, ReleaseHold, Submit, Transfer

log = logging.getLogger("pyroute.rocketchat")

#: the file, in the service's data directory, that keeps the agent id map
AGENTS_FILE = "rocketchat-agents.json"
#: the shortest ``prefer_for`` accepted: a taken chat waits this long for its agent in
#: pyroute's view before any agent may take it — a reassignment Rocket.Chat never hears of
MIN_PREFER_FOR = 3600.0
#: refusals of the router that a retry of the same webhook would meet again
PERMANENT = (errors.UnknownId, errors.DuplicateId, errors.InvalidState,
             errors.InvalidArgument, errors.ConfigError)


def permanent(error: BaseException) -> bool:
    """Whether the router's refusal would meet a retry of the same webhook again (the
    disk being full — StorageFull, an InvalidState — and time refusals pass)."""
    return isinstance(error, PERMANENT) and not isinstance(error, errors.StorageFull)


class RocketChatConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[rocketchat]`` settings (a TOML file given to ``pyroute serve --rocketchat``)."""

    secret_token: str            # Rocket.Chat's "External Queue Service Secret Token"
    livechat_token: str          # Rocket.Chat's omnichannel webhook "Secret Token"
    channel: str = "web"         # the pyroute channel livechat conversations come in on
    departments: dict[str, str] = {}   # Rocket.Chat department id -> pyroute group
    default_group: Optional[str] = None  # chats with no (mapped) department
    agents: dict[str, str] = {}  # agent user id -> username (also learned from webhooks)
    prefer_for: float = 86400.0  # a taken chat waits in pyroute's view for its agent
    # placements: each answer holds the agent's slot until Taken confirms it
    hold_seconds: float = 30.0   # how long an answer keeps the slot without a Taken
    placement_window: float = 2.0  # the GETs of one placement arrive within this
    placement_gets: int = 10     # GETs Rocket.Chat sends per placement (External.ts)
    # webhooks
    max_webhook_body: int = 64 << 20   # bytes a webhook may have, its messages included
    webhook_timeout: float = 3.0       # seconds the writer has to apply one, else 503
    room_memory: int = 100_000         # rooms remembered for duplicates and staleness
    room_memory_seconds: float = 3600.0  # how long a closed room is remembered
    # the reconciler (off unless api_url is given)
    api_url: Optional[str] = None      # e.g. "https://chat.example.com"
    api_user_id: Optional[str] = None  # X-User-Id of a user with view-livechat-rooms
    api_token: Optional[str] = None    # its X-Auth-Token (a personal access token)
    reconcile_every: float = 60.0      # seconds between two reads
    api_timeout: float = 10.0          # seconds one REST call may take
    idle_agents: bool = False          # Rocket.Chat's Livechat_enabled_when_agent_idle

    @classmethod
    def from_toml(cls, path: str | Path) -> "RocketChatConfig":
        from . import settings_from_toml
        return settings_from_toml(path, "rocketchat", cls)

    def check(self, config: Any) -> None:
        """Refuse names the router does not know, and router configs that cannot work
        behind Rocket.Chat (it assigns; pyroute must never move a chat on its own)."""
        groups = {g.name: g for g in config.groups}
        channels = {c.name: c for c in config.channels}
        if self.channel not in channels:
            raise errors.ConfigError(f"rocketchat.channel: unknown channel {self.channel!r}")
        for dept, g in self.departments.items():
            if g not in groups:
                raise errors.ConfigError(f"rocketchat.departments[{dept!r}]: unknown group {g!r}")
        if self.default_group is not None and self.default_group not in groups:
            raise errors.ConfigError(f"rocketchat.default_group: unknown group "
                                     f"{self.default_group!r}")
        if not self.secret_token or not self.livechat_token:
            raise errors.ConfigError("rocketchat: secret_token and livechat_token must not "
                                     "be empty")
        if not (isinstance(self.prefer_for, (int, float)) and self.prefer_for >= MIN_PREFER_FOR):
            raise errors.ConfigError(
                f"rocketchat.prefer_for = {self.prefer_for!r}: a chat Rocket.Chat gave to an "
                f"agent pyroute sees as full waits that long for them, then pyroute would "
                f"give it to someone else and Rocket.Chat never hears of it; give at least "
                f"{MIN_PREFER_FOR:g} s (default one day)")
        for name, v, low in (("max_webhook_body", self.max_webhook_body, 1),
                             ("webhook_timeout", self.webhook_timeout, 1e-3),
                             ("room_memory", self.room_memory, 1),
                             ("room_memory_seconds", self.room_memory_seconds, 1.0),
                             ("reconcile_every", self.reconcile_every, 1.0),
                             ("hold_seconds", self.hold_seconds, 1.0),
                             ("placement_window", self.placement_window, 0.0),
                             ("placement_gets", self.placement_gets, 1),
                             ("api_timeout", self.api_timeout, 1e-3)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= low):
                raise errors.ConfigError(f"rocketchat.{name} = {v!r}: give a number >= {low:g}")
        if self.api_url is not None and not (self.api_user_id and self.api_token):
            raise errors.ConfigError("rocketchat.api_url needs api_user_id and api_token "
                                     "(X-User-Id / X-Auth-Token of a user who may read "
                                     "livechat rooms and agents)")
        ch = channels[self.channel]
        if ch.cost != 1:
            raise errors.ConfigError(
                f"channels[{self.channel!r}].cost = {ch.cost!r}: Rocket.Chat counts every "
                f"chat as one of an agent's simultaneous chats; use cost = 1")
        named = set(self.departments.values()) | (
            {self.default_group} if self.default_group else set())
        for g in config.groups:
            if g.channels is not None and self.channel not in g.channels:
                if g.name in named:
                    raise errors.ConfigError(
                        f"groups[{g.name!r}].channels leaves out {self.channel!r}: chats of "
                        f"its Rocket.Chat department could never be submitted to it")
                continue
            if g.accept_timeout is not None:
                raise errors.ConfigError(
                    f"groups[{g.name!r}].accept_timeout: Rocket.Chat assigns a chat at once "
                    f"and never hears of an offer or its expiry; leave accept_timeout out "
                    f"of groups that take {self.channel!r}")
            if g.max_queue is not None:
                raise errors.ConfigError(
                    f"groups[{g.name!r}].max_queue: a chat Rocket.Chat already assigned "
                    f"would be rejected and vanish from the agent's load; leave max_queue "
                    f"out of groups that take {self.channel!r}")
            if g.hidden and g.name in named:
                raise errors.ConfigError(
                    f"groups[{g.name!r}] is hidden (takes no submit): it cannot be the "
                    f"group of a Rocket.Chat department")


class _Agent(msgspec.Struct):
    id: Optional[str] = msgspec.field(name="_id", default=None)
    username: Optional[str] = None
    ts: Any = None            # servedBy.ts: when the agent was assigned (ISO date)


class Hook(msgspec.Struct):
    """The fields of an omnichannel webhook that matter here (others are ignored; the
    ``messages`` array is skipped while the body is read)."""

    type: str
    id: Optional[str] = msgspec.field(name="_id", default=None)   # the room
    departmentId: Optional[str] = None
    servedBy: Optional[_Agent] = None
    agent: Optional[_Agent] = None
    oldServedBy: Optional[_Agent] = None
    oldDepartmentId: Optional[str] = None
    closedAt: Any = None      # the close's time (ISO date)


def parse_ts(value: Any) -> Optional[float]:
    """A Rocket.Chat date as seconds since the epoch: an ISO string (``JSON.stringify``
    of a Date), ``{"$date": ms}`` (EJSON) or milliseconds; None when absent or unreadable."""
    if isinstance(value, dict):
        value = value.get("$date")
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1000.0 if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            d = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.timezone.utc)
        return d.timestamp()
    return None


def conversation_id(room: str, k: int) -> str:
    """The id of the ``k``-th pyroute conversation (1, 2, ...) of a Rocket.Chat room:
    ``room``, ``room#2``, ``room#3`` ... for a room id without ``#`` (all of Rocket.Chat's
    own), and ``#room#1``, ``#room#2`` ... for one with ``#``. No two (room, k) share an
    id: an id of the first kind has at most one ``#`` and never starts with one, and one
    of the second kind starts with ``#`` and its k follows the last ``#``."""
    if "#" not in room:
        return room if k == 1 else f"{room}#{k}"
    return f"#{room}#{k}"


def room_of(ident: Any) -> Optional[str]:
    """The room of a conversation id made by :func:`conversation_id` (None for any other
    id)."""
    if not isinstance(ident, str) or not ident:
        return None
    if ident.startswith("#"):
        room, sep, k = ident[1:].rpartition("#")
        return room if sep and k.isdigit() else None
    room, sep, k = ident.partition("#")
    if sep and not (k.isdigit() and int(k) >= 2):
        return None
    return room


class _Seen:
    """What was seen of one room: the latest assignment applied (``ts``, its agent, and
    whether it ended by a move back to a queue), and its close."""

    __slots__ = ("ts", "agent", "ended", "closed", "closed_at", "touched")

    def __init__(self) -> None:
        self.ts: Optional[float] = None
        self.agent: Optional[str] = None
        self.ended = False
        self.closed = False
        self.closed_at: Optional[float] = None
        self.touched = 0.0          # time.monotonic() of the last webhook applied

    def copy(self) -> "_Seen":
        c = _Seen()
        for k in self.__slots__:
            setattr(c, k, getattr(self, k))
        return c


class Rooms:
    """The per-room memory that tells duplicates and stale deliveries apart, in the
    service's process: at most ``size`` rooms (the least recently touched go first), and
    a closed room for ``seconds`` after its close was seen (Rocket.Chat stops retrying a
    webhook after 10 tries 20 s apart, a few minutes). O(1) per webhook."""

    def __init__(self, size: int, seconds: float, clock: Callable[[], float] = _time.monotonic):
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self.rooms: "OrderedDict[str, _Seen]" = OrderedDict()

    def __len__(self) -> int:
        return len(self.rooms)

    def get(self, room: str) -> Optional[_Seen]:
        return self.rooms.get(room)

    def touch(self, room: str) -> _Seen:
        now = self.clock()
        rec = self.rooms.get(room)
        if rec is None:
            rec = self.rooms[room] = _Seen()
        else:
            self.rooms.move_to_end(room)
        rec.touched = now
        self._prune(now)
        return rec

    def restore(self, room: str, rec: Optional[_Seen]) -> None:
        """Put back what was known of ``room`` before a webhook that failed."""
        if rec is None:
            self.rooms.pop(room, None)
        else:
            self.rooms[room] = rec

    def _prune(self, now: float) -> None:
        while len(self.rooms) > self.size:
            self.rooms.popitem(last=False)
        # the oldest-touched first: stop at the first one still worth keeping
        for room in list(self.rooms)[:8]:
            rec = self.rooms[room]
            if rec.closed and now - rec.touched > self.seconds:
                del self.rooms[room]
            else:
                break


class AgentMap:
    """Rocket.Chat user ``_id`` -> username (``ignoreAgentId`` is an id, answers are
    usernames), learned from every payload that carries both and from the reconciler,
    and kept in ``AGENTS_FILE`` in the service's data directory when it has one: a small
    JSON file rewritten (temporary file, fsync, rename, fsync of the directory) whenever
    an id is new or its username changed — rare, so it is written on the writer's
    thread. Config ``agents`` are the starting point; what was learned overrides them."""

    def __init__(self, given: dict[str, str], directory: Any = None) -> None:
        self.ids: dict[str, str] = dict(given)
        self.path = Path(directory) / AGENTS_FILE if directory is not None else None
        if self.path is not None and self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
            except (OSError, ValueError) as e:
                raise errors.ConfigError(f"{self.path}: cannot read the Rocket.Chat agent "
                                         f"map ({e}); fix or remove the file") from None
            if not (isinstance(saved, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in saved.items())):
                raise errors.ConfigError(f"{self.path}: not a JSON object of user id -> "
                                         f"username; fix or remove the file")
            self.ids.update(saved)

    def get(self, uid: str, default: Any = None) -> Any:
        return self.ids.get(uid, default)

    def __len__(self) -> int:
        return len(self.ids)

    def learn(self, uid: Optional[str], username: Optional[str]) -> None:
        if not uid or not username or self.ids.get(uid) == username:
            return
        self.ids[uid] = username
        if self.path is not None:
            try:
                self._save()
            except OSError as e:        # the map stays in memory; the next new id retries
                log.error("rocketchat: cannot write %s (%s); the agent id map is kept "
                          "in memory only until it can", self.path, e.strerror)

    def _save(self) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        data = json.dumps(self.ids, sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


#: the prefix of the hold ids the queue route places (other holds are never touched)
HOLD_PREFIX = "rc:"


class Placement:
    """A burst of identical GETs (Rocket.Chat sends ``placement_gets`` at once for one
    placement and keeps the first non-empty answer in the order it sent them): the first
    to arrive holds an agent and is answered with it, the others are answered nobody, so
    that every answer with an agent is a hold of its own and no two placements, however
    their GETs interleave, can be given the same slot."""

    __slots__ = ("hold", "started", "gets")

    def __init__(self, hold: str, started: float) -> None:
        self.hold = hold
        self.started = started
        self.gets = 1


TAKEN = "LivechatSessionTaken"
FORWARDED = "LivechatSessionForwarded"
CLOSED = "LivechatSession"


class RocketChat:
    def __init__(self, svc: Any, cfg: RocketChatConfig) -> None:
        cfg.check(svc.router.config)
        self.svc = svc
        self.cfg = cfg
        self.groups = {g.name for g in svc.router.config.groups}
        self.agents = AgentMap(cfg.agents, getattr(svc.router, "directory", None))
        self.rooms = Rooms(cfg.room_memory, cfg.room_memory_seconds)
        self.handled = 0
        self.ignored = 0
        self.reasons: Counter = Counter()      # ignored webhooks by reason
        self.failed: Counter = Counter()       # webhooks answered 5xx, by cause
        self.unknown_departments: Counter = Counter()
        self.reconciler: Any = None
        self.placements: dict = {}             # (group, exclude) -> the latest Placement
        self.boot = os.urandom(4).hex()        # hold ids stay unique across restarts
        self.n_holds = 0
        self.hold_made: dict = {}              # hold id -> when it was placed (monotonic)
        self.held = 0                          # placements answered with a held agent
        self.shared = 0                        # GETs of a burst answered nobody
        self.refused = 0                       # placements answered with nobody
        self.confirmed = 0                     # holds released by their Taken (or close)

    room_of = staticmethod(room_of)

    def group_of(self, department: Optional[str]) -> Optional[str]:
        if department:
            if department in self.cfg.departments:
                return self.cfg.departments[department]
            if department in self.groups:
                return department
        return self.cfg.default_group

    @staticmethod
    def _token_ok(given: Optional[str], want: str) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), want.encode())

    # ------------------------------------------------------------------ routing method
    def placement_for(self, headers: Any, query: Any) -> tuple[int, Any]:
        """The placement a GET of the queue route asks about: (401, error) for a wrong
        token, (200, None) when no group takes the department, else (200, (group,
        exclude))."""
        if not self._token_ok(headers.get("x-rocketchat-secret-token"), self.cfg.secret_token):
            return 401, {"error": "missing or wrong X-RocketChat-Secret-Token"}
        group = self.group_of(query.get("departmentId"))
        if group is None:
            return 200, None
        ignore = query.get("ignoreAgentId")
        exclude = self.agents.get(ignore, ignore) if ignore else None
        return 200, (group, exclude)

    def hold_for(self, key: tuple, note: dict) -> list:
        """In the writer: the commands of one GET. The first GET of a burst holds the
        agent ``pick`` names (``Hold``); a GET of the same (group, exclude) within
        ``placement_window`` of it, while fewer than ``placement_gets`` have come, is
        one of the same burst's and is answered nobody (``note["share"]``): the
        placement it belongs to has the first's answer, or (when the GETs of two
        placements interleave) waits in Rocket.Chat's queue for its queue worker."""
        now = _time.monotonic()
        p = self.placements.get(key)
        if (p is not None and p.gets < self.cfg.placement_gets
                and now - p.started <= self.cfg.placement_window):
            p.gets += 1
            note["share"] = p
            return []
        self.n_holds += 1
        p = Placement(f"{HOLD_PREFIX}{self.boot}:{self.n_holds}", now)
        self.placements[key] = p
        if len(self.hold_made) >= 1024:      # expired by now: the router ended them
            self.hold_made = {h: t for h, t in self.hold_made.items()
                              if now - t <= self.cfg.hold_seconds}
        self.hold_made[p.hold] = now
        note["place"] = p
        group, exclude = key
        return [Hold(group=group, channel=self.cfg.channel, hold=p.hold,
                     seconds=self.cfg.hold_seconds, exclude=exclude)]

    def placed(self, p: Placement, events: list) -> Optional[str]:
        """The first GET's events are back: the agent held for it, or None."""
        for ev in events:
            if type(ev).__name__ == "Held" and ev.hold == p.hold:
                self.held += 1
                return ev.operator
        self.refused += 1
        return None

    @staticmethod
    def own_hold(hold: Any) -> bool:
        """Whether a hold id is one this integration placed (others are never touched)."""
        return isinstance(hold, str) and hold.startswith(HOLD_PREFIX)

    def release_for(self, username: Optional[str]) -> list:
        """The release of ``username``'s oldest hold of this integration, if any: a
        Taken (or a close of a room pyroute never heard taken) confirms it."""
        if username is None:
            return []
        try:
            holds = self.svc.router.operator(username).holds
        except (errors.UnknownId, errors.InvalidArgument):
            return []
        for h in holds:
            if self.own_hold(h):
                self.confirmed += 1
                self.hold_made.pop(h, None)
                return [ReleaseHold(hold=h)]
        return []

    # ------------------------------------------------------------------ webhooks
    def _current(self, room: str) -> tuple[Any, Any, str]:
        """The room's latest pyroute conversation: (its view or None, its id or None, the
        id a new one would take). A room that leaves an agent and comes back later gets a
        new conversation id (:func:`conversation_id`): ended ids stay taken."""
        router = self.svc.router
        view, ident, k = None, None, 1
        while True:
            cand = conversation_id(room, k)
            try:
                v = router.request(cand)
            except errors.UnknownId:
                return view, ident, cand
            view, ident, k = v, cand, k + 1

    def _ignore(self, note: dict, reason: str, hook: Hook) -> list:
        note["ignored"] = reason
        log.info("rocketchat: webhook %s of room %r ignored: %s", hook.type, hook.id, reason)
        return []

    def count_ignored(self, reason: str) -> None:
        self.ignored += 1
        self.reasons[reason] += 1

    def commands_for(self, hook: Hook, note: Optional[dict] = None) -> list:
        """The pyroute commands a webhook stands for (possibly none), from the router's
        state at the moment they are applied (the writer calls this). ``note`` gets
        ``ignored`` (the reason, when none apply) and ``undo`` (puts the room's memory
        back; called when the commands then fail)."""
        note = {} if note is None else note
        self.placements.clear()     # a placement's GETs come before anything changes
        room = hook.id
        if not room:
            return self._ignore(note, "no room id", hook)
        for who in (hook.servedBy, hook.agent, hook.oldServedBy):
            if who is not None:
                self.agents.learn(who.id, who.username)
        t = hook.type
        if t not in (TAKEN, FORWARDED, CLOSED):
            # Start and Queued: the chat waits in Rocket.Chat's own queue; pyroute hears
            # of it when an agent takes it (so it never assigns a chat Rocket.Chat did not)
            return self._ignore(note, f"{t} changes no agent's load", hook)
        before = self.rooms.get(room)
        note["undo"] = lambda b=(before.copy() if before else None): self.rooms.restore(room, b)
        view, ident, fresh = self._current(room)
        live = (view is not None and view.state in ("queued", "offered", "active")
                and view.channel == self.cfg.channel)
        release = ([Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
                   if live else [])
        if t == CLOSED:
            rec = self.rooms.touch(room)
            was_closed = rec.closed
            rec.closed = True
            at = parse_ts(hook.closedAt)
            if at is not None and (rec.closed_at is None or at > rec.closed_at):
                rec.closed_at = at
            if not live:
                # a chat Rocket.Chat assigned whose Taken pyroute never saw: the agent's
                # slot was held for it
                freed = ([] if was_closed or hook.servedBy is None
                         else self.release_for(hook.servedBy.username))
                if freed:
                    return freed
                return self._ignore(note, "duplicate close" if was_closed
                                    else "closed, and no agent of pyroute's held it", hook)
            return release
        served = hook.servedBy
        username = served.username if served is not None else None
        ts = parse_ts(served.ts) if served is not None else None
        if before is not None and before.closed and (
                ts is None or before.closed_at is None or ts <= before.closed_at):
            return self._ignore(note, "stale: the room is closed", hook)
        if username is None:            # forwarded to a department: back in its queue
            old = parse_ts(hook.oldServedBy.ts) if hook.oldServedBy is not None else None
            if before is not None and before.ts is not None and old is not None \
                    and old < before.ts:
                return self._ignore(note, "stale: a later assignment was applied", hook)
            rec = self.rooms.touch(room)
            if old is not None and (rec.ts is None or old >= rec.ts):
                rec.ts, rec.ended = old, True
            if not live:
                return self._ignore(note, "no agent of pyroute's held it", hook)
            return release
        if before is not None and before.ts is not None and ts is not None:
            if ts < before.ts:
                return self._ignore(note, "stale: a later assignment was applied", hook)
            if ts == before.ts and username == before.agent:
                return self._ignore(note, "duplicate" if not before.ended
                                    else "stale: that assignment ended", hook)
            # the same millisecond, another agent: two assignments whose order the stamps
            # cannot tell; the one heard last is taken as the later (dropping it would
            # leave the chat on an agent who no longer has it)
        rec = self.rooms.touch(room)
        if ts is not None:
            rec.ts, rec.agent, rec.ended = ts, username, False
        if not self._operator_online(username):
            # an agent pyroute does not route to (unknown, not online): nobody in pyroute
            # holds the chat any more
            if not release:
                return self._ignore(note, f"agent {username!r} is not an online operator",
                                    hook)
            return release
        # only a placement (a GET of the queue route) holds a slot, and its Taken confirms
        # it; a forward to an agent was asked of nobody: the agent's holds are other
        # placements', whose Taken is still on its way
        confirms = t == TAKEN
        if live:
            if view.operator == username:
                if view.transfer_to is not None and view.transfer_to != username:
                    # forwarded away and back before the first one could take it: the
                    # pending transfer is withdrawn (else it would move the chat later,
                    # and Rocket.Chat would still have it on this agent)
                    return [Transfer(request=ident, operator=username)]
                return self._ignore(note, "duplicate", hook)
            return [Transfer(request=ident, operator=username)] + (
                self.release_for(username) if confirms else [])
        group = self._group_for(hook.departmentId, username)
        if group is None:
            return self._ignore(note, f"agent {username!r} is in no group", hook)
        # the chat first, then the hold its placement left: the freed slot goes to the
        # chat that prefers the agent (docs/semantics.md, "Holds")
        return [Submit(request=fresh, channel=self.cfg.channel, group=group,
                       prefer=username, prefer_for=self.cfg.prefer_for)] \
            + (self.release_for(username) if confirms else [])

    def _group_for(self, department: Optional[str], username: str) -> Optional[str]:
        """The chat goes to the agent: the department's group if they are in it, else
        their first group."""
        group = self.group_of(department)
        if department and department not in self.cfg.departments \
                and department not in self.groups:
            self.unknown_departments[department] += 1
            log.info("rocketchat: unknown department %r (not in departments, not a "
                     "group): the chat goes to %r", department,
                     group if group is not None else "the agent's first group")
        mine = self.svc.router.operator(username).groups
        if group not in mine:
            group = mine[0] if mine else None
        return group

    def _operator_online(self, username: Optional[str]) -> bool:
        if username is None:
            return False
        try:
            return self.svc.router.operator(username).status == "online"
        except (errors.UnknownId, errors.InvalidArgument):
            return False

    def status(self) -> dict:
        """The integration's counters (``GET /rocketchat/status``)."""
        rec = self.reconciler
        return {"handled": self.handled, "ignored": self.ignored,
                "ignored_by_reason": dict(self.reasons), "failed": dict(self.failed),
                "unknown_departments": dict(self.unknown_departments),
                "agents_known": len(self.agents), "rooms_remembered": len(self.rooms),
                "placements": {"held": self.held, "shared_gets": self.shared,
                               "nobody": self.refused, "confirmed": self.confirmed},
                "reconciler": rec.status() if rec is not None else None}


async def read_webhook(request: Any, limit: int, keep: int, timeout: Optional[float]) -> bytes:
    """The webhook's body with its top-level ``messages`` skipped as it arrives
    (:mod:`.rocketchat_body`): HTTPError 413 over ``limit`` bytes in all or ``keep`` bytes
    without the messages, 503 when it stalls for ``timeout`` s (a network hiccup:
    Rocket.Chat may retry), 400 when the client goes away."""
    import re
    from starlette.requests import ClientDisconnect
    from ..service.http import HTTPError
    from .rocketchat_body import SkipMessages, TooLarge
    length = request.headers.get("content-length")
    if length is not None and re.fullmatch(r"[0-9]{1,18}", length) and int(length) > limit:
        raise HTTPError(413, f"body of {length} bytes is over the limit of {limit} "
                             f"(rocketchat.max_webhook_body)")
    scan = SkipMessages(keep)
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            return scan.kept()
        except asyncio.TimeoutError:
            raise HTTPError(503, f"the webhook's body stalled: nothing arrived for "
                                 f"{timeout:g} s") from None
        except ClientDisconnect:
            raise HTTPError(400, "the client went away before its body was complete") \
                from None
        try:
            scan.feed(chunk)
        except TooLarge as e:
            raise HTTPError(413, str(e)) from None
        if scan.seen > limit:
            raise HTTPError(413, f"body is over the limit of {limit} bytes "
                                 f"(rocketchat.max_webhook_body)")


def routes(svc: Any, cfg: RocketChatConfig) -> list:
    """Starlette routes of the integration, sharing the service's writer."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    rc = RocketChat(svc, cfg)
    svc.rocketchat = rc
    if cfg.api_url is not None:
        from .rocketchat_reconcile import Reconciler
        rc.reconciler = Reconciler(rc)
    hook_decoder = msgspec.json.Decoder(Hook)

    async def queue(request: Request) -> JSONResponse:
        from ..service.http import HTTPError, Refused
        status, key = rc.placement_for(request.headers, request.query_params)
        if status != 200 or key is None:
            return JSONResponse(key if status != 200 else {}, status_code=status)
        note: dict = {}
        events: list = []
        try:
            events = await svc.apply(lambda: rc.hold_for(key, note))
        except (HTTPError, Refused) as e:
            log.warning("rocketchat: a placement could not hold an agent: %s", e)
        except Exception:
            log.exception("rocketchat: a placement failed")
        if "share" in note:
            rc.shared += 1
            return JSONResponse({})
        p = note.get("place")
        who = rc.placed(p, events) if p is not None else None
        return JSONResponse({"username": who} if who is not None else {})

    def failed(cause: str, status: int, message: str, headers: Any = None) -> JSONResponse:
        rc.failed[cause] += 1
        log.warning("rocketchat: webhook answered %d (%s): %s; Rocket.Chat retries it",
                    status, cause, message)
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def webhook(request: Request) -> JSONResponse:
        from ..service.http import HTTPError, Refused, decoding
        if not rc._token_ok(request.headers.get("x-rocketchat-livechat-token"),
                            cfg.livechat_token):
            return JSONResponse({"error": "missing or wrong X-RocketChat-Livechat-Token"},
                                status_code=401)
        try:
            body = await read_webhook(request, cfg.max_webhook_body, svc.max_body,
                                      svc.body_timeout)
            hook = decoding(lambda: hook_decoder.decode(body), what="omnichannel webhook")
        except HTTPError as e:      # 400, 413, 422: the same body fails again; 503 stall
            if e.status >= 500:
                return failed("body stalled", e.status, str(e), {"Connection": "close"})
            return JSONResponse({"error": str(e)}, status_code=e.status)
        note: dict = {}

        def settle(task: asyncio.Future) -> None:
            # the commands failed in a way a retry may not: forget what this delivery
            # taught the room's memory, so that the retry is not taken for a duplicate
            err = None if task.cancelled() else task.exception()
            if task.cancelled() or (err is not None and not (
                    isinstance(err, Refused) and permanent(err.error))):
                undo = note.get("undo")
                if undo is not None:
                    undo()

        # the commands are worked out by the writer, from the state they apply to
        task = asyncio.ensure_future(svc.apply(lambda: rc.commands_for(hook, note)))
        task.add_done_callback(settle)
        try:
            events = await asyncio.wait_for(asyncio.shield(task), cfg.webhook_timeout)
        except asyncio.TimeoutError:
            return failed("writer busy", 503, f"not applied within {cfg.webhook_timeout:g} s "
                                              f"(rocketchat.webhook_timeout); retry")
        except HTTPError as e:      # 503: the journal cannot be made durable
            return failed("journal", e.status, str(e))
        except Refused as e:
            if not permanent(e.error):      # the disk is full, a time refusal
                return failed(type(e.error).__name__, 503, str(e.error))
            reason = f"refused by the router: {type(e.error).__name__}"
            rc.count_ignored(reason)
            log.info("rocketchat: webhook %s of room %r %s: %s", hook.type, hook.id,
                     reason, e.error)
            return JSONResponse({"applied": False, "ignored": f"{reason}: {e.error}"})
        except Exception as e:      # a bug or the host: 500, Rocket.Chat retries it
            return failed("internal error", 500,
                          f"internal error: {type(e).__name__}: {e}")
        if "ignored" in note:
            rc.count_ignored(note["ignored"])
            return JSONResponse({"applied": False, "ignored": note["ignored"]})
        rc.handled += 1
        return JSONResponse({"applied": True, "events": len(events)})

    async def status(request: Request) -> JSONResponse:
        from ..service.http import HTTPError
        try:
            svc.require(request, "supervisor")
        except HTTPError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        return JSONResponse(rc.status())

    return [Route("/rocketchat/queue", queue, methods=["GET"]),
            Route("/rocketchat/webhook", webhook, methods=["POST"]),
            Route("/rocketchat/status", status, methods=["GET"])]
