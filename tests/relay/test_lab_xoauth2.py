"""The lab's XOAUTH2 mechanism, checked with cdomail's client and with raw smtplib."""

from __future__ import annotations

import asyncio
import base64
import smtplib
from pathlib import Path

import pytest

import cdomail
from cdomail.errors import AuthenticationFailed
from cdomail.lab import Lab, xoauth2
from cdomail.testing.token_endpoint import TokenEndpoint

MAILBOX = "sender@example.test"


def issued_token(endpoint: TokenEndpoint) -> str:
    endpoint.add_client("relay", "s")
    status, body, _ = endpoint.answer({"grant_type": "client_credentials",
                                       "client_id": "relay", "client_secret": "s"})
    assert status == 200
    return str(body["access_token"])


@pytest.mark.parametrize("google", [False, True])
def test_valid_token_logs_in_and_mail_is_accepted(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path, google: bool
) -> None:
    token = issued_token(token_endpoint)
    mechanism = xoauth2(token_endpoint.validate, google_errors=google)
    with Lab({"starttls-required": 0}, auth_mechanisms={"XOAUTH2": mechanism},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        result = cdomail.send(b"Subject: t\r\n\r\nbody\r\n", host=lab.host,
                              port=lab.port("starttls-required"), tls="starttls",
                              cafile=str(lab.ca_path), username=MAILBOX, oauth2_token=token,
                              sender=MAILBOX, recipients=["a@example.test"])
        assert result.ok
        assert lab.messages[0].authenticated_as == MAILBOX
        assert token not in lab.transcripts_text()


@pytest.mark.parametrize(("google", "reply"), [(False, "5.7.3"), (True, "5.7.8")])
def test_unknown_or_expired_token_is_refused(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path, google: bool, reply: str
) -> None:
    mechanism = xoauth2(token_endpoint.validate, google_errors=google)
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": mechanism},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        with pytest.raises(AuthenticationFailed) as caught:
            cdomail.send(b"Subject: t\r\n\r\nbody\r\n", host=lab.host, port=lab.port("smtps"),
                         tls="implicit", cafile=str(lab.ca_path), username=MAILBOX,
                         oauth2_token="at-forged", sender=MAILBOX, recipients=["a@example.test"])
        assert caught.value.code == 535 and caught.value.enhanced_status == reply
        assert not lab.messages
        if google:
            # The JSON error came as a 334 challenge, answered with an empty line.
            assert any(line.line.startswith(b"334 ") for line in lab.sessions[0].transcript
                       if line.direction == "S")


def test_answer_after_empty_challenge_and_malformed_answer(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path
) -> None:
    token = issued_token(token_endpoint)
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        good = base64.b64encode(f"user={MAILBOX}\x01auth=Bearer {token}\x01\x01".encode())
        bad = base64.b64encode(f"user={MAILBOX}\x01auth=Basic {token}\x01\x01".encode())
        with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as s:
            s.ehlo()
            assert s.docmd("AUTH", "XOAUTH2")[0] == 334
            assert s.docmd(good.decode())[0] == 235
        with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as s:
            s.ehlo()
            code, text = s.docmd("AUTH", "XOAUTH2 " + bad.decode())
            assert (code, text[:5]) == (535, b"5.7.3")
            assert s.docmd("AUTH", "XOAUTH2 !!notbase64")[0] == 501


def test_no_xoauth2_before_starttls(token_endpoint: TokenEndpoint, lab_certs_dir: Path,
                                    tmp_path: Path) -> None:
    with Lab({"starttls": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        s = smtplib.SMTP(lab.host, lab.port("starttls"))
        s.ehlo()
        code, _ = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(b"x").decode())
        s.quit()
        assert code == 538  # RFC 4954 §4: encryption required first


def test_async_client_with_provider_token(token_endpoint: TokenEndpoint, lab_certs_dir: Path,
                                          tmp_path: Path) -> None:
    token = issued_token(token_endpoint)
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:

        async def send() -> bool:
            async with cdomail.AsyncSMTPClient(lab.host, lab.port("smtps"), tls="implicit",
                                               cafile=str(lab.ca_path), username=MAILBOX,
                                               oauth2_token=token) as client:
                result = await client.send(b"Subject: t\r\n\r\nx\r\n", sender=MAILBOX,
                                           recipients=["b@example.test"])
                return result.ok

        assert asyncio.run(send())
