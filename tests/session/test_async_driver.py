"""The async client (the source the blocking one is generated from) performing the
connect and batch plans against the lab: TLS decided by the plan, failures named at the
backend, results and interruptions as the batch plan reports them."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import pytest

from cdomail import AsyncSMTPClient
from cdomail.batch import BatchResult, CompactResult, partial_results
from cdomail.errors import (
    AuthenticationRefusedLocally,
    CertificateVerifyFailed,
    InputError,
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


def test_async_batch_hands_compact_results_over_in_order(lab: Lab) -> None:
    # The batch plan performed by the async driver: bad input is reported in its place,
    # never sent, and every result reaches on_result in input order.
    items: list[EmailMessage | bytes] = [message(f"batch {i}") for i in range(4)]
    items.insert(2, b"Subject: no envelope\r\n\r\nbody\r\n")
    got: list[CompactResult] = []

    async def main() -> list[CompactResult]:
        async with AsyncSMTPClient("localhost", lab.port("plain"), tls="none") as smtp:
            return await smtp.send_many(items, compact=True, on_result=got.append)

    assert asyncio.run(main()) == []
    assert [result.ok for result in got] == [True, True, False, True, True]
    assert isinstance(got[2].error, InputError)
    assert [m.data.count(b"Subject: batch") for m in lab.messages] == [1, 1, 1, 1]


@pytest.mark.lab(latency_ms=5)
def test_cancelled_async_batch_carries_what_is_known(lab: Lab) -> None:
    async def main() -> tuple[list[BatchResult] | None, bool]:
        smtp = AsyncSMTPClient("localhost", lab.port("plain"), tls="none")
        task = asyncio.create_task(smtp.send_many(message(f"c {i}") for i in range(2000)))
        while len(lab.messages) < 5:
            await asyncio.sleep(0.005)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError as exc:
            return partial_results(exc), smtp.is_connected
        raise AssertionError("the batch finished before it was cancelled")

    partial, connected = asyncio.run(main())
    assert not connected  # possibly mid-content: closed, never reused
    assert partial is not None and len(partial) >= 5
    time.sleep(0.5)  # a message whose final dot arrived may still be being stored
    stored = {m.data.split(b"Subject: c ")[1].split(b"\r\n")[0].decode() for m in lab.messages}
    for index, result in enumerate(partial):
        status = "ok" if result.ok else type(result.error).__name__
        if str(index) in stored:  # stored: never reported "not sent"
            assert status in ("ok", "StatusUnknown"), (index, status)
        else:  # not stored: never reported delivered
            assert status in ("StatusUnknown", "SendInterrupted"), (index, status)
    assert any(result.ok for result in partial)
