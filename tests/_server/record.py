"""What reached the hostile server: every received line with the TLS state at that moment.

Tests assert on this record ("no AUTH and no MAIL ever arrived", "the EHLO after TLS was sent
inside TLS", "exactly one message, no bare LF"), so it stores raw bytes, never a parsed view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

LineKind = Literal["command", "auth", "data", "bdat", "leftover"]


@dataclass(frozen=True)
class Line:
    """One unit received: a command line, an AUTH continuation, a body line, a BDAT chunk, or
    bytes left unread in the plaintext buffer when TLS started (``leftover``)."""

    tls: bool
    data: bytes
    kind: LineKind

    @property
    def verb(self) -> str:
        """The command verb in upper case ("" for non-command lines)."""
        if self.kind != "command":
            return ""
        words = self.data.split(maxsplit=1)
        return words[0].decode("latin-1").upper() if words else ""


@dataclass
class SessionRecord:
    """The record of one TCP connection."""

    lines: list[Line] = field(default_factory=list)
    #: Decoded (dot-unstuffed) DATA bodies and reassembled BDAT messages, CRLF kept.
    bodies: list[bytes] = field(default_factory=list)
    #: Every write the server made: (tls, bytes).
    sent: list[tuple[bool, bytes]] = field(default_factory=list)
    #: Notable moments: "tls-established", "tls-failed: ...", "eof", "sync-error", "bare-lf", ...
    events: list[str] = field(default_factory=list)
    #: Set when the session thread has finished (the connection is closed on our side).
    finished: threading.Event = field(default_factory=threading.Event)
    #: True when the script told the server to stop reading (it never finishes on its own).
    stalled: bool = False

    def commands(self) -> list[tuple[str, bool]]:
        """(verb, tls) for every command line, in order."""
        return [(line.verb, line.tls) for line in self.lines if line.kind == "command"]


def decode_data_body(stuffed_lines: list[bytes]) -> bytes:
    """Undo dot-stuffing (RFC 5321 §4.5.2) on body lines that exclude the final ``.`` line."""
    return b"".join(line[1:] if line.startswith(b".") else line for line in stuffed_lines)


def split_data_stream(stream: bytes, *, lenient: bool = True) -> tuple[list[bytes], bytes]:
    """Read a DATA stream as a server would: return (decoded messages, bytes left over).

    A message ends at a line that is exactly ``.`` followed by CRLF. ``lenient`` servers (like
    the vulnerable ones of SMTP smuggling) also accept a bare LF as the end of the previous line;
    strict ones require CRLF. Bytes after the first end-of-data are read as further "messages"
    only if they again end with end-of-data, which is how smuggling shows up as an extra message.
    """
    messages: list[bytes] = []
    current: list[bytes] = []
    start = 0
    position = 0
    previous_ended_line = True
    while True:
        newline = stream.find(b"\n", position)
        if newline < 0:
            break
        line = stream[position : newline + 1]
        position = newline + 1
        ended_properly = line.endswith(b"\r\n") or lenient
        if line == b".\r\n" and previous_ended_line:
            messages.append(decode_data_body(current))
            current = []
            start = position
        else:
            current.append(line)
        previous_ended_line = ended_properly
    return messages, stream[start:]
