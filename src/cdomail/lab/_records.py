"""What the lab remembers: transcripts of sessions and the messages it accepted.

These are plain values shared between the lab's event-loop thread (which
appends) and the test's thread (which reads). Appending to a list and copying
it are atomic under the GIL, so readers take snapshots with ``list(...)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["LineKind", "SessionRecord", "StoredMessage", "TranscriptLine"]

#: What a transcript line is: a command line, a reply line, a line of DATA
#: content, a BDAT chunk (one entry per chunk), or a SASL exchange line
#: (always stored redacted).
LineKind = Literal["command", "reply", "data", "bdat", "auth"]


@dataclass(frozen=True)
class TranscriptLine:
    """One line that crossed the wire, without its CRLF.

    ``direction`` is ``"C"`` for client to server and ``"S"`` for server to
    client; ``tls`` tells whether the connection was encrypted at that moment.
    AUTH secrets are already replaced by ``***``.
    """

    direction: Literal["C", "S"]
    tls: bool
    line: bytes
    kind: LineKind = "command"


@dataclass(frozen=True)
class StoredMessage:
    """A message the lab accepted, exactly as received.

    ``data`` is the content after un-dot-stuffing (DATA) or the concatenated
    chunks (BDAT), byte for byte; the Maildir copy alone carries the
    ``X-Cdomail-Lab-*`` trace headers. ``encrypted`` tells whether TLS was active
    when MAIL FROM arrived. ``rcpt_options`` holds one list per recipient.
    """

    listener: str
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    rcpt_options: list[list[str]]
    data: bytes
    encrypted: bool
    tls_version: str | None
    authenticated_as: str | None
    session_id: str
    maildir_key: str
    chunked: bool = False
    #: The cipher suite in use at MAIL time (None in plaintext).
    tls_cipher: str | None = None
    #: When the final reply was given (seconds since the epoch; 0.0 when unknown).
    received_at: float = 0.0


@dataclass
class SessionRecord:
    """Everything one client connection did, as the server saw it.

    The lab's thread appends while the session runs; read with the helper
    methods, which return snapshots. ``encrypted_at_mail`` has one entry per
    accepted MAIL FROM, in order.
    """

    id: str
    listener: str
    peer: tuple[str, int] | None
    transcript: list[TranscriptLine] = field(default_factory=list)
    encrypted_at_mail: list[bool] = field(default_factory=list)
    tls_version: str | None = None
    authenticated_as: str | None = None
    closed: threading.Event = field(default_factory=threading.Event, repr=False)
    #: When the lab saw the connection open and its session end (``time.monotonic()``;
    #: None while open), so a test can count simultaneous sessions over time. The end is
    #: when the server finished, not always when the client left: over TLS, a client that
    #: closes in the middle of pipelined commands still has the buffered ones worked
    #: through first (asyncio keeps the half-closed TLS session while aiosmtpd's reader is
    #: paused; the replies are dropped), each after the lab's latency. To count a client's
    #: own connections, watch them at the network (tests/_forwarder.py does).
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None

    def lines(self, direction: Literal["C", "S"] | None = None) -> list[TranscriptLine]:
        """A snapshot of the transcript, optionally of one direction only."""
        snapshot = list(self.transcript)
        if direction is None:
            return snapshot
        return [entry for entry in snapshot if entry.direction == direction]

    def commands(self) -> list[tuple[str, bool]]:
        """``(VERB, tls)`` for every command line the client sent, in order.

        DATA content, BDAT chunks and SASL responses are not commands and are
        left out, so a message body saying "MAIL FROM" cannot fool a test.
        """
        result: list[tuple[str, bool]] = []
        for entry in self.lines("C"):
            if entry.kind != "command":
                continue
            verb = entry.line.split(b" ", 1)[0].upper().decode("ascii", "replace")
            result.append((verb, entry.tls))
        return result

    def plaintext_commands(self) -> list[str]:
        """The verbs received while the connection was not encrypted."""
        return [verb for verb, tls in self.commands() if not tls]

    def replies(self) -> list[tuple[bytes, bool]]:
        """``(line, tls)`` for every reply line the server sent."""
        return [(entry.line, entry.tls) for entry in self.lines("S")]

    def text(self) -> str:
        """The transcript as readable text, one ``C:``/``S:`` line each (TLS lines marked)."""
        rendered: list[str] = []
        for entry in self.lines():
            lock = "🔒" if entry.tls else "  "
            body = entry.line.decode("utf-8", "backslashreplace")
            if entry.kind == "bdat":
                body = f"<{len(entry.line)} octets of BDAT chunk>"
            rendered.append(f"{lock} {entry.direction}: {body}")
        return "\n".join(rendered)


def join_transcripts(sessions: Sequence[SessionRecord]) -> str:
    """Every session's transcript as text, separated by a header per session."""
    parts = [f"--- session {s.id} on {s.listener} from {s.peer}\n{s.text()}" for s in sessions]
    return "\n".join(parts)
