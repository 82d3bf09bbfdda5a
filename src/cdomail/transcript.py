"""A record of an SMTP conversation, safe to print.

Secrets never enter it: the client records ``Command.redacted()`` (AUTH
payloads and every line sent during a 334 exchange become ``***``), and every
line is escaped so control or ANSI characters in a server's reply cannot spoof
a terminal.

Every line is also logged at DEBUG on the ``cdomail.smtp`` logger, so what reaches a log is
exactly what a transcript shows: redacted and escaped. A client given no transcript logs its
conversation through one that keeps no lines (:func:`log_only`), when that logger is enabled
for DEBUG at connect time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .errors import printable

LOGGER = logging.getLogger("cdomail.smtp")


def escape(data: bytes) -> str:
    """Printable text for a protocol line: non-printables become ``\\xNN`` escapes."""
    return printable(data.decode("utf-8", "backslashreplace"), newlines=False)


@dataclass(frozen=True)
class TranscriptLine:
    """One line: ``direction`` is ``"C"`` (client) or ``"S"`` (server) or ``"*"`` (event)."""

    direction: str
    text: str
    tls: bool
    at: float

    def __str__(self) -> str:
        arrow = {"C": "->" if not self.tls else "~>", "S": "<-" if not self.tls else "<~"}
        return f"{arrow.get(self.direction, '==')} {self.text}"


@dataclass
class Transcript:
    """Append-only transcript; pass one to a client to record its conversation."""

    lines: list[TranscriptLine] = field(default_factory=list)
    #: Message content is summarised ("[1234 bytes of message content]"), never recorded.
    started: float = field(default_factory=time.monotonic)
    #: ``False``: the lines go to the log only (see :func:`log_only`).
    keep: bool = True

    def client(self, data: bytes, *, tls: bool) -> None:
        """Record command lines the client wrote (already redacted)."""
        for line in data.split(b"\r\n"):
            if line:
                self._add("C", escape(line), tls)

    def server(self, lines: tuple[str, ...], code: int, *, tls: bool) -> None:
        """Record a reply."""
        for index, text in enumerate(lines):
            separator = " " if index == len(lines) - 1 else "-"
            self._add("S", escape(f"{code}{separator}{text}".encode()), tls)

    def event(self, text: str, *, tls: bool = False) -> None:
        """Record what happened outside the protocol (connect, handshake, content sizes)."""
        self._add("*", escape(text.encode()), tls)

    def _add(self, direction: str, text: str, tls: bool) -> None:
        line = TranscriptLine(direction, text, tls, time.monotonic() - self.started)
        if self.keep:
            self.lines.append(line)
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug("%s", line)

    def render(self) -> str:
        """The whole transcript as text, one line per entry (swaks-style arrows)."""
        return "\n".join(str(line) for line in self.lines)

    def to_list(self) -> list[dict[str, object]]:
        """JSON-ready form."""
        return [
            {"direction": ln.direction, "text": ln.text, "tls": ln.tls, "at": round(ln.at, 4)}
            for ln in self.lines
        ]


def log_only() -> Transcript | None:
    """A transcript that only logs, when ``cdomail.smtp`` logs DEBUG; else ``None`` (no cost)."""
    return Transcript(keep=False) if LOGGER.isEnabledFor(logging.DEBUG) else None
