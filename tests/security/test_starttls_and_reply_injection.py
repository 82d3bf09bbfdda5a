"""STARTTLS stripping (RFC 3207 §4, §6), response injection, buffering and desync
(RFC 5321 §4.2)."""

from __future__ import annotations

import time

import pytest

from cdomail.errors import (
    AuthenticationRefusedLocally,
    HeloRefused,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnected,
    ServiceClosing,
    StartTLSRefused,
    TLSHandshakeError,
    TLSRequired,
)
from tests._server import (
    CertificateSet,
    Handshake,
    Reply,
    Script,
    Silence,
    Then,
    TLSSetup,
    ehlo_reply,
)
from tests._server.fixtures import ServerFactory

from .helpers import MESSAGE, PASSWORD, USERNAME, auth_lines, make_client, smtp_verbs

CREDENTIALS = {"username": USERNAME, "password": PASSWORD}


def _assert_no_secret_sent(server_verbs: list[str], lines: list[bytes]) -> None:
    assert "AUTH" not in server_verbs
    assert "MAIL" not in server_verbs
    assert lines == []


# --- STARTTLS negotiation and stripping (RFC 3207 §4.1, §6) --------------------------------


def test_auth_offered_without_starttls_sends_no_secret(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(capabilities=("PIPELINING", "AUTH PLAIN LOGIN")))
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(TLSRequired) as info:
        client.send(MESSAGE)
    assert type(info.value) is TLSRequired
    assert server.settle()
    assert smtp_verbs(server) in (["EHLO"], ["EHLO", "QUIT"])
    _assert_no_secret_sent(smtp_verbs(server), auth_lines(server))


def test_starttls_answered_502_never_falls_back(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS, replies={"STARTTLS": b"502 5.5.1 no\r\n"}))
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(StartTLSRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is StartTLSRefused
    assert info.value.code == 502
    assert server.settle(), "the client left the connection open"
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]


@pytest.mark.parametrize("mode", ["starttls", "opportunistic"])
def test_starttls_answered_454_never_falls_back(
    hostile: ServerFactory, certs: CertificateSet, mode: str
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS, replies={"STARTTLS": b"454 4.7.0 busy\r\n"}))
    client = make_client(server, certs, tls=mode)
    with pytest.raises(StartTLSRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is StartTLSRefused
    assert info.value.is_transient
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]


@pytest.mark.parametrize("code", [354, 221, 421, 500, 501, 530, 250])
def test_only_an_exact_220_starts_tls(
    hostile: ServerFactory, certs: CertificateSet, code: int
) -> None:
    reply = f"{code} not what you hoped\r\n".encode()
    server = hostile(Script(tls=TLSSetup.STARTTLS, replies={"STARTTLS": reply}))
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    expected = ServiceClosing if code == 421 else StartTLSRefused
    with pytest.raises(expected) as info:
        client.send(MESSAGE)
    assert type(info.value) is expected
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]
    assert "tls-established" not in server.events


@pytest.mark.parametrize("mode", ["none", "starttls"])
def test_helo_only_server_cannot_satisfy_required_tls(
    hostile: ServerFactory, certs: CertificateSet, mode: str
) -> None:
    script = Script(
        tls=TLSSetup.STARTTLS,
        replies={"EHLO": b"500 5.5.1 what is EHLO\r\n", "STARTTLS": b"500 5.5.1 what\r\n"},
    )
    server = hostile(script)
    client = make_client(server, certs, tls=mode)
    if mode == "none":
        with client:
            client.send(MESSAGE)
        assert server.settle()
        assert smtp_verbs(server)[:2] == ["EHLO", "HELO"]
        assert server.bodies == [MESSAGE]
    else:
        with pytest.raises(HeloRefused) as info:
            client.send(MESSAGE)
        assert type(info.value) is HeloRefused
        assert server.settle()
        assert "HELO" not in smtp_verbs(server)
        assert "MAIL" not in smtp_verbs(server)


def test_starttls_220_then_plaintext_fails_the_handshake(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS, handshake=Handshake.PLAINTEXT))
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(TLSHandshakeError) as info:
        client.send(MESSAGE)
    assert type(info.value) is TLSHandshakeError
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]
    assert server.connections == 1, "no automatic plaintext retry"


def test_starttls_220_then_close(hostile: ServerFactory, certs: CertificateSet) -> None:

    script = Script(
        tls=TLSSetup.STARTTLS, replies={"STARTTLS": Reply(b"220 go\r\n", then=Then.CLOSE)}
    )
    server = hostile(script)
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(ServerDisconnected) as info:
        client.send(MESSAGE)
    # A subclass that is also a TLSHandshakeError (the lead's HandshakeDisconnected) is right too.
    assert isinstance(info.value, ServerDisconnected)
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]
    assert server.connections == 1


def test_starttls_happens_before_auth(hostile: ServerFactory, certs: CertificateSet) -> None:

    script = Script(
        tls=TLSSetup.STARTTLS,
        capabilities=("PIPELINING", "8BITMIME", "AUTH PLAIN LOGIN"),
    )
    server = hostile(script)
    with make_client(server, certs, **CREDENTIALS) as client:  # default tls="auto"
        result = client.send(MESSAGE)
    assert result.encrypted
    assert server.settle()
    commands = [(v, tls) for v, tls in server.commands() if v in ("EHLO", "STARTTLS", "AUTH")]
    assert commands == [("EHLO", False), ("STARTTLS", False), ("EHLO", True), ("AUTH", True)]


