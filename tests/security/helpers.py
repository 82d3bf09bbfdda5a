"""Shared pieces of the security tests: a client factory, messages, record checks."""

from __future__ import annotations

import base64
from typing import Any

from cdomail import SMTPClient
from tests._server import CertificateSet, ScriptedServer

#: Short limits so a misbehaving server costs a test about a second, never minutes.
FAST = {"connect_timeout": 2.0, "command_timeout": 2.0}

MESSAGE = (
    b"From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: hostile test\r\n\r\nHello.\r\n"
)

USERNAME = "alice@example.org"
PASSWORD = "Tr0ub4dor&3-zebra"

#: Every form of the password a leak could take: raw, base64 alone, and inside AUTH PLAIN.
SECRET_FORMS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode(),
    base64.b64encode(f"{USERNAME}\0{PASSWORD}".encode()).decode(),
)

SMTP_VERBS = frozenset(
    {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP",
     "QUIT", "VRFY"}
)  # fmt: skip


def make_client(server: ScriptedServer, certs: CertificateSet, **options: Any) -> SMTPClient:
    """An SMTPClient for ``server``, trusting the test CA, with short timeouts."""
    settings: dict[str, Any] = {
        "cafile": str(certs.ca_path),
        "local_hostname": "client.test",
        **FAST,
    }
    settings.update(options)
    return SMTPClient(server.host, server.port, **settings)


def smtp_verbs(server: ScriptedServer) -> list[str]:
    """The SMTP commands the server received, in order (TLS records read as text dropped)."""
    return [verb for verb in server.verbs() if verb in SMTP_VERBS]


def auth_lines(server: ScriptedServer) -> list[bytes]:
    """Lines the client sent during 334 exchanges."""
    return [line.data for line in server.lines if line.kind == "auth"]


def data_lines(server: ScriptedServer) -> list[bytes]:
    """Body lines received after DATA (dot-stuffed wire form)."""
    return [line.data for line in server.lines if line.kind == "data"]


def assert_no_secret(text: str, where: str) -> None:
    """Fail if any form of :data:`PASSWORD` appears in ``text``."""
    for form in SECRET_FORMS:
        assert form not in text, f"{where} leaks a form of the password: {form!r}"
