"""AUTH on the lab: only after TLS by default, secrets never in the transcript."""

from __future__ import annotations

import base64
import smtplib

import pytest

from cdomail.lab import MISSING, AuthResult, Lab, LabSMTP, cram_md5
from cdomail.testing import LAB_PASSWORD, LAB_USER

from ._raw import RawClient

PLAIN_BLOB = base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode())


def _secret_forms() -> list[bytes]:
    return [
        LAB_PASSWORD.encode(),
        PLAIN_BLOB,
        base64.b64encode(LAB_PASSWORD.encode()),
        base64.b64encode(LAB_USER.encode()),
    ]


def _assert_no_secret(lab: Lab) -> None:
    assert lab.wait_sessions_closed()
    for session in lab.sessions:
        for entry in session.lines():
            for secret in _secret_forms():
                assert secret not in entry.line, entry


def test_auth_is_not_offered_before_tls(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("starttls")) as client:
        client.reply()
        code, lines = client.command(b"EHLO client.example")
        assert not any(line.startswith(b"AUTH") for line in lines)
        code, lines = client.command(b"AUTH PLAIN " + PLAIN_BLOB)
        assert code == 538
        client.starttls(lab.client_context())
        code, lines = client.command(b"EHLO client.example")
        assert b"AUTH LOGIN PLAIN" in lines
        assert client.command(b"AUTH PLAIN " + PLAIN_BLOB)[0] == 235
    _assert_no_secret(lab)
    commands = lab.sessions[0].commands()
    assert ("AUTH", False) in commands  # it was attempted in plaintext, and refused
    assert lab.sessions[0].authenticated_as == LAB_USER


@pytest.mark.lab(auth_require_tls=False)
def test_auth_in_plaintext_when_allowed(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("plain")) as client:
        client.login(LAB_USER, LAB_PASSWORD)
        client.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    [message] = lab.messages
    assert message.authenticated_as == LAB_USER
    assert message.encrypted is False
    _assert_no_secret(lab)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_with_each_mechanism_is_redacted(lab: Lab, mechanism: str) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        client.user, client.password = LAB_USER, LAB_PASSWORD
        authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        code, _ = client.auth(mechanism, authobject, initial_response_ok=False)
        assert code == 235
    _assert_no_secret(lab)
    received = [entry.line for entry in lab.sessions[0].lines("C")]
    assert f"AUTH {mechanism}".encode() in received
    assert b"***" in received  # the answer(s) to 334, redacted


def test_initial_response_is_redacted(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.login(LAB_USER, LAB_PASSWORD)  # smtplib sends AUTH PLAIN <initial-response>
    _assert_no_secret(lab)
    assert any(e.line == b"AUTH PLAIN ***" for e in lab.sessions[0].lines("C"))


def test_wrong_password_is_refused_and_not_recorded(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(LAB_USER, "wrong-guess")
        assert refused.value.smtp_code == 535
    assert lab.wait_sessions_closed()
    assert lab.sessions[0].authenticated_as is None
    assert all(b"wrong-guess" not in e.line for e in lab.sessions[0].lines())


@pytest.mark.lab(users={})
def test_no_users_means_no_auth_offered(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        assert not client.has_extn("auth")


@pytest.mark.lab(auth_required=True)
def test_auth_required_refuses_mail_until_login(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        code, text = client.mail("a@example.com")
        assert (code, text[:6]) == (530, b"5.7.0 ")
        client.login(LAB_USER, LAB_PASSWORD)
        client.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    assert len(lab.messages) == 1


@pytest.mark.lab(auth_mechanisms={"CRAM-MD5": cram_md5})
def test_pluggable_mechanism_cram_md5(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        assert "CRAM-MD5" in client.esmtp_features["auth"].split()
        client.user, client.password = LAB_USER, LAB_PASSWORD
        assert client.auth("CRAM-MD5", client.auth_cram_md5)[0] == 235
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        client.user, client.password = LAB_USER, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("CRAM-MD5", client.auth_cram_md5)
    assert lab.wait_sessions_closed()
    assert [s.authenticated_as for s in lab.sessions] == [LAB_USER, None]
    received = [(e.kind, e.line) for e in lab.sessions[0].lines("C")]
    assert ("command", b"AUTH CRAM-MD5") in received
    assert ("auth", b"***") in received  # "user hexdigest", redacted


async def _token_mechanism(server: LabSMTP, args: list[str]) -> AuthResult:
    """A two-step custom mechanism: challenge, then expect 'token-for-<user>'."""
    answer = await server.challenge_auth(b"send your token")
    if answer is MISSING:
        return AuthResult(success=False, handled=True)
    assert isinstance(answer, bytes)
    for user in server.users:
        if answer == f"token-for-{user}".encode():
            return AuthResult(success=True, auth_data=user)
    return AuthResult(success=False, handled=False)


@pytest.mark.lab(auth_mechanisms={"X-TOKEN": _token_mechanism})
def test_custom_mechanism_contract(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.reply()
        _, lines = client.command(b"EHLO client.example")
        assert b"AUTH LOGIN PLAIN X-TOKEN" in lines
        code, [challenge] = client.command(b"AUTH X-TOKEN")
        assert (code, base64.b64decode(challenge)) == (334, b"send your token")
        token = base64.b64encode(f"token-for-{LAB_USER}".encode())
        assert client.command(token) == (235, [b"2.7.0 Authentication successful"])
    assert lab.wait_sessions_closed()
    assert lab.sessions[0].authenticated_as == LAB_USER
    assert all(token not in e.line for e in lab.sessions[0].lines())
