"""Rocket.Chat omnichannel: pyroute as its "External Service" routing method, kept in
sync by its omnichannel webhooks. See docs/integrations/rocketchat.md.

* ``GET /rocketchat/queue?departmentId=…&ignoreAgentId=…`` with the header
  ``X-RocketChat-Secret-Token``: Rocket.Chat asks whom the next chat of a department
  should go to (it does not say which chat, and asks ten times at once, taking the first
  answer); pyroute answers ``{"username": …}`` — ``Router.pick`` of the department's
  group, which changes nothing — or ``{}`` when nobody can take it.
* ``POST /rocketchat/webhook`` with the header ``X-RocketChat-Livechat-Token``: taken
  (the chat is submitted, preferring the agent who took it), forwarding (transferred, or
  released when it goes back to a queue) and close (finished, or cancelled if nobody had
  taken it), so pyroute's view of every agent's load stays Rocket.Chat's; start and
  queued change nothing (the chat waits in Rocket.Chat's own queue).

Agents are pyroute operators whose ids are their Rocket.Chat usernames; departments map
to groups (``departments``, or a group of the department's id, or ``default_group``).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any, Optional

import msgspec

from .. import errors
from ..commands import Cancel, Finish, Submit, Transfer


class RocketChatConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[rocketchat]`` settings (a TOML file given to ``pyroute serve --rocketchat``)."""

    secret_token: str            # Rocket.Chat's "External Queue Service Secret Token"
    livechat_token: str          # Rocket.Chat's omnichannel webhook "Secret Token"
    channel: str = "web"         # the pyroute channel livechat conversations come in on
    departments: dict[str, str] = {}   # Rocket.Chat department id -> pyroute group
    default_group: Optional[str] = None  # chats with no (mapped) department
    agents: dict[str, str] = {}  # agent user id -> username (also learned from webhooks)
    prefer_for: float = 86400.0  # a taken chat waits in pyroute's view for its agent

    @classmethod
    def from_toml(cls, path: str | Path) -> "RocketChatConfig":
        try:
            raw = msgspec.toml.decode(Path(path).read_bytes())
        except OSError as e:
            raise errors.ConfigError(f"cannot read {path}: {e.strerror}") from None
        except msgspec.DecodeError as e:
            raise errors.ConfigError(f"{path}: not valid TOML: {e}") from None
        try:
            return msgspec.convert(raw.get("rocketchat", raw), cls)
        except msgspec.ValidationError as e:
            raise errors.ConfigError(f"{path}: {e}") from None

    def check(self, config: Any) -> None:
        """Refuse names the router does not know."""
        groups = {g.name for g in config.groups}
        if self.channel not in {c.name for c in config.channels}:
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


class _Agent(msgspec.Struct):
    id: Optional[str] = msgspec.field(name="_id", default=None)
    username: Optional[str] = None


class Hook(msgspec.Struct):
    """The fields of an omnichannel webhook that matter here (others are ignored)."""

    type: str
    id: Optional[str] = msgspec.field(name="_id", default=None)   # the room
    departmentId: Optional[str] = None
    servedBy: Optional[_Agent] = None
    agent: Optional[_Agent] = None
    oldDepartmentId: Optional[str] = None


def conversation_id(room: str, k: int) -> str:
    """The id of the ``k``-th pyroute conversation (1, 2, ...) of a Rocket.Chat room:
    ``room``, ``room#2``, ``room#3`` ... for a room id without ``#`` (all of Rocket.Chat's
    own), and ``#room#1``, ``#room#2`` ... for one with ``#``. No two (room, k) share an
    id: an id of the first kind has at most one ``#`` and never starts with one, and one
    of the second kind starts with ``#`` and its k follows the last ``#``."""
    if "#" not in room:
        return room if k == 1 else f"{room}#{k}"
    return f"#{room}#{k}"


