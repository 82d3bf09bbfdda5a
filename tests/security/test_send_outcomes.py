"""Send outcomes that must never be reported as success or as "nothing delivered".

RFC 5321 §4.3.2: DATA succeeds only with 354 and the end of the data only with 250; RFC 3030 §2: the
same 250 for BDAT LAST. Anything else that is not a refusal is a protocol error. A connection lost
after the end of the data is "status unknown" (RFC 5321 §4.5.3.2.6), in the sync and the async
client alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdomail import AsyncSMTPClient, SendResult
from cdomail.errors import (
    CdoMailError,
    DataRefused,
    RemoteProtocolError,
    ServerDisconnected,
    ServiceClosing,
    StatusUnknown,
    UnexpectedReply,
)
from cdomail.message import prepare
from cdomail.protocol import Bdat, Data, EndOfData, MailFrom, RcptTo
from cdomail.protocol import Reply as ServerReply
from cdomail.session import Transaction
from tests._server import CertificateSet, Close, Reply, Script, ScriptedServer, Then, ehlo_reply
from tests._server.fixtures import ServerFactory

from .helpers import FAST, MESSAGE, make_client

CHUNKING_EHLO = ehlo_reply("hostile.test", ("8BITMIME", "PIPELINING", "CHUNKING"))


def send_sync(server: ScriptedServer, certs: CertificateSet, **options: Any) -> SendResult:
    client = make_client(server, certs, tls="none", **options)
    try:
        return client.send(MESSAGE)
    finally:
        client.close()


def send_async(server: ScriptedServer, certs: CertificateSet, **options: Any) -> SendResult:
    async def main() -> SendResult:
        client = AsyncSMTPClient(server.host, server.port, tls="none", cafile=str(certs.ca_path),
                                 local_hostname="client.test", **{**FAST, **options})
        try:
            return await client.send(MESSAGE)
        finally:
            await client.aclose()

    return asyncio.run(main())


def send_many_sync(server: ScriptedServer, certs: CertificateSet) -> list[SendResult]:
    client = make_client(server, certs, tls="none")
    try:
        return client.send_many([MESSAGE, MESSAGE])
    finally:
        client.close()


SENDERS = {"sync": send_sync, "async": send_async}


def assert_ok_or_error(result: SendResult) -> None:
    """The invariant: a result is either ok, or carries an error; never neither, never both."""
    assert result.ok != (result.error is not None), result


# --- a reply other than 354 to DATA, or other than 250 to the end of the data -----------------

#: Reply codes below 400 that a server may not give there; 4xx/5xx are refusals.
NOT_354 = [b"250 2.0.0 ok", b"251 ok", b"220 ready", b"235 fine", b"334 more", b"221 bye"]
NOT_250 = [b"251 2.1.5 forwarded", b"252 maybe", b"354 more please", b"220 ready", b"221 bye"]
REFUSALS = [b"451 4.3.0 try later", b"554 5.6.0 rejected"]


@pytest.mark.parametrize("api", SENDERS)
@pytest.mark.parametrize("reply", NOT_354, ids=lambda r: r[:3].decode())
def test_data_answered_without_354_raises(
    hostile: ServerFactory, certs: CertificateSet, api: str, reply: bytes
) -> None:
    server = hostile(Script(replies={"DATA": reply + b"\r\n"}))
    with pytest.raises(UnexpectedReply) as info:
        SENDERS[api](server, certs)
    assert info.value.code == int(reply[:3])
    assert info.value.command == "DATA"
    assert isinstance(info.value, RemoteProtocolError)
    assert server.bodies == []


@pytest.mark.parametrize("api", SENDERS)
@pytest.mark.parametrize("reply", NOT_250, ids=lambda r: r[:3].decode())
def test_end_of_data_answered_without_250_raises(
    hostile: ServerFactory, certs: CertificateSet, api: str, reply: bytes
) -> None:
    server = hostile(Script(replies={"DATA_END": reply + b"\r\n"}))
    with pytest.raises(UnexpectedReply) as info:
        SENDERS[api](server, certs)
    assert info.value.code == int(reply[:3])
    assert info.value.expected == 250


@pytest.mark.parametrize("reply", NOT_250, ids=lambda r: r[:3].decode())
def test_bdat_last_answered_without_250_raises(
    hostile: ServerFactory, certs: CertificateSet, reply: bytes
) -> None:
    server = hostile(Script(replies={"EHLO": CHUNKING_EHLO, "BDAT": reply + b"\r\n"}))
    with pytest.raises(UnexpectedReply) as info:
        send_sync(server, certs)
    assert info.value.code == int(reply[:3])


@pytest.mark.parametrize(
    ("step", "reply"),
    [("DATA", r) for r in NOT_354 + REFUSALS] + [("DATA_END", r) for r in NOT_250 + REFUSALS]
    + [("DATA_END", b"250 2.0.0 queued")],
    ids=lambda value: value if isinstance(value, str) else value[:3].decode(),
)
def test_every_result_is_ok_or_carries_an_error(
    hostile: ServerFactory, certs: CertificateSet, step: str, reply: bytes
) -> None:
    """send_many reports instead of raising: each result is ok xor has an error."""
    server = hostile(Script(replies={step: reply + b"\r\n"}))
    results = send_many_sync(server, certs)
    assert len(results) == 2
    for result in results:
        assert_ok_or_error(result)
    first = results[0]
    if reply.startswith(b"250 2.0.0 queued"):
        assert first.ok
    else:
        assert isinstance(first.error, UnexpectedReply | DataRefused)


# --- status unknown after the end of the data --------------------------------------------------


@pytest.mark.parametrize("api", SENDERS)
@pytest.mark.parametrize("reset", [False, True], ids=["eof", "rst"])
def test_connection_lost_after_the_dot_is_status_unknown(
    hostile: ServerFactory, certs: CertificateSet, api: str, reset: bool
) -> None:
    server = hostile(Script(replies={"DATA_END": Close(reset=reset)}))
    with pytest.raises(StatusUnknown) as info:
        SENDERS[api](server, certs)
    assert type(info.value) is StatusUnknown
    assert isinstance(info.value.__cause__, ServerDisconnected)
    assert "may or may not have accepted" in str(info.value)
    assert server.bodies == [MESSAGE]  # it did arrive: "not delivered" would be a lie


@pytest.mark.parametrize("api", SENDERS)
def test_timeout_after_the_dot_is_status_unknown(
    hostile: ServerFactory, certs: CertificateSet, api: str
) -> None:
    server = hostile(Script(replies={"DATA_END": Reply(b"250 late\r\n", delay=2.0)}))
    with pytest.raises(StatusUnknown):
        SENDERS[api](server, certs, command_timeout=0.5)
    assert server.bodies == [MESSAGE]


def test_connection_lost_after_bdat_last_is_status_unknown(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"EHLO": CHUNKING_EHLO, "BDAT": Close()}))
    with pytest.raises(StatusUnknown):
        send_sync(server, certs)


def test_connection_lost_before_any_content_is_not_status_unknown(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"RCPT": Close()}))
    with pytest.raises(ServerDisconnected) as info:
        send_sync(server, certs)
    assert type(info.value) is ServerDisconnected


def test_421_as_the_verdict_is_a_refusal_not_unknown(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"DATA_END": Reply(b"421 4.3.2 bye\r\n", then=Then.CLOSE)}))
    with pytest.raises(ServiceClosing):
        send_sync(server, certs)


# --- a reply before the content was completely written -------------------------------------


def slow_content(server: ScriptedServer) -> Iterator[bytes]:
    """The header block, a pause until the server has sent its early reply, then the body:
    the early reply lands in the pause (the client reads the header block before DATA, the
    rest while it writes the content). Waiting for the server's own record of the reply,
    not a fixed time, keeps a loaded machine from sending the body first."""
    split = MESSAGE.index(b"\r\n\r\n") + 4
    yield MESSAGE[:split]
    deadline = time.monotonic() + 10
    while not any(EARLY_LINE in data for record in list(server.sessions)
                  for _, data in list(record.sent)):
        assert time.monotonic() < deadline, "the server never sent its early reply"
        time.sleep(0.01)
    time.sleep(0.1)  # the reply crossing loopback into the client's socket buffer
    yield MESSAGE[split:]


EARLY_LINE = b"250 2.0.0 queued before the end\r\n"
EARLY = Reply(b"354 go ahead\r\n", later=((0.1, EARLY_LINE),))


#: More than the loopback socket buffers hold: the client is still writing when the early
#: reply comes (the scripted server reads no content until it has sent it).
BIG = MESSAGE + (b"z" * 998 + b"\r\n") * 16_000
ENVELOPE: dict[str, Any] = {"sender": "sender@example.org", "recipients": ["rcpt@example.org"]}


def send_content(api: str, server: ScriptedServer, certs: CertificateSet, content: Any) -> None:
    if api == "sync":
        client = make_client(server, certs, tls="none")
        try:
            client.send(content, **ENVELOPE)
        finally:
            client.close()
        return
    options: dict[str, Any] = dict(FAST, cafile=str(certs.ca_path), local_hostname="client.test",
                                   tls="none")

    async def main() -> None:
        async with AsyncSMTPClient(server.host, server.port, **options) as client:
            await client.send(content, **ENVELOPE)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("api", "content"), [("sync", "big"), ("async", "big"), ("sync", "streamed")]
)
def test_early_reply_to_the_content_is_a_protocol_error(
    hostile: ServerFactory, certs: CertificateSet, api: str, content: str
) -> None:
    server = hostile(Script(replies={"DATA": EARLY}))
    with pytest.raises(RemoteProtocolError) as info:
        send_content(api, server, certs, BIG if content == "big" else slow_content(server))
    assert "before the message content was completely sent" in str(info.value)
    assert "queued before the end" in str(info.value)
    assert not isinstance(info.value, StatusUnknown)


@pytest.mark.parametrize("api", SENDERS)
def test_a_big_message_still_gets_its_verdict(
    hostile: ServerFactory, certs: CertificateSet, api: str
) -> None:
    """The terminator written apart from the rest of a big message changes nothing else."""
    server = hostile(Script())
    send_content(api, server, certs, BIG)
    assert server.bodies == [BIG]


def test_errors_are_cdomail_errors() -> None:
    """UnexpectedReply belongs to the one tree and prints escaped server text."""
    error = UnexpectedReply(250, "ok\x1b[2J", command="DATA", expected=354)
    assert isinstance(error, CdoMailError)
    assert "\x1b" not in str(error)
    assert "\\x1b[2J" in str(error)


# --- the invariant over every combination of replies (the verdict logic alone) ----------------

CODES = st.sampled_from([211, 220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452,
                         500, 501, 503, 535, 550, 552, 554])
MAYBE = st.none() | CODES


@settings(max_examples=400, deadline=None)
@given(mail=MAYBE, rcpts=st.lists(MAYBE, min_size=1, max_size=3), data=MAYBE, final=MAYBE,
       bdat=st.booleans(), failed=st.booleans())
def test_a_result_is_ok_or_carries_an_error_never_neither(
    mail: int | None, rcpts: list[int | None], data: int | None, final: int | None,
    bdat: bool, failed: bool,
) -> None:
    recipients = [f"r{i}@example.org" for i in range(len(rcpts))]
    prepared = prepare(MESSAGE, sender="s@example.org", recipients=recipients)
    tx = Transaction(prepared, None, number=0)
    tx.use_bdat = bdat
    if mail is not None:
        tx.on_reply(ServerReply(mail, ("x",), MailFrom("s@example.org")))
    for address, code in zip(recipients, rcpts, strict=True):
        if code is not None:
            tx.on_reply(ServerReply(code, ("x",), RcptTo(address)))
    if data is not None and not bdat:
        tx.on_reply(ServerReply(data, ("x",), Data()))
    if final is not None:
        tx.on_reply(ServerReply(final, ("x",), Bdat(10, last=True) if bdat else EndOfData()))
    if failed:
        tx.failure = ServerDisconnected("gone")
    result = tx.result("none")
    assert_ok_or_error(result)
    if result.ok:
        assert result.reply is not None and result.reply.code == 250
        assert result.accepted
