"""Reading a Rocket.Chat webhook body without holding the room's messages.

Every omnichannel session event carries all of the room's messages (``sendToCRM`` in
Rocket.Chat's ``apps/meteor/app/livechat/server/hooks/sendToCRM.ts`` puts
``Messages.findVisibleByRoomId`` into ``postData.messages``), so a close of a long chat is
megabytes — tens of them with file attachments' metadata — while pyroute needs a handful
of top-level fields. :class:`SkipMessages` is fed the body chunk by chunk as it arrives
and keeps every byte except the value of the top-level ``"messages"`` key, which it
replaces with ``null`` and never stores: the memory held is the kept part (bounded by the
service's ``max_body``) plus the chunk being scanned.

It is a scanner, not a parser: it follows strings (with escapes, also across chunk
boundaries) and nesting depth, which is all it takes to know where the top-level
``messages`` value starts and ends. Whether the kept bytes are valid JSON is left to the
decoder that reads them (msgspec), which reports a malformed body as before.
"""

from __future__ import annotations

import re

_IN_STRING = re.compile(rb'["\\]')
_OUTSIDE = re.compile(rb'[\[\]{}",:"]')
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_KEY = b"messages"
#: inside the skipped value: a run of anything but brackets, complete strings included
_SKIP_RUN = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+')


class TooLarge(Exception):
    """The kept part of the body is over the limit."""


class SkipMessages:
    """Feed chunks with :meth:`feed`, then :meth:`kept` is the body with the top-level
    ``messages`` value replaced by ``null``. O(n) in the body's bytes; each chunk is
    scanned with regular expressions that jump from one quote, bracket or brace to the
    next, so the cost is per token, not per byte, and the skipped part is never copied."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = bytearray()
        self.depth = 0
        self.in_str = False
        self.esc = False              # a backslash ended the previous chunk, in a string
        self.key: bytearray | None = None   # a top-level string being read (a key?)
        self.last_str: bytes | None = None  # the last complete top-level string
        self.skipping = False         # inside the messages value
        self.skip_depth = 0           # the depth the messages value returns to
        self.skip_start = False       # after "messages": , before its value
        self.skip_scalar = False      # the messages value is a scalar (null, 0, ...)
        self.seen = 0                 # bytes fed

    def kept(self) -> bytes:
        return bytes(self.out)

    def _keep(self, data: bytes | memoryview) -> None:
        if not self.skipping:
            self.out += data
            if len(self.out) > self.limit:
                raise TooLarge(f"the webhook's fields other than messages are over the "
                               f"limit of {self.limit} bytes")

    def feed(self, chunk: bytes) -> None:
        self.seen += len(chunk)
        i, n = 0, len(chunk)
        while i < n:
            if self.skip_start:                    # the messages value begins here
                m = _NOT_SPACE.search(chunk, i)
                if m is None:
                    return
                i = m.start()
                self.skip_start = False
                c = chunk[i]
                if c in b"[{":
                    self.skip_depth = self.depth
                    self.depth += 1
                    i += 1
                elif c == 0x22:                    # a string value
                    self.skip_depth = self.depth
                    self.in_str = True
                    i += 1
                else:                              # a scalar: up to the next , or }
                    self.skip_scalar = True
                continue
            if self.in_str:
                if self.esc:
                    self.esc = False
                    if self.key is not None:
                        self.key = None            # an escaped key is not "messages"
                    self._keep(chunk[i:i + 1])
                    i += 1
                    continue
                m = _IN_STRING.search(chunk, i)
                if m is None:
                    self._str_part(chunk, i, n)
                    return
                j = m.start()
                if chunk[j] == 0x5C:               # backslash
                    self._str_part(chunk, i, j + 1)
                    self.key = None
                    if j + 1 < n:
                        self._keep(chunk[j + 1:j + 2])
                        i = j + 2
                    else:
                        self.esc = True
                        i = n
                    continue
                self._str_part(chunk, i, j + 1)    # through the closing quote
                self.in_str = False
                if self.key is not None:
                    self.last_str = bytes(self.key[:-1])
                    self.key = None
                if self.skipping and self.depth == self.skip_depth:
                    self._end_skip()
                i = j + 1
                continue
            if self.skipping and not self.skip_scalar:
                run = _SKIP_RUN.match(chunk, i)        # always matches (maybe empty)
                assert run is not None
                i = run.end()                          # jumps over whole strings in C
                if i >= n:
                    return
                c = chunk[i]
                if c == 0x22:                      # a string the chunk cuts: slow path
                    self.in_str = True
                    i += 1
                elif c in b"[{":
                    self.depth += 1
                    i += 1
                else:
                    self.depth -= 1
                    i += 1
                    if self.depth == self.skip_depth:
                        self._end_skip()
                continue
            m = _OUTSIDE.search(chunk, i)
            if m is None:
                if not self.skip_scalar:
                    self._keep(chunk[i:])
                return
            j = m.start()
            c = chunk[j]
            if self.skip_scalar:
                if c in b",}]" and self.depth == self.skip_depth + 0:
                    self.skip_scalar = False
                    self.skipping = False
                    i = j                          # the , or } is kept, handled next
                    continue
                i = j + 1
                continue
            self._keep(chunk[i:j + 1])
            i = j + 1
            if c == 0x22:
                self.in_str = True
                if self.depth == 1 and not self.skipping:
                    self.key = bytearray()
            elif c in b"[{":
                self.depth += 1
            elif c in b"]}":
                self.depth -= 1
                if self.skipping and self.depth == self.skip_depth:
                    self._end_skip()
            elif c == 0x3A:                        # a colon
                if self.depth == 1 and not self.skipping and self.last_str == _KEY:
                    self._keep(b"null")
                    self.skipping = True
                    self.skip_start = True
                    self.skip_depth = self.depth
                self.last_str = None
            elif c == 0x2C:
                self.last_str = None

    def _str_part(self, chunk: bytes, i: int, j: int) -> None:
        self._keep(chunk[i:j])
        if self.key is not None:
            if len(self.key) + (j - i) > len(_KEY) + 1:
                self.key = None                    # too long to be "messages"
            else:
                self.key += chunk[i:j]

    def _end_skip(self) -> None:
        self.skipping = False
