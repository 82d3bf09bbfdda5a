"""The sans-IO client connection, driven with bytes only (smtpproto's test style)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cdomail.protocol
from cdomail.errors import LocalProtocolError, RemoteProtocolError
from cdomail.protocol import (
    NEED_DATA,
    Auth,
    AuthResponse,
    ClientConnection,
    ClientState,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfData,
    Extensions,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Reply,
    Rset,
    StartTLS,
)

EHLO_REPLY = b"250-mx.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-CHUNKING\r\n250 AUTH PLAIN\r\n"


def next_reply(conn: ClientConnection) -> Reply:
    event = conn.next_event()
    assert isinstance(event, Reply), event
    return event


def state_of(conn: ClientConnection) -> ClientState:
    """The state now (a call: mypy would keep the state narrowed by an earlier assert)."""
    return conn.state


def ready(ehlo: bytes = EHLO_REPLY) -> ClientConnection:
    conn = ClientConnection()
    conn.receive_data(b"220 mx.test ESMTP\r\n")
    assert next_reply(conn).code == 220
    assert conn.send(Ehlo("client.test")) == b"EHLO client.test\r\n"
    conn.receive_data(ehlo)
    assert next_reply(conn).code == 250
    assert conn.state is ClientState.READY
    return conn


def test_core_imports_no_io_modules() -> None:
    forbidden = {"socket", "ssl", "asyncio", "threading", "selectors", "anyio", "trio"}
    package = Path(cdomail.protocol.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_need_data_until_greeting() -> None:
    conn = ClientConnection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"220 hi")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\r\n")
    assert next_reply(conn).command is None
    assert conn.state is ClientState.GREETED


def test_commands_before_greeting_are_illegal() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection().send(Ehlo("x.test"))


def test_ehlo_capabilities_are_parsed() -> None:
    conn = ready(b"250-mx\r\n250-SIZE 1000\r\n250-AUTH=LOGIN\r\n250-auth plain login\r\n"
                 b"250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n")
    ext = conn.extensions
    assert ext is not None
    assert ext.max_size == 1000
    assert ext.auth_mechanisms == ("LOGIN", "PLAIN")
    for keyword in ("8BITMIME", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES"):
        assert ext.has(keyword)
    assert not ext.has("PIPELINING")


def test_extensions_ignore_empty_lines() -> None:
    ext = Extensions.parse(["mx", "", "PIPELINING"])
    assert ext.names == ("PIPELINING",)


def test_pipelined_transaction_pairs_each_reply_with_its_command() -> None:
    conn = ready()
    wire = conn.send(MailFrom("a@x.test"), tag="m1")
    wire += conn.send(RcptTo("b@x.test"), tag="m1")
    wire += conn.send(RcptTo("c@x.test"), tag="m1")
    wire += conn.send(Data(), tag="m1")
    assert wire == (b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n"
                    b"DATA\r\n")
    conn.receive_data(b"250 ok\r\n550 no such user\r\n250 ok\r\n354 go\r\n")
    replies = [next_reply(conn) for _ in range(4)]
    assert [type(r.command).__name__ for r in replies] == ["MailFrom", "RcptTo", "RcptTo", "Data"]
    assert replies[1].code == 550 and isinstance(replies[1].command, RcptTo)
    assert replies[1].command.address == "b@x.test"
    assert all(r.tag == "m1" for r in replies)
    assert conn.state is ClientState.CONTENT
    body = conn.send_content(b"Subject: x\n\n.hi") + conn.end_content()
    assert body == b"Subject: x\r\n\r\n..hi\r\n.\r\n"
    # RFC 2920: the content may be followed by the next transaction without waiting.
    conn.send(MailFrom("a@x.test"), tag="m2")
    conn.receive_data(b"250 queued\r\n250 ok\r\n")
    final, mail2 = next_reply(conn), next_reply(conn)
    assert isinstance(final.command, EndOfData) and final.tag == "m1"
    assert isinstance(mail2.command, MailFrom) and mail2.tag == "m2"


def test_checked_content_is_the_whole_content_after_354_only() -> None:
    content = cdomail.protocol.check_content(b"Subject: x\r\n\r\n.hi")
    assert content is not None
    conn = ready()
    conn.send(MailFrom("a@x.test"), tag="m1")
    conn.send(RcptTo("b@x.test"), tag="m1")
    with pytest.raises(LocalProtocolError, match="whole content"):
        conn.send_checked_content(content)  # before DATA's 354
    conn.send(Data(), tag="m1")
    conn.receive_data(b"250 ok\r\n250 ok\r\n354 go\r\n")
    for _ in range(3):
        next_reply(conn)
    assert conn.send_checked_content(content) == b"Subject: x\r\n\r\n..hi\r\n.\r\n"
    assert conn.state is ClientState.READY
    conn.receive_data(b"250 queued\r\n")
    final = next_reply(conn)
    assert isinstance(final.command, EndOfData) and final.tag == "m1"


def test_checked_content_cannot_follow_partial_content() -> None:
    content = cdomail.protocol.check_content(b"rest\r\n")
    assert content is not None
    conn = ready()
    for command in (MailFrom("a@x.test"), RcptTo("b@x.test"), Data()):
        conn.send(command)
    conn.receive_data(b"250 ok\r\n250 ok\r\n354 go\r\n")
    for _ in range(3):
        next_reply(conn)
    conn.send_content(b"first part\r\n")
    with pytest.raises(LocalProtocolError, match="whole content"):
        conn.send_checked_content(content)


def test_without_pipelining_commands_wait_for_replies() -> None:
    conn = ready(b"250-mx\r\n250 SIZE 10\r\n")
    conn.send(MailFrom("a@x.test"))
    with pytest.raises(LocalProtocolError, match="PIPELINING"):
        conn.send(RcptTo("b@x.test"))


def test_group_ending_commands_must_wait() -> None:
    conn = ready()
    conn.send(Noop())
    with pytest.raises(LocalProtocolError, match="RFC 2920"):
        conn.send(MailFrom("a@x.test"))


def test_unsolicited_reply_is_an_error_not_the_next_answer() -> None:
    conn = ready()
    with pytest.raises(RemoteProtocolError, match="unsolicited"):
        conn.receive_data(b"250 surprise\r\n")
    assert conn.state is ClientState.CLOSED


def test_data_refused_returns_to_ready() -> None:
    conn = ready()
    conn.send(MailFrom("a@x.test"))
    conn.send(RcptTo("b@x.test"))
    conn.send(Data())
    conn.receive_data(b"250 ok\r\n250 ok\r\n554 no\r\n")
    for _ in range(3):
        next_reply(conn)
    assert conn.state is ClientState.READY
    with pytest.raises(LocalProtocolError):
        conn.send_content(b"x")
    conn.send(Rset())


def test_starttls_needs_an_exact_220_and_resets_knowledge() -> None:
    conn = ready()
    conn.send(StartTLS())
    conn.receive_data(b"220 go ahead\r\n")
    assert next_reply(conn).code == 220
    assert conn.state is ClientState.TLS_HANDSHAKE
    with pytest.raises(LocalProtocolError):
        conn.send(Ehlo("x.test"))
    conn.start_tls_completed()
    assert conn.tls_active and conn.extensions is None
    assert state_of(conn) is ClientState.GREETED
    with pytest.raises(LocalProtocolError):
        conn.send(MailFrom("a@x.test"))
    with pytest.raises(LocalProtocolError, match="already uses TLS"):
        conn.send(Ehlo("x.test"))
        conn.receive_data(EHLO_REPLY)
        next_reply(conn)
        conn.send(StartTLS())


@pytest.mark.parametrize("code", [b"454", b"502", b"500", b"354"])
def test_starttls_refusal_does_not_start_tls(code: bytes) -> None:
    conn = ready()
    conn.send(StartTLS())
    conn.receive_data(code + b" no\r\n")
    assert next_reply(conn).code == int(code)
    assert conn.state is not ClientState.TLS_HANDSHAKE
    assert not conn.tls_active


@pytest.mark.parametrize("injected", [b"250-evil\r\n250 AUTH LOGIN\r\n", b"250-AUTH PLAIN"])
def test_bytes_after_starttls_220_are_an_attack(injected: bytes) -> None:
    conn = ready()
    conn.send(StartTLS())
    with pytest.raises(RemoteProtocolError, match="STARTTLS"):
        conn.receive_data(b"220 go\r\n" + injected)
    assert conn.state is ClientState.CLOSED


def test_bytes_arriving_before_the_handshake_are_an_attack() -> None:
    conn = ready()
    conn.send(StartTLS())
    conn.receive_data(b"220 go\r\n")
    next_reply(conn)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"250 late injection\r\n")


def test_auth_only_when_advertised_and_responses_only_after_334() -> None:
    conn = ready()
    with pytest.raises(LocalProtocolError, match="did not advertise AUTH LOGIN"):
        conn.send(Auth("LOGIN"))
    assert conn.send(Auth("PLAIN", "AGEAYg==")) == b"AUTH PLAIN AGEAYg==\r\n"
    assert Auth("PLAIN", "AGEAYg==").redacted() == b"AUTH PLAIN ***\r\n"
    with pytest.raises(LocalProtocolError, match="before its reply"):
        conn.send(AuthResponse("x"))
    conn.receive_data(b"235 ok\r\n")
    next_reply(conn)
    assert conn.authenticated
    with pytest.raises(LocalProtocolError, match="AUTH-RESPONSE in state ready"):
        conn.send(AuthResponse("x"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: MailFrom("a@x.test\r\nRCPT TO:<evil@x.test>"),
        lambda: RcptTo("b@x.test\n"),
        lambda: RcptTo("b@x.test>"),
        lambda: MailFrom("a@x.test", ("SIZE=1\r\nRSET",)),
        lambda: Ehlo("host\x00name"),
        lambda: Ehlo("two words"),
        lambda: Auth("PLAIN", "abc\r\n"),
        lambda: AuthResponse("x\ry"),
    ],
)
def test_control_characters_never_reach_the_wire(make: object) -> None:
    with pytest.raises(LocalProtocolError):
        make()  # type: ignore[operator]


def test_bdat_framing_is_length_exact_and_binary_clean() -> None:
    conn = ready()
    conn.send(MailFrom("a@x.test"), tag=1)
    conn.send(RcptTo("b@x.test"), tag=1)
    conn.start_bdat()
    first = conn.send_bdat(b".line one\n", last=False, tag=1)
    last = conn.send_bdat(b"two", last=True, tag=1)
    assert first == b"BDAT 11\r\n.line one\r\n"
    assert last == b"BDAT 5 LAST\r\ntwo\r\n"
    assert conn.state is ClientState.READY
    conn.receive_data(b"250 a\r\n250 b\r\n250 c\r\n250 d\r\n")
    verbs = [next_reply(conn).command for _ in range(4)]
    assert [v.verb for v in verbs if v] == ["MAIL", "RCPT", "BDAT", "BDAT"]


def test_bdat_needs_chunking() -> None:
    conn = ready(b"250-mx\r\n250 PIPELINING\r\n")
    conn.send(MailFrom("a@x.test"))
    conn.send(RcptTo("b@x.test"))
    with pytest.raises(LocalProtocolError, match="CHUNKING"):
        conn.start_bdat()


def test_421_closes_and_eof_reports_pending_commands() -> None:
    conn = ready()
    conn.send(MailFrom("a@x.test"))
    conn.receive_data(b"421 shutting down\r\n")
    assert next_reply(conn).code == 421
    assert conn.state is ClientState.CLOSED
    with pytest.raises(LocalProtocolError, match="closed"):
        conn.send(Rset())

    conn = ready()
    conn.send(MailFrom("a@x.test"))
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, ConnectionClosed)
    assert [c.verb for c in event.pending] == ["MAIL"]


def test_quit_closes() -> None:
    conn = ready()
    conn.send(Quit())
    conn.receive_data(b"221 bye\r\n")
    next_reply(conn)
    assert conn.state is ClientState.CLOSED


def test_pipelining_can_be_switched_off_by_the_driver() -> None:
    conn = ClientConnection(allow_pipelining=False)
    conn.receive_data(b"220 hi\r\n")
    next_reply(conn)
    conn.send(Ehlo("c.test"))
    conn.receive_data(EHLO_REPLY)
    next_reply(conn)
    conn.send(MailFrom("a@x.test"))
    with pytest.raises(LocalProtocolError, match="PIPELINING"):
        conn.send(RcptTo("b@x.test"))
