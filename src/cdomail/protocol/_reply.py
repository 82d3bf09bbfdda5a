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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import RemoteProtocolError, printable

if TYPE_CHECKING:
    from ._commands import Command

#: RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it
#: (long EHLO lists, verbose 5xx texts). 8 KiB is aiosmtplib's bound too.
MAX_LINE_LENGTH = 8 * 1024
#: A whole multi-line reply. aiosmtplib uses 32 KiB; EHLO lists of big MTAs stay far below 64 KiB.
MAX_REPLY_LENGTH = 64 * 1024

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


@dataclass(frozen=True, slots=True, init=False)
class Reply:
    """One complete server reply.

    ``command`` is the command this reply answers (``None`` for the greeting);
    ``tag`` is whatever the driver attached to that command when it sent it, so a
    pipelined batch can attribute each reply to its own message.
    """

    code: int
    lines: tuple[str, ...]
    command: Command | None = field(default=None, compare=False)
    tag: object = field(default=None, compare=False)

    def __init__(
        self,
        code: int,
        lines: tuple[str, ...],
        command: Command | None = None,
        tag: object = None,
        _set: Callable[[object, str, object], None] = object.__setattr__,
    ) -> None:
        # Written out because a pipelined batch makes four of these per message: the
        # generated frozen __init__ looks object.__setattr__ up again for every field.
        _set(self, "code", code)
        _set(self, "lines", lines)
        _set(self, "command", command)
        _set(self, "tag", tag)

    @property
    def enhanced_status(self) -> str | None:
        """The RFC 3463 status code at the start of the text (``"5.7.0"``), if any."""
        match = _ENHANCED.match(self.lines[0]) if self.lines else None
        # RFC 3463 §2: the class digit must agree with the reply code's first digit.
        if match and int(match.group(1)) == self.code // 100:
            return ".".join(match.groups())
        return None

    @property
    def verb(self) -> str:
        """The verb of the command this reply answers (``""`` for the greeting)."""
        return self.command.verb if self.command is not None else ""

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
        # For people: the server chose the text (terminal spoofing); ``.text`` stays raw.
        return f"{self.code} {printable(self.text)}"


_VALID_FIRST_DIGITS = frozenset(b"2345")
#: A well-formed reply line (RFC 5321 §4.2): code, then " ", "-" or nothing, then text.
#: Lines it does not match go through ``_check_line``, which names the problem.
#: How many distinct one-line replies a parser remembers, and how long they may be.
_KNOWN_LINES = 64
_KNOWN_LINE_MAX = 128
#: Lines that are each a whole reply: "NNN text" or a bare "NNN" (no "NNN-" continuation).
_SINGLE_LINE_REPLIES = re.compile(rb"(?:[2-5][0-9][0-9](?: [^\n]*|\r?)\n)*")
_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -]|(?=\r?\Z))(.*?)\r?", re.DOTALL)


class ReplyParser:
    """Accumulates received bytes and yields complete replies as ``(code, lines)``.

    ``feed()`` takes any split of the byte stream, one byte at a time included.
    Hot path: one ``split`` per received chunk and slicing per line, no regex.
    """

    def __init__(
        self, *, max_line_length: int = MAX_LINE_LENGTH, max_reply_length: int = MAX_REPLY_LENGTH
    ) -> None:
        self._buffer = b""
        self._lines: list[str] = []
        self._reply_size = 0
        self._code: bytes | None = None
        self._max_line = max_line_length
        self._max_reply = max_reply_length
        #: One-line replies seen before, parsed (bounded: at most _KNOWN_LINES short lines).
        self._known: dict[bytes, tuple[int, tuple[str, ...]]] = {}

    @property
    def buffered(self) -> int:
        """Bytes received and not yet part of a returned reply (partial lines included)."""
        return len(self._buffer) + self._reply_size

    def clear(self) -> None:
        """Forget everything buffered (used only where buffered data is already an error)."""
        self._buffer = b""
        self._lines.clear()
        self._reply_size = 0
        self._code = None

    def feed(self, data: bytes) -> list[tuple[int, tuple[str, ...]]]:
        """Add received bytes; return the replies they complete, in order."""
        data = self._buffer + data if self._buffer else data
        complete = data.split(b"\n")
        rest = complete.pop()
        if len(rest) > self._max_line:
            raise RemoteProtocolError(
                f"reply line longer than {self._max_line} bytes without a line end"
            )
        self._buffer = rest
        end = len(data) - len(rest)
        if (
            end <= self._max_line
            and not self._lines
            and _SINGLE_LINE_REPLIES.fullmatch(data, 0, end)
        ):
            # Common case: only one-line replies (a pipelined group's MAIL/RCPT/DATA/end
            # of data), too short for any bound: checked by one match, no per-line calls.
            # A server says the same few lines again and again ("250 2.1.0 Ok"), so each
            # line's parsed form is remembered (the tuples are immutable, safe to share).
            known = self._known
            return [known.get(line) or self._learn(line) for line in complete]
        replies: list[tuple[int, tuple[str, ...]]] = []
        for raw in complete:
            reply = self._take_line(raw)
            if reply is not None:
                replies.append(reply)
        return replies

    def _learn(self, line: bytes) -> tuple[int, tuple[str, ...]]:
        """Parse a line already known to be a whole one-line reply; remember short ones."""
        text = line[4:-1] if line.endswith(b"\r") else line[4:]
        parsed = (int(line[:3]), (text.decode("utf-8", "replace"),))
        if len(line) <= _KNOWN_LINE_MAX and len(self._known) < _KNOWN_LINES:
            self._known[line] = parsed
        return parsed

    def _take_line(self, raw: bytes) -> tuple[int, tuple[str, ...]] | None:
        length = len(raw) + 1
        if length > self._max_line + 2:
            raise RemoteProtocolError(f"reply line longer than {self._max_line} bytes")
        self._reply_size += length
        if self._reply_size > self._max_reply:
            raise RemoteProtocolError(f"reply longer than {self._max_reply} bytes")
        match = _REPLY_LINE.fullmatch(raw)
        if match is not None and (self._code is None or match[1] == self._code):
            # The usual, well-formed line: one C-level match instead of the checks below.
            code, separator, text_bytes = match.groups()
        else:
            code, separator, text_bytes = self._check_line(raw)
        # RFC 5321 §4.2: text is meant to be ASCII; decode tolerantly, act on the code only.
        text = text_bytes.decode("utf-8", "replace")
        if separator == b"-":
            self._code = code
            self._lines.append(text)
            return None
        lines = (*self._lines, text) if self._lines else (text,)
        self._lines = []
        self._code = None
        self._reply_size = 0
        return int(code), lines

    def _check_line(self, raw: bytes) -> tuple[bytes, bytes, bytes]:
        """Split a line the fast pattern did not accept, or name what is wrong with it."""
        line = raw[:-1] if raw.endswith(b"\r") else raw
        code = line[:3]
        if len(code) != 3 or not code.isdigit() or code[0] not in _VALID_FIRST_DIGITS:
            shown = line[:40].decode("ascii", "backslashreplace")
            raise RemoteProtocolError(f"not an SMTP reply line: {shown!r}")
        separator = line[3:4]
        if separator not in (b"", b" ", b"-"):
            raise RemoteProtocolError(f"malformed reply line after code {code.decode()}")
        if self._code is not None and code != self._code:
            raise RemoteProtocolError(
                f"reply continued with code {code.decode()} after {self._code.decode()}"
            )
        return code, separator, line[4:]