@pytest.mark.parametrize("after_tls", [("AUTH PLAIN",), ("PIPELINING",)])
def test_post_tls_capabilities_replace_pre_tls(
    hostile: ServerFactory, certs: CertificateSet, after_tls: tuple[str, ...]
) -> None:
    script = Script(
        tls=TLSSetup.STARTTLS,
        capabilities=("AUTH LOGIN", "CHUNKING", "SIZE 10"),
        tls_capabilities=after_tls,
    )
    server = hostile(script)
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    if "AUTH PLAIN" in after_tls:
        with client:
            assert client.extensions.auth_mechanisms == ("PLAIN",)
            assert not client.extensions.has("CHUNKING")
            assert not client.extensions.has("SIZE")
        assert server.settle()
        auth = [line for line in server.lines if line.verb == "AUTH"]
        assert [(line.tls, line.data.split()[1]) for line in auth] == [(True, b"PLAIN")]
    else:
        with pytest.raises(AuthenticationRefusedLocally) as info:
            client.connect()
        assert type(info.value) is AuthenticationRefusedLocally
        assert server.settle()
        assert "AUTH" not in smtp_verbs(server)


def test_opportunistic_stripped_with_credentials(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(capabilities=("PIPELINING", "AUTH PLAIN LOGIN")))
    client = make_client(server, certs, tls="opportunistic", **CREDENTIALS)
    with pytest.raises(AuthenticationRefusedLocally) as info:
        client.send(MESSAGE)
    assert type(info.value) is AuthenticationRefusedLocally
    assert server.settle()
    _assert_no_secret_sent(smtp_verbs(server), auth_lines(server))


# --- Response injection, buffering, desync (RFC 3207 §6, RFC 5321 §4.2) ----------------------


def test_starttls_reply_with_injected_lines(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(
        tls=TLSSetup.STARTTLS,
        starttls_extra=b"250-injected.example\r\n250 AUTH LOGIN\r\n",
        tls_capabilities=("AUTH PLAIN", "X-INSIDE-TLS"),
    )
    server = hostile(script)
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(RemoteProtocolError) as info:
        client.send(MESSAGE)
    assert type(info.value) is RemoteProtocolError
    assert server.settle()
    # Abort (curl's choice): nothing was sent inside TLS, so the injection was never used.
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]
    assert auth_lines(server) == []


def test_partial_injected_line_after_starttls(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(tls=TLSSetup.STARTTLS, starttls_extra=b"250-AUTH PLAIN")
    server = hostile(script)
    client = make_client(server, certs, tls="starttls")
    with pytest.raises(RemoteProtocolError) as info:
        client.send(MESSAGE)
    assert type(info.value) is RemoteProtocolError
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]


def test_refusal_with_injected_success(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    injected = (
        b"454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 ok\r\n"
        b"354 go ahead\r\n250 Accepted\r\n"
    )
    server = hostile(Script(tls=TLSSetup.STARTTLS, replies={"STARTTLS": injected}))
    client = make_client(server, certs, tls="opportunistic")
    with pytest.raises((StartTLSRefused, RemoteProtocolError)) as info:
        client.send(MESSAGE)
    assert type(info.value) in (StartTLSRefused, RemoteProtocolError)
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]
    assert server.bodies == []


def test_no_answer_to_ehlo_after_tls(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(tls=TLSSetup.STARTTLS, tls_replies={"EHLO": Silence()})
    server = hostile(script)
    client = make_client(server, certs, tls="starttls", command_timeout=0.5)
    with pytest.raises(ReadTimeout) as info:
        client.send(MESSAGE)
    assert type(info.value) is ReadTimeout
    assert server.settle()
    assert server.commands() == [("EHLO", False), ("STARTTLS", False), ("EHLO", True)]


@pytest.mark.parametrize(
    "unsolicited",
    [
        ((0.1, b"550 5.7.1 unsolicited\r\n"),),
        ((0.1, b"550-5.7.1 unsolicited\r\n550 5.7.1 multi-line\r\n"),),
        ((0.1, b"550-5.7.1 unso"), (0.05, b"licited\r\n550 5.7.1 split\r\n")),
    ],
    ids=["single", "multi-line", "split"],
)
def test_unsolicited_lines_between_commands(
    hostile: ServerFactory,
    certs: CertificateSet,
    unsolicited: tuple[tuple[float, bytes], ...],
) -> None:
    ehlo = ehlo_reply("hostile.test", ("PIPELINING", "8BITMIME"))
    server = hostile(Script(replies={"EHLO": Reply(ehlo, later=unsolicited)}))
    client = make_client(server, certs, tls="none")
    client.connect()
    try:
        # Nothing is pending while the stray lines arrive; they must not become MAIL's reply
        # (a client that pairs them would raise SenderRefused for a 250 server).
        time.sleep(0.5)
        try:
            result = client.send(MESSAGE)
        except RemoteProtocolError:
            assert server.bodies == []  # treating them as a protocol error is allowed
        else:
            assert result.reply is not None
            assert result.reply.code == 250
            assert server.bodies == [MESSAGE]
    finally:
        client.close()
    assert server.settle()


def test_reply_after_timeout_is_never_used(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"MAIL": Reply(b"250 2.1.0 late\r\n", delay=1.0)}))
    client = make_client(server, certs, tls="none", command_timeout=0.3)
    with pytest.raises(ReadTimeout) as info:
        client.send(MESSAGE)
    assert type(info.value) is ReadTimeout
    assert not client.is_connected
    assert server.settle()
    verbs = smtp_verbs(server)
    assert "RSET" not in verbs
    assert verbs.count("MAIL") == 1
