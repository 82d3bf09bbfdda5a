"""Reply parsing: bytes in, :class:`Reply` values out (RFC 5321 §4.2).

A reply is one or more lines ``NNN-text`` ending with a line ``NNN text`` (or a
bare ``NNN``). The parser is deliberately tolerant where servers are sloppy
(LF-only line ends, undecodable text) and strict where sloppiness is dangerous:
every line must start with the same three-digit code, an empty line is an
error, and memory is bounded per line and per reply, because a hostile server
can otherwise stream endless continuations or a line without an end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import RemoteProtocolError

if TYPE_CHECKING:
    from ._commands import Command

#: RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it
#: (long EHLO lists, verbose 5xx texts). 8 KiB is aiosmtplib's bound too.
MAX_LINE_LENGTH = 8 * 1024
#: A whole multi-line reply. aiosmtplib uses 32 KiB; EHLO lists of big MTAs stay far below 64 KiB.
MAX_REPLY_LENGTH = 64 * 1024

_CODE = re.compile(rb"[2-5][0-9][0-9]")
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete server reply.

    ``command`` is the command this reply answers (``None`` for the greeting);
    ``tag`` is whatever the driver attached to that command when it sent it, so a
    pipelined batch can attribute each reply to its own message.
    """

    code: int
    lines: tuple[str, ...]
    enhanced_status: str | None = None
    command: Command | None = field(default=None, compare=False)
    tag: object = field(default=None, compare=False)

    @property
    def text(self) -> str:
        """The reply text, lines joined with newlines."""
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        """2xx or 3xx."""
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        """4xx: try again later."""
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def _enhanced_status(code: int, first_line: str) -> str | None:
    match = _ENHANCED.match(first_line)
    # RFC 3463 §2: the class digit must agree with the reply code's first digit.
    if match and int(match.group(1)) == code // 100:
        return ".".join(match.groups())
    return None


class ReplyParser:
    """Accumulates received bytes and yields complete replies.

    ``feed()`` takes any split of the byte stream, one byte at a time included.
    """

    def __init__(
        self, *, max_line_length: int = MAX_LINE_LENGTH, max_reply_length: int = MAX_REPLY_LENGTH
    ) -> None:
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._reply_size = 0
        self._code: bytes | None = None
        self._max_line = max_line_length
        self._max_reply = max_reply_length

    @property
    def buffered(self) -> int:
        """Bytes received and not yet part of a returned reply (partial lines included)."""
        return len(self._buffer) + self._reply_size

    def clear(self) -> None:
        """Forget everything buffered (used only where buffered data is already an error)."""
        self._buffer.clear()
        self._lines.clear()
        self._reply_size = 0
        self._code = None

    def feed(self, data: bytes) -> list[Reply]:
        """Add received bytes; return the replies they complete, in order."""
        self._buffer += data
        replies: list[Reply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max_line:
                    raise RemoteProtocolError(
                        f"reply line longer than {self._max_line} bytes without a line end"
                    )
                return replies
            if end + 1 > self._max_line + 2:
                raise RemoteProtocolError(f"reply line longer than {self._max_line} bytes")
            raw = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            reply = self._take_line(raw)
            if reply is not None:
                replies.append(reply)

    def _take_line(self, raw: bytes) -> Reply | None:
        self._reply_size += len(raw)
        if self._reply_size > self._max_reply:
            raise RemoteProtocolError(f"reply longer than {self._max_reply} bytes")
        line = raw.rstrip(b"\r\n")
        code = line[:3]
        if not _CODE.fullmatch(code):
            shown = line[:40].decode("ascii", "backslashreplace")
            raise RemoteProtocolError(f"not an SMTP reply line: {shown!r}")
        separator = line[3:4]
        if separator not in (b"", b" ", b"-"):
            raise RemoteProtocolError(f"malformed reply line after code {code.decode()}")
        if self._code is not None and code != self._code:
            raise RemoteProtocolError(
                f"reply continued with code {code.decode()} after {self._code.decode()}"
            )
        self._code = code
        # RFC 5321 §4.2: text is meant to be ASCII; decode tolerantly, act on the code only.
        self._lines.append(line[4:].decode("utf-8", "replace"))
        if separator == b"-":
            return None
        number = int(code)
        lines = tuple(self._lines)
        self._lines = []
        self._code = None
        self._reply_size = 0
        return Reply(number, lines, _enhanced_status(number, lines[0]))
