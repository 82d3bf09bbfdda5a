"""Each lab listener accepts or refuses exactly as its TLS configuration says."""

from __future__ import annotations

import smtplib
import socket
import ssl
from pathlib import Path

import pytest
import trustme

from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER
from tests._leaks import leak_reports

from ._raw import RawClient

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n.leading dot\r\nbye\r\n"


def test_plain_listener_offers_no_starttls_and_records_unencrypted(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("plain")) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert not client.has_extn("auth")  # AUTH only after TLS, and TLS never comes
        client.sendmail("a@example.com", ["b@example.org"], MESSAGE)
    [message] = lab.messages
    assert message.listener == "plain"
    assert message.encrypted is False
    assert message.tls_version is None
    assert message.data == MESSAGE


def test_starttls_listener_is_optional(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("starttls")) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.sendmail("a@example.com", ["b@example.org"], MESSAGE)
        client.starttls(context=lab.client_context())
        client.ehlo()
        assert not client.has_extn("starttls")  # not offered twice
        client.sendmail("c@example.com", ["d@example.org"], MESSAGE)
    first, second = lab.messages
    assert (first.encrypted, second.encrypted) == (False, True)
    assert second.tls_version in {"TLSv1.2", "TLSv1.3"}
    assert first.session_id == second.session_id
    assert lab.sessions[0].encrypted_at_mail == [False, True]


@pytest.mark.parametrize("verb", [b"MAIL FROM:<a@example.com>", b"AUTH PLAIN", b"RCPT TO:<x@y>"])
def test_starttls_required_refuses_before_tls(lab: Lab, verb: bytes) -> None:
    with RawClient(lab.host, lab.port("starttls-required")) as client:
        assert client.reply()[0] == 220
        code, lines = client.command(b"EHLO client.example")
        assert code == 250
        assert b"STARTTLS" in lines
        code, lines = client.command(verb)
        assert code == 530
        assert lines[0].startswith(b"5.7.0 ")


def test_starttls_required_accepts_after_tls(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("starttls-required")) as client:
        client.starttls(context=lab.client_context())
        client.login(LAB_USER, LAB_PASSWORD)
        client.sendmail("a@example.com", ["b@example.org"], MESSAGE)
    [message] = lab.messages
    assert message.encrypted is True
    assert message.authenticated_as == LAB_USER
    assert lab.sessions[0].plaintext_commands() == ["EHLO", "STARTTLS"]


