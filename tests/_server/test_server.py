"""The hostile server verified on its own, with raw sockets, stdlib smtplib and ssl.

If these fail, the security suite's verdicts about cdomail mean nothing.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time

import pytest

from .certs import CertificateSet
from .fixtures import ServerFactory
from .record import split_data_stream
from .script import Close, Endless, Handshake, Reply, Script, Silence, Step, Then, TLSSetup
from .session import Session


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


def _read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _client_context(certs: CertificateSet) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca_path))


def test_plain_session_records_commands_and_decoded_body(hostile: ServerFactory) -> None:
    server = hostile(Script())
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\n.dot\r\nend\r\n")
    assert server.settle()
    assert server.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert all(tls is False for _, tls in server.commands())
    assert server.bodies == [b"Subject: x\r\n\r\n.dot\r\nend\r\n"]
    assert (False, b"..dot\r\n") in server.received  # the dot-stuffed wire form is kept


def test_starttls_switches_record_and_capabilities(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(
        tls=TLSSetup.STARTTLS,
        capabilities=("PIPELINING",),
        tls_capabilities=("AUTH PLAIN", "SIZE 1000"),
    )
    server = hostile(script)
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        client.starttls(context=_client_context(certs))
        client.ehlo()
        assert client.has_extn("auth")
        assert not client.has_extn("starttls")
        client.noop()
    assert server.settle()
    assert server.commands() == [
        ("EHLO", False),
        ("STARTTLS", False),
        ("EHLO", True),
        ("NOOP", True),
        ("QUIT", True),
    ]
    assert "tls-established" in server.events


def test_starttls_extra_bytes_arrive_with_the_220(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    injected = b"250-injected\r\n250 AUTH PLAIN\r\n"
    server = hostile(Script(tls=TLSSetup.STARTTLS, starttls_extra=injected))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"EHLO me\r\n")
        _read_until(sock, b"250 ")
        sock.sendall(b"STARTTLS\r\n")
        reply = _read_until(sock, injected)
    assert reply == b"220 2.0.0 ready to start TLS\r\n" + injected
    assert server.settle()
    # Our writes went out as one: the injection shares the 220's segment.
    assert (False, b"220 2.0.0 ready to start TLS\r\n" + injected) in server.sessions[0].sent


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "certificate has expired"),
        ("wrong_name", "mismatch"),
        ("unknown_ca", "unable to get local issuer certificate"),
        ("self_signed", "self-signed certificate"),
    ],
)
def test_bad_certificates_fail_verification_for_their_reason(
    hostile: ServerFactory, certs: CertificateSet, kind: str, reason: str
) -> None:
    server = hostile(Script(tls=TLSSetup.IMPLICIT, certificate=kind))
    with _connect(server.port) as raw, pytest.raises(ssl.SSLCertVerificationError) as info:
        _client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1")
    assert reason in str(info.value)
    assert server.settle()
    assert any(event.startswith("tls-failed") for event in server.events)


def test_good_certificate_on_implicit_tls(hostile: ServerFactory, certs: CertificateSet) -> None:
    server = hostile(Script(tls=TLSSetup.IMPLICIT))
    context = _client_context(certs)
    with smtplib.SMTP_SSL(server.host, server.port, timeout=5, context=context) as client:
        client.noop()
    assert server.settle()
    assert server.commands() == [("NOOP", True), ("QUIT", True)]


@pytest.mark.parametrize("mode", [Handshake.PLAINTEXT, Handshake.CLOSE, Handshake.STALL])
def test_broken_handshakes(hostile: ServerFactory, certs: CertificateSet, mode: Handshake) -> None:
    server = hostile(Script(tls=TLSSetup.IMPLICIT, handshake=mode))
    with _connect(server.port) as raw:
        raw.settimeout(0.5)
        with pytest.raises((ssl.SSLError, OSError)) as info:
            _client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1")
    if mode is Handshake.STALL:
        assert isinstance(info.value, TimeoutError)
    assert server.settle()


def test_no_greeting_then_delayed_and_trickled_replies(hostile: ServerFactory) -> None:
    script = Script(
        greeting=Silence(),
        replies={"NOOP": Reply(b"250 slow but sure\r\n", delay=0.2, trickle=(3, 0.01))},
    )
    server = hostile(script)
    with _connect(server.port) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.settimeout(5)
        sock.sendall(b"NOOP\r\n")
        pieces: list[bytes] = []
        while b"\n" not in b"".join(pieces):
            pieces.append(sock.recv(100))
    assert b"".join(pieces) == b"250 slow but sure\r\n"
    assert len(pieces) > 1
    assert server.sessions[0].sent[0] == (False, b"250")


def test_close_and_reset_instead_of_a_reply(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"MAIL": Close(), "RCPT": Close(reset=True)}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"MAIL FROM:<a@b>\r\n")
        assert _read_to_eof(sock) == b""
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"RCPT TO:<a@b>\r\n")
        with pytest.raises(ConnectionResetError):
            _read_to_eof(sock)
    assert server.settle()
    assert server.events.count("closed-by-server") == 1
    assert "closed-rst" in server.events


def test_reply_then_close_and_421(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"DATA": Reply(b"354 go\r\n", then=Then.CLOSE)}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"DATA\r\n")
        assert _read_to_eof(sock) == b"354 go\r\n"
    assert server.settle()


def test_endless_continuation_until_client_leaves(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"EHLO": Endless(b"250-more\r\n", prefix=b"250-x\r\n")}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"EHLO me\r\n")
        received = 0
        while received < 200_000:
            received += len(sock.recv(65536))
    assert server.settle()
    assert any(event.startswith("send-failed") for event in server.events)


def test_sequence_of_replies_per_verb(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"RCPT": [b"250 first\r\n", b"550 5.1.1 later\r\n"]}))
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        client.mail("a@example.org")
        assert client.rcpt("b@example.org")[0] == 250
        assert client.rcpt("c@example.org")[0] == 550
        assert client.rcpt("d@example.org")[0] == 550
    assert server.settle()


def test_strict_mode_rejects_unadvertised_pipelining(hostile: ServerFactory) -> None:
    server = hostile(Script(strict=True, capabilities=("8BITMIME",)))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"EHLO me\r\n")
        _read_until(sock, b"250 ")
        sock.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
        assert b"554 5.5.0 SMTP synchronization error" in _read_to_eof(sock)
    assert server.settle()
    assert server.events[0] == "sync-error after MAIL"


def test_strict_mode_allows_advertised_pipelining_but_not_after_data(
    hostile: ServerFactory,
) -> None:
    server = hostile(Script(strict=True))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"EHLO me\r\n")
        _read_until(sock, b"250 ")
        sock.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody too early\r\n")
        replies = _read_to_eof(sock)
    assert replies.startswith(b"250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n")
    assert replies.endswith(b"554 5.5.0 SMTP synchronization error\r\n")
    assert server.settle()


def test_strict_mode_rejects_bare_lf_in_data(hostile: ServerFactory) -> None:
    server = hostile(Script(strict=True))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        for command in (b"HELO me\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<c@d>\r\n", b"DATA\r\n"):
            sock.sendall(command)
            _read_until(sock, b"\r\n")
        sock.sendall(b"line one\nline two\r\n.\r\n")
        assert _read_to_eof(sock).startswith(b"554 5.5.2 bare LF")
    assert server.settle()
    assert server.bodies == []
    assert "bare-lf" in server.events


def test_lenient_mode_shows_smuggling_as_a_second_message(hostile: ServerFactory) -> None:
    server = hostile(Script())
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        for command in (b"HELO me\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<c@d>\r\n", b"DATA\r\n"):
            sock.sendall(command)
            _read_until(sock, b"\r\n")
        sock.sendall(b"one\n.\r\nMAIL FROM:<evil@x>\r\n")
        _read_until(sock, b"250 2.1.0")
    assert server.settle()
    assert server.bodies == [b"one\n"]
    assert server.verbs()[-1] == "MAIL"


def test_bdat_chunks_with_per_chunk_replies(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"BDAT": [b"250 one\r\n", b"250 two\r\n"]}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"BDAT 5\r\nhelloBDAT 4 LAST\r\n\r\n.x")
        assert _read_until(sock, b"two\r\n") == b"250 one\r\n250 two\r\n"
    assert server.settle()
    assert server.bodies == [b"hello\r\n.x"]
    assert [line.kind for line in server.lines] == ["command", "bdat", "command", "bdat"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("initial_response", [True, False])
@pytest.mark.parametrize("password", ["right", "wrong"])
def test_default_auth_checks_credentials(
    hostile: ServerFactory, mechanism: str, initial_response: bool, password: str
) -> None:
    server = hostile(Script(capabilities=("AUTH PLAIN LOGIN",), credentials=("user", "right")))
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        client.esmtp_features["auth"] = mechanism  # make smtplib pick this mechanism
        if password == "right":
            assert client.login("user", password, initial_response_ok=initial_response)[0] == 235
        else:
            with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                client.login("user", password, initial_response_ok=initial_response)
            assert info.value.smtp_code == 535
    assert server.settle()
    continuation_lines = {("PLAIN", True): 0, ("PLAIN", False): 1, ("LOGIN", True): 1}
    expected = continuation_lines.get((mechanism, initial_response), 2)
    assert [line.kind for line in server.lines].count("auth") == expected


def test_unsolicited_lines_between_commands(hostile: ServerFactory) -> None:
    later = ((0.05, b"250 unsolicited\r\n"),)
    server = hostile(Script(replies={"NOOP": Reply(b"250 ok\r\n", later=later)}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"NOOP\r\n")
        assert _read_until(sock, b"unsolicited\r\n") == b"250 ok\r\n250 unsolicited\r\n"
    assert server.settle()


def test_stall_stops_reading_and_server_still_stops(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"DATA": Reply(b"354 go\r\n", then=Then.STALL)}))
    sock = _connect(server.port)
    try:
        _read_until(sock, b"\r\n")
        sock.sendall(b"DATA\r\n")
        _read_until(sock, b"354")
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sent += sock.send(b"x" * 65536)
            except BlockingIOError:
                break
        assert time.monotonic() < deadline, "the server kept reading"
        assert server.settle(), server.events  # stalled sessions do not count as open
    finally:
        sock.close()


def test_split_data_stream_strict_and_lenient() -> None:
    stream = b"a\r\n..b\r\nc\n.\r\nd\r\n.\r\n"
    assert split_data_stream(stream, lenient=True) == ([b"a\r\n.b\r\nc\n", b"d\r\n"], b"")
    assert split_data_stream(stream, lenient=False) == ([b"a\r\n.b\r\nc\n\r\nd\r\n"], b"")


# --- per-verb hooks, fallback, drain ------------------------------------------------------


class _Hooks:
    """Refuses MAIL from one address, answers the dot with the session number."""

    def handle_MAIL(self, session: Session, line: bytes) -> Step | None:
        return b"550 5.7.1 not you\r\n" if b"<bad@example.org>" in line else None

    def handle_DATA_END(self, session: Session, content: bytes) -> Step | None:
        return f"250 2.0.0 session {session.number} got {len(content)} octets\r\n".encode()


def test_hooks_answer_first_and_fall_through_on_none(hostile: ServerFactory) -> None:
    server = hostile(Script(handler=_Hooks(), replies={"MAIL": b"250 2.1.0 table\r\n"}))
    for expected_session in (1, 2):
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("me.example")
            assert client.mail("bad@example.org")[0] == 550  # the hook
            assert client.mail("good@example.org") == (250, b"2.1.0 table")  # its None: table
            client.rcpt("b@example.org")
            body = b"Subject: x\r\n\r\nhi\r\n"
            code, text = client.data(body)
            expected = f"2.0.0 session {expected_session} got {len(body)} octets"
            assert (code, text) == (250, expected.encode())
    assert server.settle()
    assert server.command_lines[:3] == ["ehlo me.example", "mail FROM:<bad@example.org>",
                                        "mail FROM:<good@example.org>"]  # fmt: skip


def test_fallback_answers_only_the_verbs_the_script_does_not_name(
    hostile: ServerFactory,
) -> None:
    script = Script(replies={"QUIT": b"221 bye\r\n"}, fallback=b"502 5.5.1 no\r\n")
    server = hostile(script)
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"EHLO x\r\nNOOP\r\nQUIT\r\n")
        assert _read_until(sock, b"221 bye\r\n") == b"502 5.5.1 no\r\n" * 2 + b"221 bye\r\n"


def test_drain_reads_until_the_client_closes(hostile: ServerFactory) -> None:
    server = hostile(Script(replies={"MAIL": Reply(b"421 4.7.0 bye\r\n", then=Then.DRAIN)}))
    with _connect(server.port) as sock:
        _read_until(sock, b"\r\n")
        sock.sendall(b"MAIL FROM:<a@example.org>\r\n")
        assert _read_until(sock, b"\r\n") == b"421 4.7.0 bye\r\n"
        # Still read after the 421: more input never makes the kernel reset the connection.
        sock.sendall(b"RCPT TO:<b@example.org>\r\n" * 100)
        time.sleep(0.2)
        assert server.sessions[0].events == []
        sock.shutdown(socket.SHUT_WR)
        assert _read_to_eof(sock) == b""
    assert server.settle()
    assert server.events == ["eof", "drained"]
