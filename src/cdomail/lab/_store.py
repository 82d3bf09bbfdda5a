"""Where the lab puts accepted messages: a Maildir on disk and a list in memory.

The in-memory :class:`StoredMessage` keeps the exact bytes received. Only the
Maildir copy is prefixed with ``X-Cdomail-Lab-*`` trace headers, so a person
browsing the folder can see how each message arrived.
"""

from __future__ import annotations

import dataclasses
import mailbox
import threading
from collections.abc import Callable
from pathlib import Path

from cdomail.lab._records import StoredMessage

__all__ = ["MessageStore", "trace_headers"]


def _header_value(text: str) -> bytes:
    # Envelope addresses may hold UTF-8 (SMTPUTF8) but never CR or LF; be safe anyway.
    cleaned = text.replace("\r", " ").replace("\n", " ")
    return cleaned.encode("utf-8", "surrogateescape")


def trace_headers(message: StoredMessage) -> bytes:
    """The ``X-Cdomail-Lab-*`` header block prepended to the Maildir copy."""
    fields = [
        ("Listener", message.listener),
        ("Session", message.session_id),
        ("Mail-From", f"<{message.mail_from}>"),
        ("Rcpt-To", ", ".join(f"<{r}>" for r in message.rcpt_tos)),
        ("Encrypted", "yes" if message.encrypted else "no"),
        ("TLS-Version", message.tls_version or "none"),
        ("Authenticated-As", message.authenticated_as or "nobody"),
        ("Transfer", "BDAT" if message.chunked else "DATA"),
    ]
    return b"".join(
        b"X-Cdomail-Lab-" + name.encode("ascii") + b": " + _header_value(value) + b"\r\n"
        for name, value in fields
    )


class MessageStore:
    """Thread-safe store: the lab's loop thread adds, test threads read."""

    def __init__(
        self,
        maildir_path: Path,
        on_message: Callable[[StoredMessage], None] | None = None,
    ) -> None:
        self.maildir_path = maildir_path
        self._maildir = mailbox.Maildir(maildir_path, factory=None, create=True)
        self._messages: list[StoredMessage] = []
        self._lock = threading.Lock()
        self._on_message = on_message

    def add(self, message: StoredMessage) -> StoredMessage:
        """Store ``message`` (Maildir + memory) and return it with its Maildir key."""
        copy = trace_headers(message) + message.data
        stored = dataclasses.replace(message, maildir_key=self._maildir.add(copy))
        with self._lock:
            self._messages.append(stored)
        if self._on_message is not None:
            self._on_message(stored)
        return stored

    @property
    def messages(self) -> list[StoredMessage]:
        """A snapshot of every message stored since the last :meth:`clear`."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        """Forget the in-memory messages (the Maildir keeps its files)."""
        with self._lock:
            self._messages.clear()

    def delete(self, key: str) -> bool:
        """Forget one message (memory and Maildir copy); False when no such message is kept."""
        with self._lock:
            kept = [m for m in self._messages if m.maildir_key != key]
            found = len(kept) != len(self._messages)
            self._messages[:] = kept
        if found:
            self._maildir.discard(key)
        return found

    def maildir_bytes(self, key: str) -> bytes:
        """The Maildir copy of a stored message (trace headers included)."""
        return self._maildir.get_bytes(key)