class RocketChat:
    def __init__(self, svc: Any, cfg: RocketChatConfig) -> None:
        cfg.check(svc.router.config)
        self.svc = svc
        self.cfg = cfg
        self.groups = {g.name for g in svc.router.config.groups}
        self.agents = dict(cfg.agents)     # user id -> username
        self.handled = 0
        self.ignored = 0

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
    def queue(self, headers: Any, query: Any) -> tuple[int, dict]:
        if not self._token_ok(headers.get("x-rocketchat-secret-token"), self.cfg.secret_token):
            return 401, {"error": "missing or wrong X-RocketChat-Secret-Token"}
        group = self.group_of(query.get("departmentId"))
        if group is None:
            return 200, {}
        ignore = query.get("ignoreAgentId")
        exclude = self.agents.get(ignore, ignore) if ignore else None
        who = self.svc.router.pick(group, self.cfg.channel, exclude)
        return 200, ({"username": who} if who is not None else {})

    # ------------------------------------------------------------------ webhooks
    def _current(self, room: str) -> tuple[Any, Optional[str], str]:
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

    def commands_for(self, hook: Hook) -> list:
        """The pyroute commands a webhook stands for (possibly none), from the router's
        state at the moment they are applied (the writer calls this)."""
        room = hook.id
        if not room:
            return []
        for who in (hook.servedBy, hook.agent):
            if who is not None and who.id and who.username:
                self.agents[who.id] = who.username
        view, ident, fresh = self._current(room)
        live = (view is not None and view.state in ("queued", "offered", "active")
                and view.channel == self.cfg.channel)
        agent = hook.servedBy or hook.agent
        username = agent.username if agent is not None else None
        release = ([Finish(request=ident) if view.state == "active" else Cancel(request=ident)]
                   if live else [])
        t = hook.type
        if t in ("LivechatSessionTaken", "LivechatSessionForwarded"):
            if username is None or not self._operator_online(username):
                # an agent pyroute does not route to (unknown, offline), or back to
                # Rocket.Chat's queue: nobody in pyroute holds the chat any more
                return release
            if live:
                if view.operator == username:
                    return []
                return [Transfer(request=ident, operator=username)]
            group = self.group_of(hook.departmentId)
            mine = self.svc.router.operator(username).groups
            if group not in mine:          # the chat goes to the agent: one of their groups
                group = mine[0] if mine else None
            if group is None:
                return []
            return [Submit(request=fresh, channel=self.cfg.channel, group=group,
                           prefer=username, prefer_for=self.cfg.prefer_for)]
        if t == "LivechatSession":      # the chat was closed
            return release
        # Start and Queued: the chat waits in Rocket.Chat's own queue; pyroute hears of it
        # when an agent takes it (so it never assigns a chat Rocket.Chat did not)
        return []

    def _operator_online(self, username: str) -> bool:
        try:
            return self.svc.router.operator(username).status == "online"
        except (errors.UnknownId, errors.InvalidArgument):
            return False


def routes(svc: Any, cfg: RocketChatConfig) -> list:
    """Starlette routes of the integration, sharing the service's writer."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    rc = RocketChat(svc, cfg)
    svc.rocketchat = rc
    hook_decoder = msgspec.json.Decoder(Hook)

    async def queue(request: Request) -> JSONResponse:
        status, body = rc.queue(request.headers, request.query_params)
        return JSONResponse(body, status_code=status)

    async def webhook(request: Request) -> JSONResponse:
        from ..service.http import HTTPError, Refused, decoding, read_body
        if not rc._token_ok(request.headers.get("x-rocketchat-livechat-token"),
                            cfg.livechat_token):
            return JSONResponse({"error": "missing or wrong X-RocketChat-Livechat-Token"},
                                status_code=401)
        try:
            body = await read_body(request, svc.max_body, svc.body_timeout)
            hook = decoding(lambda: hook_decoder.decode(body), what="omnichannel webhook")
            # the commands are worked out by the writer, from the state they apply to
            events = await svc.apply(lambda: rc.commands_for(hook))
        except HTTPError as e:      # 408, 413, 422; 503: Rocket.Chat retries it
            headers = {"Connection": "close"} if e.status == 408 else None
            return JSONResponse({"error": str(e)}, status_code=e.status, headers=headers)
        except Refused as e:   # refused by the router: answer 200 (a retry would be too)
            rc.ignored += 1
            return JSONResponse({"applied": False, "ignored": str(e.error)})
        except Exception as e:      # a bug or the host: 500, Rocket.Chat retries it
            return JSONResponse({"error": f"internal error: {type(e).__name__}: {e}"},
                                status_code=500)
        rc.handled += 1
        return JSONResponse({"applied": True, "events": len(events)})

    return [Route("/rocketchat/queue", queue, methods=["GET"]),
            Route("/rocketchat/webhook", webhook, methods=["POST"])]
