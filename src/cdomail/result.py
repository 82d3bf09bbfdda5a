"""What a send tells the caller: who accepted, who refused, and how it travelled."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import CdoMailError
from .protocol import Reply
from .tls import TLSInfo


@dataclass(slots=True)
class SendResult:
    """The outcome of one message.

    ``encrypted`` is True only when the whole transaction ran inside TLS.
    ``error`` is set (and ``reply`` may be ``None``) when the message was not
    accepted; ``send()`` raises it, ``send_many()`` reports it here. A result is
    either :attr:`ok` or carries an ``error``, never neither: a final reply other
    than 250 is an error too (``UnexpectedReply``), and a verdict lost with the
    connection is ``StatusUnknown``.
    """

    sender: str
    recipients: list[str]
    #: TLS mode asked for, after resolving cdo/auto for the port ("starttls", "implicit", ...).
    tls_mode: str
    tls: TLSInfo | None
    accepted: dict[str, Reply] = field(default_factory=dict)
    refused: dict[str, Reply] = field(default_factory=dict)
    #: The server's final reply to the message content.
    reply: Reply | None = None
    error: CdoMailError | None = None
    #: "DATA" or "BDAT".
    content_command: str = "DATA"
    size: int = 0

    @property
    def encrypted(self) -> bool:
        """Whether the message travelled inside TLS."""
        return self.tls is not None

    @property
    def ok(self) -> bool:
        """Accepted by the server for at least one recipient."""
        return self.error is None and self.reply is not None and self.reply.code == 250

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (no secrets: nothing here ever held one)."""
        return {
            "ok": self.ok,
            "encrypted": self.encrypted,
            "tls": self.tls.to_dict() if self.tls else None,
            "tls_mode": self.tls_mode,
            "sender": self.sender,
            "accepted": {a: str(r) for a, r in self.accepted.items()},
            "refused": {a: str(r) for a, r in self.refused.items()},
            "reply": str(self.reply) if self.reply else None,
            "error": (
                {"type": type(self.error).__name__, "message": str(self.error)}
                if self.error
                else None
            ),
            "content_command": self.content_command,
            "size": self.size,
        }
