"""Rocket.Chat omnichannel: pyroute as its "External Service" routing method, kept in
sync by its omnichannel webhooks. See docs/integrations/rocketchat.md.

* ``GET /rocketchat/queue?departmentId=…&ignoreAgentId=…`` with the header
  ``X-RocketChat-Secret-Token``: Rocket.Chat asks whom the next chat of a department
  should go to (it does not say which chat, and asks ten times at once, taking the first
  answer); pyroute answers ``{"username": …}`` — ``Router.pick`` of the department's
  group, which changes nothing — or ``{}`` when nobody can take it.
* ``POST /rocketchat/webhook`` with the header ``X-RocketChat-Livechat-Token``: chat
  start and queued (the chat is submitted), taken (it goes to the agent who took it),
  forwarding (transferred) and close (finished, or cancelled if nobody had taken it), so
  pyroute's view of every agent's load stays Rocket.Chat's.

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
    def commands_for(self, hook: Hook) -> list:
        """The pyroute commands a webhook stands for (possibly none)."""
        router = self.svc.router
        room = hook.id
        if not room:
            return []
        for who in (hook.servedBy, hook.agent):
            if who is not None and who.id and who.username:
                self.agents[who.id] = who.username
        try:
            view = router.request(room)
        except errors.UnknownId:
            view = None
        live = view is not None and view.state in ("queued", "offered", "active")
        agent = (hook.servedBy or hook.agent)
        username = agent.username if agent is not None else None
        group = self.group_of(hook.departmentId)
        t = hook.type
        if t in ("LivechatSessionStart", "LivechatSessionStarted", "LivechatSessionQueued"):
            if view is None and group is not None:
                return [Submit(request=room, channel=self.cfg.channel, group=group)]
            return []
        if t == "LivechatSessionTaken":
            if username is None:
                return []
            known = self._operator_online(username)
            if view is None:
                if group is None:
                    return []
                if known:
                    return [Submit(request=room, channel=self.cfg.channel, group=group,
                                   prefer=username, prefer_for=self.cfg.prefer_for)]
                return [Submit(request=room, channel=self.cfg.channel, group=group)]
            if live and view.operator != username and known:
                return [Transfer(request=room, operator=username)]
            return []
        if t == "LivechatSessionForwarded":
            if not live:
                return []
            if username is not None and self._operator_online(username):
                if view.operator != username:
                    return [Transfer(request=room, operator=username)]
                return []
            if group is not None and group != view.group:
                return [Transfer(request=room, group=group)]
            return []
        if t == "LivechatSession":      # the chat was closed
            if not live:
                return []
            return [Finish(request=room) if view.state == "active" else Cancel(request=room)]
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
        if not rc._token_ok(request.headers.get("x-rocketchat-livechat-token"),
                            cfg.livechat_token):
            return JSONResponse({"error": "missing or wrong X-RocketChat-Livechat-Token"},
                                status_code=401)
        body = await request.body()
        if len(body) > svc.max_body:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            hook = hook_decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            return JSONResponse({"error": f"not an omnichannel webhook: {e}"}, status_code=422)
        cmds = rc.commands_for(hook)
        if not cmds:
            rc.ignored += 1
            return JSONResponse({"applied": 0})
        try:
            events = await svc.apply(cmds)
        except Exception as e:   # answer 200: Rocket.Chat retries failed webhooks
            rc.ignored += 1
            return JSONResponse({"applied": 0, "ignored": str(getattr(e, "error", e))})
        rc.handled += 1
        return JSONResponse({"applied": len(cmds), "events": len(events)})

    return [Route("/rocketchat/queue", queue, methods=["GET"]),
            Route("/rocketchat/webhook", webhook, methods=["POST"])]
