"""The async client (the source the blocking one is generated from) performing the
connect plan against the lab: TLS decided by the plan, failures named at the backend."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from cdomail import AsyncSMTPClient
from cdomail.errors import (
    AuthenticationRefusedLocally,
    CertificateVerifyFailed,
    TLSHandshakeError,
    TLSRequired,
)
from cdomail.lab import Lab
from cdomail.message import OutgoingMessage, prepare_outgoing
from cdomail.testing import LAB_PASSWORD, LAB_USER


def message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.test"
    msg["To"] = "b@example.test"
    msg["Subject"] = subject
    msg.set_content("hello\n")
    return msg


def test_starttls_then_auth_then_send(lab: Lab) -> None:
    async def main() -> tuple[str | None, bool]:
        async with AsyncSMTPClient("localhost", lab.port("starttls-required"), tls="starttls",
                                   cafile=str(lab.ca_path), username=LAB_USER,
                                   password=LAB_PASSWORD) as smtp:
            assert not smtp.extensions.has("STARTTLS")  # RFC 3207 §4.2: the post-TLS EHLO
            result = await smtp.send(message("async starttls"))
            return (result.tls.mode if result.tls else None), result.ok

    assert asyncio.run(main()) == ("starttls", True)
    [stored] = lab.messages
    assert stored.encrypted and stored.authenticated_as == LAB_USER


def test_required_tls_missing_sends_nothing(lab: Lab) -> None:
    async def main() -> None:
        async with AsyncSMTPClient("localhost", lab.port("plain"), tls="starttls",
                                   username=LAB_USER, password=LAB_PASSWORD):
            pass

    with pytest.raises(TLSRequired, match="does not offer STARTTLS"):
        asyncio.run(main())
    assert lab.messages == []
    sent = b"".join(line.line for session in lab.sessions for line in session.transcript
                    if line.direction == "C")
    assert b"AUTH" not in sent and b"MAIL" not in sent


def test_credentials_never_cross_plaintext(lab: Lab) -> None:
    async def main() -> None:
        async with AsyncSMTPClient("localhost", lab.port("plain"), tls="none",
                                   username=LAB_USER, password=LAB_PASSWORD):
            pass

    with pytest.raises(AuthenticationRefusedLocally):
        asyncio.run(main())
    sent = b"".join(line.line for session in lab.sessions for line in session.transcript
                    if line.direction == "C")
    assert b"AUTH" not in sent


def test_tls_failures_arrive_as_cdomail_errors_from_the_backend(lab: Lab) -> None:
    async def connect(port: int, mode: str) -> None:
        async with AsyncSMTPClient("localhost", port, tls=mode, connect_timeout=10):
            pass

    # No cafile: the lab's own CA is not trusted (certificate verified by default).
    with pytest.raises(CertificateVerifyFailed):
        asyncio.run(connect(lab.port("smtps"), "implicit"))
    with pytest.raises(CertificateVerifyFailed):
        asyncio.run(connect(lab.port("starttls"), "starttls"))
    # Implicit TLS against a plaintext SMTP port: named, with the advice.
    with pytest.raises(TLSHandshakeError, match="spoke plaintext"):
        asyncio.run(connect(lab.port("plain"), "implicit"))


def test_send_prepared_keeps_each_message_envelope(lab: Lab) -> None:
    # The pools' public way in: messages prepared with their own envelope, sent pipelined.
    prepared = [prepare_outgoing(OutgoingMessage(message(f"prepared {i}"),
                                                 sender=f"s{i}@example.test",
                                                 recipients=[f"r{i}@example.test"]))
                for i in range(3)]

    async def main() -> list[bool]:
        async with AsyncSMTPClient("localhost", lab.port("plain"), tls="none") as smtp:
            return [result.ok for result in await smtp.send_prepared(prepared)]

    assert asyncio.run(main()) == [True, True, True]
    assert [(m.mail_from, m.rcpt_tos) for m in lab.messages] == [
        (f"s{i}@example.test", [f"r{i}@example.test"]) for i in range(3)]
