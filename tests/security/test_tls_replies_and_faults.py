"""Certificates (RFC 3207 §4.1, RFC 8314 §3.3), reply parsing (RFC 5321 §4.2), connection faults and
timeouts (RFC 5321 §4.5.3.2)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from cdomail import SMTPClient, Transcript
from cdomail.errors import (
    CertificateVerifyFailed,
    ConnectError,
    ConnectTimeout,
    DataRefused,
    GreetingRefused,
    NotSMTPServer,
    ReadTimeout,
    RemoteProtocolError,
    SenderRefused,
    ServerDisconnected,
    ServiceClosing,
    StatusUnknown,
    TLSHandshakeError,
    WriteTimeout,
)
from tests._server import (
    CertificateSet,
    Close,
    Endless,
    Handshake,
    Reply,
    Script,
    Then,
    TLSSetup,
    ehlo_reply,
)
from tests._server.fixtures import ServerFactory

from .helpers import FAST, MESSAGE, data_lines, make_client, smtp_verbs

# --- TLS and certificates (RFC 8314 §3.3, RFC 6125 §6) -------------------------------------


@pytest.mark.parametrize("kind", ["expired", "wrong_name", "unknown_ca", "self_signed"])
@pytest.mark.parametrize("setup", [TLSSetup.IMPLICIT, TLSSetup.STARTTLS])
def test_bad_certificates_abort_before_smtp(
    hostile: ServerFactory, certs: CertificateSet, kind: str, setup: TLSSetup
) -> None:
    server = hostile(Script(tls=setup, certificate=kind))
    mode = "implicit" if setup is TLSSetup.IMPLICIT else "starttls"
    client = make_client(server, certs, tls=mode)
    with pytest.raises(CertificateVerifyFailed) as info:
        client.send(MESSAGE)
    assert type(info.value) is CertificateVerifyFailed
    assert server.settle()
    assert [verb for verb, tls in server.commands() if tls] == []
    assert smtp_verbs(server) == ([] if mode == "implicit" else ["EHLO", "STARTTLS"])


def test_default_trust_store_rejects_private_ca(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(tls=TLSSetup.IMPLICIT))
    client = make_client(server, certs, tls="implicit", cafile=None)
    with pytest.raises(CertificateVerifyFailed):
        client.send(MESSAGE)
    assert server.settle()
    assert server.commands() == []


def test_hostname_is_the_configured_name_with_sni(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    liar = b"220 wrong.invalid ESMTP\r\n"
    ehlo = ehlo_reply("wrong.invalid", ("8BITMIME",))
    good = hostile(Script(tls=TLSSetup.IMPLICIT, greeting=liar, replies={"EHLO": ehlo}))
    client = SMTPClient(
        "localhost",
        good.port,
        tls="implicit",
        cafile=str(certs.ca_path),
        connect_to=(good.host, good.port),  # the configured name is not what we dial
        local_hostname="client.test",
        connect_timeout=FAST["connect_timeout"],
        command_timeout=FAST["command_timeout"],
    )
    with client:
        client.send(MESSAGE)
    assert good.sni_names == ["localhost"]
    assert len(good.bodies) == 1
    # The greeting and EHLO name the certificate's name; the client must not believe them.
    bad = hostile(
        Script(
            tls=TLSSetup.IMPLICIT, certificate="wrong_name", greeting=liar, replies={"EHLO": ehlo}
        )
    )
    with pytest.raises(CertificateVerifyFailed):
        make_client(bad, certs, tls="implicit").send(MESSAGE)
    assert bad.settle()
    assert bad.commands() == []


def test_plaintext_on_implicit_port_and_reverse(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    plain = hostile(Script())
    with pytest.raises(TLSHandshakeError) as info:
        make_client(plain, certs, tls="implicit").send(MESSAGE)
    assert type(info.value) is TLSHandshakeError
    implicit = hostile(Script(tls=TLSSetup.IMPLICIT))
    with pytest.raises(ConnectTimeout) as timeout_info:
        make_client(implicit, certs, tls="starttls", connect_timeout=0.5).send(MESSAGE)
    assert type(timeout_info.value) is ConnectTimeout
    assert plain.settle()
    assert implicit.settle()
    assert smtp_verbs(plain) == []  # only the ClientHello's bytes arrived


@pytest.mark.parametrize("setup", [TLSSetup.IMPLICIT, TLSSetup.STARTTLS])
def test_stalled_handshake_times_out(
    hostile: ServerFactory, certs: CertificateSet, setup: TLSSetup
) -> None:
    server = hostile(Script(tls=setup, handshake=Handshake.STALL))
    mode = "implicit" if setup is TLSSetup.IMPLICIT else "starttls"
    client = make_client(server, certs, tls=mode, connect_timeout=0.5, command_timeout=0.5)
    expected = ConnectTimeout if mode == "implicit" else ReadTimeout
    with pytest.raises(expected) as info:
        client.send(MESSAGE)
    assert type(info.value) is expected
    assert server.settle()


# --- Reply parsing robustness (RFC 5321 §4.2) ------------------------------------------------


@pytest.mark.parametrize("greeting", [b"421", b"554", b"500", b"550", b"354", b"221"])
def test_greeting_refused(
    hostile: ServerFactory, certs: CertificateSet, greeting: bytes
) -> None:
    server = hostile(Script(greeting=greeting + b" no service here\r\n"))
    with pytest.raises(GreetingRefused) as info:
        make_client(server, certs, tls="none").send(MESSAGE)
    assert type(info.value) is GreetingRefused
    assert info.value.code == int(greeting)
    assert server.settle()
    assert smtp_verbs(server) in ([], ["QUIT"])


def test_multiline_greeting(hostile: ServerFactory, certs: CertificateSet) -> None:

    greeting = b"220-hostile.test first\r\n220-second line\r\n220 hostile.test ready\r\n"
    server = hostile(Script(greeting=greeting, strict=True))
    with make_client(server, certs, tls="none") as client:
        client.send(MESSAGE)
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert server.bodies == [MESSAGE]


@pytest.mark.parametrize("size", [1, 2, 5])
def test_replies_split_anywhere(
    hostile: ServerFactory, certs: CertificateSet, size: int
) -> None:
    def slow(data: bytes) -> Reply:
        return Reply(data, trickle=(size, 0.001))

    replies = {
        "EHLO": slow(ehlo_reply("hostile.test", ("PIPELINING", "8BITMIME"))),
        "MAIL": slow(b"250 2.1.0 ok\r\n"),
        "RCPT": slow(b"250 2.1.5 ok\r\n"),
        "DATA": slow(b"354 go\r\n"),
        "DATA_END": slow(b"250 2.0.0 queued\r\n"),
        "QUIT": slow(b"221 bye\r\n"),
    }
    server = hostile(Script(greeting=slow(b"220 hostile.test ready\r\n"), replies=replies))
    with make_client(server, certs, tls="none") as client:
        result = client.send(MESSAGE)
    assert result.reply is not None
    assert (result.reply.code, result.reply.text) == (250, "2.0.0 queued")
    assert server.bodies == [MESSAGE]


@pytest.mark.parametrize(
    "ehlo",
    [
        b"250-" + b"x" * 9000 + b"\r\n250 ok\r\n",
        Endless(b"250-more\r\n", prefix=b"250-hostile.test\r\n"),
        Endless(b"x" * 4096, prefix=b"250 "),
    ],
    ids=["long-line", "endless-continuation", "no-newline"],
)
def test_oversized_replies(
    hostile: ServerFactory, certs: CertificateSet, ehlo: bytes | Endless
) -> None:
    server = hostile(Script(replies={"EHLO": ehlo}))
    with pytest.raises(RemoteProtocolError) as info:
        make_client(server, certs, tls="none").send(MESSAGE)
    assert type(info.value) is RemoteProtocolError
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO"]


@pytest.mark.parametrize(
    "where",
    [{"greeting": b"wefpPSwrsfa2sdfsdf\r\n"}, {"replies": {"EHLO": b"2x0 hello\r\n"}}],
    ids=["garbage-greeting", "non-numeric-code"],
)
def test_garbage_replies(
    hostile: ServerFactory, certs: CertificateSet, where: dict[str, object]
) -> None:
    server = hostile(Script(**where))  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as info:
        make_client(server, certs, tls="none").send(MESSAGE)
    # Garbage instead of a greeting also says "not an SMTP server" (a ConnectError too).
    expected = NotSMTPServer if "greeting" in where else RemoteProtocolError
    assert type(info.value) is expected
    assert server.settle()
    assert "MAIL" not in smtp_verbs(server)


def test_invalid_utf8_in_reply_text(hostile: ServerFactory, certs: CertificateSet) -> None:

    replies = {
        "EHLO": b"250-hostile.test \xff\xfe\r\n250 8BITMIME\r\n",
        "DATA_END": b"250 2.0.0 queued \xc3\x28 ok\r\n",
    }
    server = hostile(Script(replies=replies))
    with make_client(server, certs, tls="none") as client:
        result = client.send(MESSAGE)
    assert result.reply is not None
    assert result.reply.code == 250
    assert "\ufffd" in result.reply.text
    assert server.bodies == [MESSAGE]


@pytest.mark.parametrize("variant", ["lf-only", "odd-ehlo", "bare-334", "empty-line"])
def test_tolerant_reply_parsing(
    hostile: ServerFactory, certs: CertificateSet, variant: str
) -> None:
    if variant == "lf-only":
        replies: dict[str, bytes] = {
            "EHLO": b"250-hostile.test\n250 8BITMIME\n",
            "MAIL": b"250 ok\n",
            "RCPT": b"250 ok\n",
            "DATA": b"354 go\n",
            "DATA_END": b"250 queued\n",
        }
        script = Script(greeting=b"220 hostile.test\n", replies=replies)
    elif variant == "odd-ehlo":
        ehlo = b"250-hostile.test\r\n250-\r\n250-   PIPELINING\r\n250 AUTH=PLAIN LOGIN\r\n"
        script = Script(tls=TLSSetup.IMPLICIT, replies={"EHLO": ehlo})
    elif variant == "bare-334":
        script = Script(
            tls=TLSSetup.IMPLICIT,
            capabilities=("AUTH LOGIN",),
            replies={"AUTH": b"334\r\n", "AUTH_CONT": [b"334\r\n", b"235 2.7.0 ok\r\n"]},
        )
    else:
        script = Script(replies={"EHLO": b"\r\n"})
    server = hostile(script)
    mode = "implicit" if script.tls is TLSSetup.IMPLICIT else "none"
    options = {"username": "user", "password": "pw"} if variant == "bare-334" else {}
    client = make_client(server, certs, tls=mode, **options)
    if variant == "empty-line":
        with pytest.raises(RemoteProtocolError) as info:
            client.send(MESSAGE)
        assert type(info.value) is RemoteProtocolError
        return
    with client:
        if variant == "odd-ehlo":
            assert set(client.extensions.auth_mechanisms) == {"PLAIN", "LOGIN"}
            assert client.extensions.has("PIPELINING")
        client.send(MESSAGE)
    assert server.bodies == [MESSAGE]


def test_control_characters_in_replies_are_escaped(
    hostile: ServerFactory, certs: CertificateSet, caplog: pytest.LogCaptureFixture
) -> None:
    spoof = b"\x1b[2J\x1b[31mYOU ARE HACKED\x1b[0m\x07\x08"
    replies = {
        "EHLO": b"250-hostile.test " + spoof + b"\r\n250 8BITMIME\r\n",
        "MAIL": b"550 5.7.1 " + spoof + b"x" * 6000 + b"\r\n",
    }
    server = hostile(Script(replies=replies))
    transcript = Transcript()
    caplog.set_level(logging.DEBUG)
    client = make_client(server, certs, tls="none", transcript=transcript)
    try:
        with pytest.raises(SenderRefused) as info:
            client.send(MESSAGE)
    finally:
        client.close()
    assert info.value.code == 550  # acted on the code
    shown = [transcript.render(), caplog.text, str(info.value)]
    for text in shown:
        assert "\x1b" not in text
        assert "\x07" not in text
        assert "\x08" not in text


# --- Connection faults and timeouts (RFC 5321 §4.5.3.2) ------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["eof", "rst"])
def test_close_instead_of_reply(
    hostile: ServerFactory, certs: CertificateSet, reset: bool
) -> None:
    server = hostile(Script(replies={"MAIL": Close(reset=reset)}))
    with pytest.raises(ServerDisconnected) as info:
        make_client(server, certs, tls="none").send(MESSAGE)
    assert type(info.value) is ServerDisconnected
    assert server.settle()


BIG_MESSAGE = MESSAGE + (b"y" * 76 + b"\r\n") * 4000


@pytest.mark.parametrize("variant", ["after-354", "mid-body", "550-then-deaf"])
def test_close_during_data(
    hostile: ServerFactory, certs: CertificateSet, variant: str
) -> None:
    if variant == "after-354":
        script = Script(replies={"DATA": Reply(b"354 go\r\n", then=Then.CLOSE)})
        expected: type[Exception] = ServerDisconnected
    elif variant == "mid-body":
        # Whether the client's write of the end of the data completed decides between the two:
        # a write that failed means not sent; one that completed leaves only "status unknown"
        # (RFC 5321 §4.5.3.2.6), never a plain "failed".
        script = Script(data_disconnect_after=1000)
        expected = ServerDisconnected
    else:
        script = Script(replies={"DATA": Reply(b"550 5.7.1 no\r\n", then=Then.STALL)})
        expected = DataRefused
    server = hostile(script)
    client = make_client(server, certs, tls="none", command_timeout=1.0)
    try:
        with pytest.raises((expected, StatusUnknown)) as info:
            client.send(BIG_MESSAGE)
    finally:
        client.close()
    if variant == "mid-body":
        assert type(info.value) in (ServerDisconnected, StatusUnknown)
    else:
        assert type(info.value) is expected
    assert server.bodies == []


@pytest.mark.parametrize("then", [Then.CLOSE, Then.CONTINUE], ids=["then-close", "keeps-talking"])
def test_421_mid_session(
    hostile: ServerFactory, certs: CertificateSet, then: Then
) -> None:
    closing = Reply(b"421 4.3.2 shutting down\r\n", then=then)
    server = hostile(Script(replies={"RCPT": closing}))
    client = make_client(server, certs, tls="none")
    with pytest.raises(ServiceClosing) as info:
        client.send(MESSAGE)
    assert type(info.value) is ServiceClosing
    assert info.value.is_transient
    assert not client.is_connected
    assert server.settle()
    assert "RSET" not in smtp_verbs(server)
    assert "QUIT" not in smtp_verbs(server)
    assert data_lines(server) == []


@pytest.mark.parametrize("where", ["greeting", "RCPT"])
def test_reply_delayed_past_the_timeout(
    hostile: ServerFactory, certs: CertificateSet, where: str
) -> None:
    late = Reply(b"220 hostile.test late\r\n" if where == "greeting" else b"250 late\r\n", 2.0)
    script = Script(greeting=late) if where == "greeting" else Script(replies={"RCPT": late})
    server = hostile(script)
    client = make_client(server, certs, tls="none", connect_timeout=0.5, command_timeout=0.5)
    expected = ConnectTimeout if where == "greeting" else ReadTimeout
    with pytest.raises(expected) as info:
        client.send(MESSAGE)
    assert type(info.value) is expected
    assert not client.is_connected
    assert server.settle()


@pytest.mark.parametrize("limit", ["deadline", "command_timeout"])
def test_trickling_reply_is_bounded(
    hostile: ServerFactory, certs: CertificateSet, limit: str
) -> None:
    ehlo = ehlo_reply("hostile.test", [f"X-PAD-{i:04d}" for i in range(60)])
    server = hostile(Script(replies={"EHLO": Reply(ehlo, trickle=(1, 0.01))}))
    options = {"deadline": 1.0} if limit == "deadline" else {"command_timeout": 1.0}
    client = make_client(server, certs, tls="none", **options)
    try:
        with pytest.raises(ReadTimeout):
            client.send(MESSAGE)
        assert not client.is_connected
    finally:
        client.close()
    assert "MAIL" not in smtp_verbs(server)


def test_slow_final_reply_is_status_unknown(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    late = Reply(b"250 2.0.0 finally\r\n", delay=2.0)
    server = hostile(Script(replies={"DATA_END": late}))
    client = make_client(server, certs, tls="none", command_timeout=0.5)
    with pytest.raises(StatusUnknown) as info:
        client.send(MESSAGE)
    assert type(info.value) is StatusUnknown
    assert server.bodies == [MESSAGE]  # it did arrive: "failed" would have been a lie


def test_server_stops_reading_during_data(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"DATA": Reply(b"354 go\r\n", then=Then.STALL)}))
    huge = MESSAGE + (b"z" * 998 + b"\r\n") * 32_000  # ~32 MB: more than any socket buffer
    client = make_client(server, certs, tls="none", command_timeout=0.5)
    with pytest.raises(WriteTimeout) as info:
        client.send(huge)
    assert type(info.value) is WriteTimeout
    assert not client.is_connected


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A loopback port whose listen queue is full: connects neither succeed nor fail."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(listener.getsockname())
        except BlockingIOError:
            pass
        fillers.append(filler)
    try:
        yield listener.getsockname()[1]
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connection_refused_and_connect_timeout(
    certs: CertificateSet, full_backlog: int
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(ConnectError) as info:
        SMTPClient("127.0.0.1", port, tls="none", connect_timeout=2.0).send(MESSAGE)
    assert type(info.value) is ConnectError
    with pytest.raises(ConnectTimeout) as timeout_info:
        SMTPClient("127.0.0.1", full_backlog, tls="none", connect_timeout=0.5).send(MESSAGE)
    assert type(timeout_info.value) is ConnectTimeout
