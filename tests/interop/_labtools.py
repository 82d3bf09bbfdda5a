"""Helpers for driving real SMTP clients (swaks, curl, msmtp, smtplib) against the cdomail lab."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdomail.lab import Lab, SessionRecord, StoredMessage

__all__ = [
    "LAB_PASSWORD",
    "LAB_USER",
    "RECIPIENT",
    "SENDER",
    "assert_stored",
    "case_id",
    "find_stored",
    "run_client",
    "sample_message",
    "session_of",
    "sessions_since",
    "stored_with",
]

LAB_USER = "user"
LAB_PASSWORD = "lab-secret"
SENDER = "sender@example.test"
RECIPIENT = "rcpt@example.test"

_CLIENT_TIMEOUT = 30.0


def case_id(value: object) -> str:
    """A readable pytest id for a parameter: options joined by spaces, booleans as words."""
    if isinstance(value, bool):
        return "encrypted" if value else "unencrypted"
    if isinstance(value, tuple):
        return " ".join(str(item) for item in value) or "no-options"
    return str(value)


def sample_message(marker: str, client: str) -> bytes:
    """A small message (CRLF line ends) carrying *marker* so the test can find it in the lab."""
    return (
        f"From: <{SENDER}>\r\n"
        f"To: <{RECIPIENT}>\r\n"
        f"Subject: interop from {client}\r\n"
        f"Message-ID: <{marker}@example.test>\r\n"
        f"X-Interop-Marker: {marker}\r\n"
        "\r\n"
        f"Sent by {client} to the cdomail lab.\r\n"
    ).encode()


def run_client(argv: Sequence[str], *, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """Run a client program to completion and return its result (output as text)."""
    return subprocess.run(
        list(argv),
        input=stdin.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=_CLIENT_TIMEOUT,
        check=False,
    )


def find_stored(lab: Lab, marker: str, *, timeout: float = 5.0) -> StoredMessage:
    """The message the lab stored that contains *marker* (polls briefly; the reply may race)."""
    needle = marker.encode()
    deadline = time.monotonic() + timeout
    while True:
        for message in lab.messages:
            if needle in message.data:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"the lab stored no message containing {marker!r}")
        time.sleep(0.02)


def stored_with(lab: Lab, marker: str) -> list[StoredMessage]:
    """Every stored message containing *marker* (no waiting): for 'nothing was stored' checks."""
    return [message for message in lab.messages if marker.encode() in message.data]


def sessions_since(lab: Lab, count_before: int) -> list[SessionRecord]:
    """The sessions opened after the lab had *count_before* of them, once they have all closed."""
    lab.wait_sessions_closed()
    return lab.sessions[count_before:]


def session_of(lab: Lab, message: StoredMessage) -> SessionRecord:
    """The session record in which *message* arrived."""
    for record in lab.sessions:
        if record.id == message.session_id:
            return record
    raise AssertionError(f"no session {message.session_id!r} in the lab")


def assert_stored(
    lab: Lab,
    marker: str,
    *,
    listener: str,
    encrypted: bool,
    authenticated_as: str | None = None,
) -> StoredMessage:
    """Check what the lab recorded for the message carrying *marker*; return it.

    Asserts the listener, the encryption state at MAIL time (from the message and from the
    session transcript, which must show no MAIL/RCPT/AUTH in plaintext when encrypted), the
    negotiated TLS version, and who authenticated.
    """
    message = find_stored(lab, marker)
    assert message.listener == listener
    assert message.mail_from == SENDER
    assert message.rcpt_tos == [RECIPIENT]
    assert message.encrypted is encrypted
    assert message.authenticated_as == authenticated_as
    session = session_of(lab, message)
    if encrypted:
        assert message.tls_version is not None
        assert message.tls_version.startswith("TLSv1.")
        leaked = {"MAIL", "RCPT", "DATA", "BDAT", "AUTH"} & set(session.plaintext_commands())
        assert not leaked, f"sent before TLS: {sorted(leaked)}\n{session.text()}"
    else:
        assert message.tls_version is None
        assert "MAIL" in session.plaintext_commands()
    return message
