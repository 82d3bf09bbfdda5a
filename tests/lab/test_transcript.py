"""Session transcripts, latency and enhanced status codes."""

from __future__ import annotations

import smtplib
import time

import pytest

from cdomail.lab import Lab

from ._raw import RawClient


def test_transcript_records_direction_tls_and_kind(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("starttls")) as client:
        client.starttls(context=lab.client_context())
        client.sendmail("a@example.com", ["b@example.org"], b"MAIL FROM:<evil>\r\n.\r\n")
    assert lab.wait_sessions_closed()
    [session] = lab.sessions
    assert session.listener == "starttls"
    assert session.peer is not None
    assert session.peer[0] == "127.0.0.1"
    assert session.commands() == [
        ("EHLO", False),
        ("STARTTLS", False),
        ("EHLO", True),
        ("MAIL", True),
        ("RCPT", True),
        ("DATA", True),
        ("QUIT", True),
    ]
    # The body line that looks like a command is DATA content, dot-stuffed on the wire.
    data_lines = [e.line for e in session.lines("C") if e.kind == "data"]
    assert data_lines == [b"MAIL FROM:<evil>", b"..", b"."]
    first_reply = session.lines("S")[0]
    assert (first_reply.line[:4], first_reply.tls) == (b"220 ", False)
    ready = [e for e in session.lines("S") if e.line.startswith(b"220 Ready")]
    assert [e.tls for e in ready] == [False]
    assert session.tls_version in {"TLSv1.2", "TLSv1.3"}
    assert lab.messages[0].data == b"MAIL FROM:<evil>\r\n.\r\n"
    assert "C: STARTTLS" in session.text()
    assert f"--- session {session.id} on starttls" in lab.transcripts_text()


@pytest.mark.lab(latency_ms=150)
def test_latency_delays_each_reply(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        started = time.monotonic()
        assert client.command(b"NOOP")[0] == 250
        elapsed = time.monotonic() - started
    assert elapsed >= 0.15


def test_pipelined_commands_get_replies_in_order(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        client.send(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
            b"RCPT TO:<x@example.org> NOTIFY=NEVER\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
        )
        replies = [client.reply() for _ in range(5)]
        assert [code for code, _ in replies] == [250, 250, 555, 250, 354]
        assert replies[0][1] == [b"2.1.0 OK"]
        assert replies[1][1] == [b"2.1.5 OK"]
        client.send(b"hi\r\n.\r\n")
        assert client.reply()[0] == 250
    [message] = lab.messages
    assert message.rcpt_tos == ["b@example.org", "c@example.org"]
    assert message.rcpt_options == [[], []]


@pytest.mark.lab(enhanced_status_codes=False)
def test_enhanced_status_codes_can_be_turned_off(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        _, lines = client.command(b"EHLO client.example")
        assert b"ENHANCEDSTATUSCODES" not in lines
        assert client.command(b"MAIL FROM:<a@example.com>") == (250, [b"OK"])


def test_helo_replies_carry_no_enhanced_codes(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("plain")) as client:
        client.reply()
        client.command(b"HELO client.example")
        # RFC 2034 codes are for clients that said EHLO and saw the keyword.
        assert client.command(b"MAIL FROM:<a@example.com>") == (250, [b"OK"])
