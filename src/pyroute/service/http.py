"""HTTP helpers shared by the service and the integrations' routes: errors as responses,
JSON or MessagePack by the request's headers, bounded bodies read with a timeout, ids in
URLs."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Callable, Optional

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from .. import errors

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


class Refused(Exception):
    """The router refused a command of the request: ``error`` (a RoutingError), and the
    ``events`` of the commands before it, which stay applied."""

    def __init__(self, error: errors.RoutingError, events: list) -> None:
        super().__init__(str(error))
        self.error = error
        self.events = events


def respond(request: Request, data: Any, status: int = 200) -> Response:
    """``data`` as MessagePack when the request accepts it, else JSON."""
    if MSGPACK in request.headers.get("accept", ""):
        return Response(MP_ENC.encode(data), status_code=status, media_type=MSGPACK)
    return Response(JSON_ENC.encode(data), status_code=status,
                    media_type="application/json")


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """``{"error": message, ...}`` with ``status``; a 408 also closes the connection (the
    rest of the body may still be on its way)."""
    headers = {"Connection": "close"} if status == 408 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def read_body(request: Request, limit: int, timeout: Optional[float] = None) -> bytes:
    """The request's body; HTTPError 413 once it is over ``limit`` bytes (told by
    Content-Length, or counted as it arrives), 408 when the next part of it takes more
    than ``timeout`` seconds to arrive (None: no limit)."""
    length = request.headers.get("content-length")
    if length is not None and re.fullmatch(r"[0-9]{1,18}", length) and int(length) > limit:
        raise HTTPError(413, f"body of {length} bytes is over the limit of {limit}")
    body = b""
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            return body
        except asyncio.TimeoutError:
            raise HTTPError(408, f"the request body stalled: nothing arrived for "
                                 f"{timeout:g} s") from None
        except ClientDisconnect:
            raise HTTPError(400, "the client went away before its body was complete") \
                from None
        body += chunk
        if len(body) > limit:
            raise HTTPError(413, f"body is over the limit of {limit} bytes")


def decoding(decode: Callable[[], Any], fmt: str = "JSON", what: str = "body") -> Any:
    """``decode()``, with every way a body can fail to decode as HTTPError 422 naming the
    problem: the field path of a wrong value, bad syntax, nesting too deep for the
    decoder (msgspec raises RecursionError), a wire-format refusal (InvalidArgument)."""
    try:
        return decode()
    except msgspec.ValidationError as e:
        raise HTTPError(422, f"invalid {what}: {e}") from None
    except msgspec.DecodeError as e:
        raise HTTPError(422, f"{what} is not valid {fmt}: {e}") from None
    except RecursionError:
        raise HTTPError(422, f"{what} is nested too deeply to decode ({fmt})") from None
    except errors.InvalidArgument as e:
        raise HTTPError(422, str(e)) from None


def decode_body(request: Request, body: bytes, type_: Any) -> Any:
    """``body`` decoded as ``type_`` (MessagePack when the Content-Type says so, else
    JSON); HTTPError 422 naming the field that is wrong."""
    if MSGPACK in request.headers.get("content-type", ""):
        return decoding(lambda: msgspec.msgpack.decode(body, type=type_), "MessagePack")
    return decoding(lambda: msgspec.json.decode(body, type=type_))


def ident(text: str) -> Any:
    """An id in a URL (its path segment, which may hold ``/``): a string, except that
    ``int:42`` names the integer id 42 and ``str:`` names the string after it (so
    ``str:int:7`` is the string ``"int:7"``, ``str:str:x`` the string ``"str:x"``)."""
    if text.startswith("str:"):
        return text[4:]
    if text.startswith("int:") and re.fullmatch(r"-?[0-9]{1,19}", text[4:]):
        return int(text[4:])
    return text
