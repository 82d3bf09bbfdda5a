"""Every client TLS mode against every lab listener, with and without credentials.

Each cell is checked from both ends: what the client reports, and what the lab
recorded (was the message stored, was the session encrypted at MAIL time, and
did MAIL or AUTH ever cross in plaintext).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

import cdomail
from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER

# (mode, listener) -> expected outcome without credentials:
# "enc" delivered over TLS, "plain" delivered in plaintext, else the error class name.
ANONYMOUS = {
    ("implicit", "plain"): "TLSHandshakeError",
    ("implicit", "starttls"): "TLSHandshakeError",
    ("implicit", "starttls-required"): "TLSHandshakeError",
    ("implicit", "smtps"): "enc",
    ("starttls", "plain"): "TLSRequired",
    ("starttls", "starttls"): "enc",
    ("starttls", "starttls-required"): "enc",
    ("starttls", "smtps"): "ConnectTimeout",
    ("opportunistic", "plain"): "plain",
    ("opportunistic", "starttls"): "enc",
    ("opportunistic", "starttls-required"): "enc",
    ("opportunistic", "smtps"): "ConnectTimeout",
    ("none", "plain"): "plain",
    ("none", "starttls"): "plain",
    ("none", "starttls-required"): "SenderRefused",
    ("none", "smtps"): "ConnectTimeout",
    # The lab's ports are not 25, so CDO's rule means implicit TLS ...
    ("cdo", "plain"): "TLSHandshakeError",
    ("cdo", "starttls"): "TLSHandshakeError",
    ("cdo", "starttls-required"): "TLSHandshakeError",
    ("cdo", "smtps"): "enc",
    # ... and AUTO means STARTTLS required (the port is not 465).
    ("auto", "plain"): "TLSRequired",
    ("auto", "starttls"): "enc",
    ("auto", "starttls-required"): "enc",
    ("auto", "smtps"): "ConnectTimeout",
}
# With credentials the client refuses to authenticate in plaintext.
WITH_CREDENTIALS = {
    **ANONYMOUS,
    ("opportunistic", "plain"): "AuthenticationRefusedLocally",
    ("none", "plain"): "AuthenticationRefusedLocally",
    ("none", "starttls"): "AuthenticationRefusedLocally",
    ("none", "starttls-required"): "AuthenticationRefusedLocally",
}
TLS_REQUIRED_MODES = {"implicit", "starttls", "cdo", "auto"}


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@cdomail.test"
    msg["To"] = "rcpt@cdomail.test"
    msg["Subject"] = "matrix"
    msg.set_content("matrix cell\n")
    return msg


def attempt(lab: Lab, mode: str, listener: str, credentials: bool) -> str:
    auth: dict[str, Any] = {"username": LAB_USER, "password": LAB_PASSWORD} if credentials else {}
    try:
        result = cdomail.send(message(), host="localhost", port=lab.port(listener), tls=mode,
                              cafile=str(lab.ca_path), connect_timeout=0.5, **auth)
    except cdomail.CdoMailError as exc:
        return type(exc).__name__
    assert result.ok
    if result.encrypted:
        assert result.tls is not None and result.tls.verified
        assert result.tls.mode == ("implicit" if listener == "smtps" else "starttls")
    return "enc" if result.encrypted else "plain"


@pytest.mark.parametrize("credentials", [False, True], ids=["anonymous", "auth"])
@pytest.mark.parametrize(("mode", "listener"), list(ANONYMOUS))
def test_cell(lab: Lab, mode: str, listener: str, credentials: bool) -> None:
    expected = (WITH_CREDENTIALS if credentials else ANONYMOUS)[(mode, listener)]
    assert attempt(lab, mode, listener, credentials) == expected
    assert lab.wait_sessions_closed()
    delivered = expected in ("enc", "plain")
    assert len(lab.messages) == (1 if delivered else 0)
    if delivered:
        stored = lab.messages[0]
        assert stored.listener == listener
        assert stored.encrypted == (expected == "enc")
        assert stored.rcpt_tos == ["rcpt@cdomail.test"]
        assert (stored.authenticated_as == LAB_USER) == credentials
    for session in lab.sessions:
        plaintext = set(session.plaintext_commands())
        if mode in TLS_REQUIRED_MODES:
            # The heart of the matter: a TLS-requiring mode never lets MAIL or AUTH out
            # in plaintext, whatever the server offers.
            assert not plaintext & {"MAIL", "RCPT", "DATA", "BDAT", "AUTH"}, plaintext
        assert "AUTH" not in plaintext