def test_smtps_speaks_tls_from_the_first_byte(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert "PLAIN" in client.esmtp_features["auth"]  # TLS already, so AUTH is offered
        client.login(LAB_USER, LAB_PASSWORD)
        client.sendmail("a@example.com", ["b@example.org"], MESSAGE)
    [message] = lab.messages
    assert message.listener == "smtps"
    assert message.encrypted is True
    assert all(line.tls for line in lab.sessions[0].lines())


def test_smtps_does_not_answer_a_plaintext_client(lab: Lab) -> None:
    with RawClient(lab.host, lab.port("smtps")) as client:
        client.sock.settimeout(2)
        client.send(b"EHLO client.example\r\n")
        # The server waits for a ClientHello; plaintext gets no SMTP greeting.
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            client.reply()
    assert lab.messages == []


@pytest.mark.parametrize("server_name", ["localhost", "127.0.0.1", "::1"])
def test_certificate_verifies_for_loopback_names(lab: Lab, server_name: str) -> None:
    context = lab.client_context()
    with (
        socket.create_connection((lab.host, lab.port("smtps")), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        assert tls.recv(4) == b"220 "


def test_certificate_is_not_trusted_by_another_ca(lab: Lab) -> None:
    untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no system CAs
    trustme.CA().configure_trust(untrusting)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=untrusting, timeout=5)


def test_maildir_copy_has_trace_headers_but_data_is_exact(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("plain")) as client:
        client.sendmail("a@example.com", ["b@example.org", "c@example.org"], MESSAGE)
    [message] = lab.messages
    assert message.data == MESSAGE
    assert b"X-Cdomail-Lab" not in message.data
    stored = lab.maildir_bytes(message)
    assert stored.endswith(MESSAGE)
    headers = stored[: -len(MESSAGE)]
    assert b"X-Cdomail-Lab-Listener: plain\r\n" in headers
    assert b"X-Cdomail-Lab-Encrypted: no\r\n" in headers
    assert b"X-Cdomail-Lab-Rcpt-To: <b@example.org>, <c@example.org>\r\n" in headers
    assert (lab.maildir_path / "new" / message.maildir_key).exists()


def test_envelope_options_are_recorded(lab: Lab) -> None:
    body = "Subject: café\r\n\r\nnaïve\r\n".encode()
    with smtplib.SMTP(lab.host, lab.port("plain")) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        assert client.has_extn("8bitmime")
        client.sendmail("ü@example.com", ["b@example.org"], body, mail_options=["SMTPUTF8"])
    [message] = lab.messages
    assert message.mail_from == "ü@example.com"
    assert "SMTPUTF8" in message.mail_options
    assert message.rcpt_options == [[]]
    assert message.data == body


def test_clear_forgets_messages_and_finished_sessions(lab: Lab) -> None:
    with smtplib.SMTP(lab.host, lab.port("plain")) as client:
        client.sendmail("a@example.com", ["b@example.org"], MESSAGE)
    assert lab.wait_sessions_closed()
    assert len(lab.messages) == 1
    assert len(lab.sessions) == 1
    lab.clear()
    assert lab.messages == []
    assert lab.sessions == []


def test_stop_closes_open_connections() -> None:
    running = Lab({"plain": 0}).start()
    try:
        client = RawClient(running.host, running.port("plain"))
        assert client.reply()[0] == 220
    finally:
        running.stop()
    client.sock.settimeout(5)
    assert client.sock.recv(100) == b""  # the server hung up
    client.close()
    with pytest.raises(OSError):
        RawClient("127.0.0.1", running.listeners["plain"]).close()


def test_plaintext_pipelined_after_starttls_is_discarded(lab: Lab) -> None:
    # RFC 3207 §5: bytes sent before the handshake must not count as commands.
    with RawClient(lab.host, lab.port("starttls")) as client:
        client.reply()
        client.command(b"EHLO client.example")
        client.send(b"STARTTLS\r\nMAIL FROM:<injected@example.com>\r\n")
        assert client.reply()[0] == 220
        client.sock = lab.client_context().wrap_socket(client.sock, server_hostname="localhost")
        assert client.command(b"EHLO client.example")[0] == 250
        assert client.command(b"RSET")[0] == 250
    assert lab.wait_sessions_closed()
    commands = lab.sessions[0].commands()
    assert ("MAIL", False) not in commands
    assert commands == [("EHLO", False), ("STARTTLS", False), ("EHLO", True), ("RSET", True)]


@pytest.mark.lab(maximum_tls_version=ssl.TLSVersion.TLSv1_2)
def test_tls_version_limits(lab: Lab) -> None:
    with smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context()) as client:
        client.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    assert lab.messages[0].tls_version == "TLSv1.2"


def test_stop_with_connections_in_every_state(lab_certs_dir: Path, tmp_path: Path) -> None:
    running = Lab(certs_dir=lab_certs_dir, state_dir=tmp_path).start()
    clients = []
    try:
        idle = RawClient(running.host, running.port("plain"))
        idle.reply()
        upgraded = RawClient(running.host, running.port("starttls-required"))
        upgraded.reply()
        upgraded.command(b"EHLO client.example")
        upgraded.starttls(running.client_context())
        in_data = RawClient(running.host, running.port("smtps"), context=running.client_context())
        in_data.reply()
        in_data.command(b"EHLO client.example")
        in_data.command(b"MAIL FROM:<a@example.com>")
        in_data.command(b"RCPT TO:<b@example.org>")
        assert in_data.command(b"DATA")[0] == 354
        in_data.send(b"half a message")
        clients = [idle, upgraded, in_data]
    finally:
        running.stop()
    for client in clients:
        client.sock.settimeout(5)
        try:
            assert client.sock.recv(100) == b""
        except ConnectionResetError:
            pass  # an abort may reset instead of closing: both mean "gone"
        client.close()
    assert running.messages == []
    assert all(session.closed.is_set() for session in running.sessions)


@pytest.mark.parametrize("listener", ["plain", "starttls", "smtps"])
@pytest.mark.parametrize("client_leaves", [True, False], ids=["client-closed", "client-open"])
def test_stop_right_after_a_connection_leaves_nothing_open(
    lab_certs_dir: Path, tmp_path: Path, listener: str, client_leaves: bool
) -> None:
    # Stopping while the lab's loop is still accepting a connection (Python 3.11's
    # Server.close() then breaks the transport being built, or a TLS handshake is under
    # way) used to leave a transport and its socket to the garbage collector: a
    # ResourceWarning, which this suite turns into a failure of whatever test ran next.
    # Without the fix nearly every round leaked; 20 rounds make a pass mean something.
    with leak_reports() as leaks:
        for _ in range(20):
            running = Lab({listener: 0}, certs_dir=lab_certs_dir, state_dir=tmp_path).start()
            client = socket.create_connection((running.host, running.port(listener)))
            if client_leaves:
                client.close()
            running.stop()
            client.close()
    assert leaks == []


def test_ipv6_loopback(lab_certs_dir: Path, tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        running = Lab({"smtps": 0}, host="::1", certs_dir=lab_certs_dir, state_dir=tmp_path)
        running.start()
    except OSError as error:
        pytest.skip(f"cannot bind ::1 here: {error}")
    try:
        context = running.client_context()
        with smtplib.SMTP_SSL("::1", running.port("smtps"), context=context) as client:
            client.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
        assert running.sessions[0].peer is not None
        assert running.sessions[0].peer[0] == "::1"
        assert running.messages[0].encrypted is True
    finally:
        running.stop()
