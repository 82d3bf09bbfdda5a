"""CHUNKING (RFC 3030): BDAT chunks are read byte-exact, without dot-stuffing."""

from __future__ import annotations

import pytest

from cdomail.lab import Lab

from ._raw import RawClient


def _ready(lab: Lab, listener: str = "plain") -> RawClient:
    client = RawClient(lab.host, lab.port(listener))
    assert client.reply()[0] == 220
    code, lines = client.command(b"EHLO client.example")
    assert code == 250
    assert b"CHUNKING" in lines
    assert b"PIPELINING" in lines
    assert client.command(b"MAIL FROM:<a@example.com>")[0] == 250
    assert client.command(b"RCPT TO:<b@example.org>")[0] == 250
    return client


def test_chunks_are_joined_exactly(lab: Lab) -> None:
    first = b"Subject: chunked\r\n\r\n.not stuffed\r\n"
    second = b".\r\nstill data after a lone dot\r\nno final newline"
    with _ready(lab) as client:
        client.send(b"BDAT %d\r\n" % len(first) + first)
        assert client.reply() == (250, [b"2.0.0 %d octets received" % len(first)])
        client.send(b"BDAT %d LAST\r\n" % len(second) + second)
        code, _ = client.reply()
        assert code == 250
        assert client.command(b"QUIT")[0] == 221
    [message] = lab.messages
    assert message.data == first + second
    assert message.chunked is True
    assert lab.wait_sessions_closed()
    chunks = [e.line for e in lab.sessions[0].lines("C") if e.kind == "bdat"]
    assert chunks == [first, second]
    assert [verb for verb, _ in lab.sessions[0].commands()].count("BDAT") == 2


def test_pipelined_transaction_with_empty_last_chunk(lab: Lab) -> None:
    body = b"binary \x00\xff\r\n"
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        # RFC 2920: everything in one write, then read the replies in order.
        client.send(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
            + b"BDAT %d\r\n" % len(body)
            + body
            + b"BDAT 0 LAST\r\nQUIT\r\n"
        )
        codes = [client.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 250, 250, 221]
    assert [m.data for m in lab.messages] == [body]


def test_bdat_before_mail_is_refused_but_chunk_consumed(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        client.send(b"BDAT 12 LAST\r\nNOOP\r\nNOOP\r\n")  # these 12 octets are data, not commands
        assert client.reply()[0] == 503
        assert client.command(b"NOOP")[0] == 250
    assert lab.messages == []


def test_data_after_bdat_is_refused(lab: Lab) -> None:
    with _ready(lab) as client:
        client.send(b"BDAT 3\r\nabc")
        assert client.reply()[0] == 250
        assert client.command(b"DATA")[0] == 503
        client.send(b"BDAT 3 LAST\r\ndef")
        assert client.reply()[0] == 250
    assert [m.data for m in lab.messages] == [b"abcdef"]


def test_rset_discards_chunks(lab: Lab) -> None:
    with _ready(lab) as client:
        client.send(b"BDAT 3\r\nabc")
        client.reply()
        assert client.command(b"RSET")[0] == 250
        client.command(b"MAIL FROM:<a@example.com>")
        client.command(b"RCPT TO:<b@example.org>")
        client.send(b"BDAT 3 LAST\r\nxyz")
        assert client.reply()[0] == 250
    assert [m.data for m in lab.messages] == [b"xyz"]


@pytest.mark.lab(data_size_limit=10)
def test_too_big_fails_the_transaction(lab: Lab) -> None:
    with _ready(lab) as client:
        client.send(b"BDAT 8\r\n12345678")
        assert client.reply()[0] == 250
        client.send(b"BDAT 8 LAST\r\n12345678")
        assert client.reply()[0] == 552
        assert client.command(b"NOOP")[0] == 250  # still in sync
    assert lab.messages == []


def test_bad_size_hangs_up(lab: Lab) -> None:
    with _ready(lab) as client:
        assert client.command(b"BDAT ten LAST")[0] == 501
        with pytest.raises(ConnectionError):
            client.command(b"NOOP")


@pytest.mark.lab(chunking=False, pipelining=False)
def test_chunking_and_pipelining_can_be_turned_off(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        _, lines = client.command(b"EHLO client.example")
        assert b"CHUNKING" not in lines
        assert b"PIPELINING" not in lines
        assert client.command(b"BDAT 0 LAST")[0] == 500


def test_bdat_over_tls_is_recorded_encrypted(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("starttls")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        client.starttls(lab.client_context())
        client.command(b"EHLO client.example")
        client.command(b"MAIL FROM:<a@example.com>")
        client.command(b"RCPT TO:<b@example.org>")
        client.send(b"BDAT 5 LAST\r\nhello")
        assert client.reply()[0] == 250
    [message] = lab.messages
    assert message.encrypted is True
    assert message.data == b"hello"
