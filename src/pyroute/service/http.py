"""HTTP helpers shared by the service and the integrations' routes: errors as responses,
JSON or MessagePack by the request's headers, bounded bodies, ids in URLs."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MSGPACK = "application/msgpack"
JSON_ENC = msgspec.json.Encoder()
MP_ENC = msgspec.msgpack.Encoder()


class HTTPError(Exception):
    """An answer other than 200: ``status``, a message that says what to fix, and extra
    fields for the JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def respond(request: Request, data: Any, status: int = 200) -> Response:
    """``data`` as MessagePack when the request accepts it, else JSON."""
    if MSGPACK in request.headers.get("accept", ""):
        return Response(MP_ENC.encode(data), status_code=status, media_type=MSGPACK)
    return Response(JSON_ENC.encode(data), status_code=status,
                    media_type="application/json")


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """``{"error": message, ...}`` with ``status``."""
    return JSONResponse({"error": message, **extra}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body; HTTPError 413 once it is over ``limit`` bytes (told by
    Content-Length, or counted as it arrives)."""
    length = request.headers.get("content-length")
    if length is not None and re.fullmatch(r"[0-9]{1,18}", length) and int(length) > limit:
        raise HTTPError(413, f"body of {length} bytes is over the limit of {limit}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPError(413, f"body is over the limit of {limit} bytes")
    return body


def decode_body(request: Request, body: bytes, type_: Any) -> Any:
    """``body`` decoded as ``type_`` (MessagePack when the Content-Type says so, else
    JSON); HTTPError 422 naming the field that is wrong."""
    mp = MSGPACK in request.headers.get("content-type", "")
    try:
        if mp:
            return msgspec.msgpack.decode(body, type=type_)
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as e:
        raise HTTPError(422, f"invalid body: {e}") from None
    except msgspec.DecodeError as e:
        raise HTTPError(422, f"body is not valid {'MessagePack' if mp else 'JSON'}: {e}") \
            from None


def ident(text: str) -> Any:
    """Ids in a URL are strings; ``int:42`` names the integer id 42."""
    if text.startswith("int:") and re.fullmatch(r"-?[0-9]{1,19}", text[4:]):
        return int(text[4:])
    return text
