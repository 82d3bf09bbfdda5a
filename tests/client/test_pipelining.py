"""PIPELINING (RFC 2920) and CHUNKING/BDAT (RFC 3030) in ``send_many``: order and per-message truth.

Three referees: the lab (50 messages, stored in order; the client's own transcript shows
commands written before earlier replies were read), a hostile server that keeps real
transaction state and refuses by address (one refused RCPT, a refused MAIL, every RCPT
refused, a 421 after the third message), and real Postfix (its log says BDAT, its Maildir
holds exactly the accepted messages).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cdomail import SMTPClient, Transcript
from cdomail.errors import RecipientsRefused, SenderRefused, ServiceClosing
from cdomail.lab import Lab
from tests._server import Reply, Script, ScriptedServer, Then
from tests._server import server as hostile_server_module
from tests._server.session import Session
from tests.interop._delivered import as_stored, new_marker, postfix_received
from tests.interop._postfix import PostfixInstance, running_postfix
from tests.interop._programs import require_program, require_root

# -- messages ----------------------------------------------------------------------------


def raw_message(
    number: int, *, sender: str = "sender@example.test", to: tuple[str, ...] = (), marker: str = ""
) -> bytes:
    """A small message; the envelope comes from its From/To headers (no explicit envelope)."""
    recipients = to or (f"rcpt{number}@example.test",)
    return (
        f"From: <{sender}>\r\n"
        f"To: {', '.join(f'<{r}>' for r in recipients)}\r\n"
        f"Subject: message {number}\r\n"
        f"X-Marker: {marker or f'm{number}'}\r\n"
        "\r\n"
        f"Body of message {number}.\r\n"
        ".A line with a leading dot (dot-stuffed in DATA, RFC 5321 §4.5.2).\r\n"
    ).encode()


SUBJECT = re.compile(rb"^Subject: (.*?)\r$", re.MULTILINE)


def subject_of(data: bytes) -> str:
    """The Subject header of a stored message."""
    match = SUBJECT.search(data)
    assert match is not None, data[:200]
    return match[1].decode()


# -- reading the client's transcript ----------------------------------------------------


def owed_when_written(transcript: Transcript) -> list[tuple[str, int]]:
    """For each command from the first MAIL on: (its text, replies still unread when written).

    A content event (``[N bytes of message content ...]``) stands for the one-line end of
    DATA or a single ``BDAT n LAST`` chunk, each of which gets exactly one reply. A reply ends
    with its last line (a space after the code, RFC 5321 §4.2.1).
    """
    lines = transcript.lines
    start = next(i for i, line in enumerate(lines) if line.text.startswith("MAIL FROM:"))
    owed = 0
    written: list[tuple[str, int]] = []
    for line in lines[start:]:
        content = line.direction == "*" and "bytes of message content" in line.text
        if line.direction == "C" or content:
            written.append((line.text, owed))
            owed += 1
        elif line.direction == "S" and line.text[3:4] == " ":
            owed -= 1
    assert owed == 0, "every command must have had its reply by the end of the session"
    return written


# -- the lab: many messages --------------------------------------------------------------

LAB_BATCH = 50


@pytest.mark.parametrize(
    "content_command",
    ["BDAT", pytest.param("DATA", marks=pytest.mark.lab(chunking=False))],
)
def test_fifty_messages_pipelined_in_order(lab: Lab, content_command: str) -> None:
    messages = [
        raw_message(n, to=(f"a{n}@example.test", f"b{n}@example.test")) for n in range(LAB_BATCH)
    ]
    transcript = Transcript()
    with SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                    transcript=transcript) as client:
        results = client.send_many(messages)
    assert len(results) == LAB_BATCH
    for number, result in enumerate(results):
        assert result.error is None, (number, result.error)
        assert result.ok and result.encrypted
        assert result.content_command == content_command
        assert sorted(result.accepted) == [f"a{number}@example.test", f"b{number}@example.test"]
        assert result.refused == {}
        assert result.reply is not None and result.reply.code == 250
    assert lab.wait_sessions_closed()
    assert len(lab.sessions) == 1
    stored = lab.messages
    assert [subject_of(m.data) for m in stored] == [f"message {n}" for n in range(LAB_BATCH)]
    assert [m.data for m in stored] == messages
    assert all(m.chunked == (content_command == "BDAT") for m in stored)
    assert [m.rcpt_tos for m in stored] == [[f"a{n}@example.test", f"b{n}@example.test"]
                                            for n in range(LAB_BATCH)]

    written = owed_when_written(transcript)
    mail_index = [i for i, (text, _) in enumerate(written) if text.startswith("MAIL FROM:")]
    assert len(mail_index) == LAB_BATCH
    # Within a message: both RCPTs go out before the reply to MAIL is read (RFC 2920 §3.1).
    for index in mail_index:
        assert [owed for _, owed in written[index + 1: index + 3]] == [
            written[index][1] + 1, written[index][1] + 2]
    # Across messages: each MAIL after the first leaves while the previous message's verdict
    # (the reply to its end of DATA, or to its BDAT LAST) is still unread.
    ahead = [written[index][1] for index in mail_index]
    assert ahead[0] == 0
    assert all(owed >= 1 for owed in ahead[1:]), ahead


@pytest.mark.lab(pipelining=False, chunking=False)
def test_lock_step_without_pipelining(lab: Lab) -> None:
    """The contrast: without PIPELINING every command waits for the previous reply."""
    transcript = Transcript()
    with SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                    transcript=transcript) as client:
        results = client.send_many([raw_message(n) for n in range(4)])
    assert [r.ok for r in results] == [True] * 4
    written = owed_when_written(transcript)
    assert len(written) > 4 * 3
    assert [owed for _, owed in written] == [0] * len(written)
    assert [subject_of(m.data) for m in lab.messages] == [f"message {n}" for n in range(4)]


# -- a hostile server with real transaction state ----------------------------------------


class TransactionalSession(Session):
    """A hostile session that keeps SMTP transaction state, as a real server does.

    A sender or recipient whose local part starts with ``refused`` is refused (550). Content
    without an accepted MAIL and at least one accepted RCPT is refused: a BDAT chunk is still
    read, then answered 503 (RFC 3030 §2); DATA gets 554 (RFC 2920 §3.1). With ``close_after``,
    the MAIL after that many stored messages gets 421 and the connection closes.
    """

    close_after: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sender_ok = False
        self.accepted_recipients = 0

    def _reset(self) -> None:
        self.sender_ok = False
        self.accepted_recipients = 0

    def _on_mail(self, line: bytes) -> None:
        if self.close_after is not None and len(self.record.bodies) >= self.close_after:
            # Read what the client already pipelined, so the close is a FIN rather than a
            # reset that could destroy the 421 before the client reads it.
            self._pause(0.2)
            self._recv_into_buffer(block=False)
            self._perform(Reply(b"421 4.7.0 too many messages, closing\r\n", then=Then.CLOSE),
                          "MAIL")
        if _local_part(line).startswith(b"refused"):
            self._perform(b"550 5.7.1 sender refused\r\n", "MAIL")
            self._reset()
            return
        self._perform(b"250 2.1.0 sender ok\r\n", "MAIL")
        self.sender_ok = True
        self.accepted_recipients = 0

    def _on_rcpt(self, line: bytes) -> None:
        if not self.sender_ok:
            self._perform(b"503 5.5.1 need MAIL first\r\n", "RCPT")
        elif _local_part(line).startswith(b"refused"):
            self._perform(b"550 5.1.1 no such user\r\n", "RCPT")
        else:
            self._perform(b"250 2.1.5 recipient ok\r\n", "RCPT")
            self.accepted_recipients += 1

    def _on_rset(self, line: bytes) -> None:
        self._perform(b"250 2.0.0 reset\r\n", "RSET")
        self._reset()

    def _on_bdat(self, line: bytes) -> None:
        if self.sender_ok and self.accepted_recipients:
            stored = len(self.record.bodies)
            super()._on_bdat(line)
            if len(self.record.bodies) > stored:
                self._reset()
            return
        words = line.split()
        self._remember(self._read_exactly(int(words[1])), "bdat")
        self._perform(b"503 5.5.1 no valid recipients\r\n", "BDAT")

    def _on_data(self, line: bytes) -> None:
        if self.sender_ok and self.accepted_recipients:
            super()._on_data(line)
            self._reset()
            return
        self._perform(b"554 5.5.1 no valid recipients\r\n", "DATA")


def _local_part(line: bytes) -> bytes:
    match = re.search(rb"<([^@>]*)@", line)
    return match[1].lower() if match else b""


CAPABILITIES = {
    "BDAT": ("PIPELINING", "CHUNKING", "8BITMIME", "ENHANCEDSTATUSCODES"),
    "DATA": ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
}


@pytest.fixture
def transactional_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., ScriptedServer]]:
    """Start hostile servers whose sessions are :class:`TransactionalSession`; stop them after."""
    started: list[ScriptedServer] = []

    def start(content_command: str, *, close_after: int | None = None) -> ScriptedServer:
        def make_session(*args: Any, **kwargs: Any) -> Session:
            session = TransactionalSession(*args, **kwargs)
            session.close_after = close_after
            return session

        # ScriptedServer builds each session through this module-level name.
        monkeypatch.setattr(hostile_server_module, "Session", make_session)
        # strict: input that arrives where RFC 2920 forbids pipelining is a synchronisation
        # error (Exim's behaviour), and bare LF is refused.
        script = Script(capabilities=CAPABILITIES[content_command], strict=True)
        server = ScriptedServer(script).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def hostile_client(server: ScriptedServer) -> SMTPClient:
    """A plaintext client (the hostile server speaks no TLS here) with short timeouts."""
    return SMTPClient(server.host, server.port, tls="none", local_hostname="client.test",
                      connect_timeout=5.0, command_timeout=5.0)


def mixed_batch() -> list[bytes]:
    """Six messages: 2 loses one recipient, 3 loses its sender, 4 loses every recipient."""
    return [
        raw_message(1),
        raw_message(2, to=("rcpt2@example.test", "refused2@example.test")),
        raw_message(3, sender="refused-sender@example.test"),
        raw_message(4, to=("refused4a@example.test", "refused4b@example.test")),
        raw_message(5),
        raw_message(6),
    ]


def assert_mixed_results(results: list[Any], content_command: str) -> None:
    """Every message's result says exactly what happened to it."""
    assert len(results) == 6
    for index in (0, 1, 4, 5):
        assert results[index].error is None, (index + 1, results[index].error)
        assert results[index].ok
        assert results[index].content_command == content_command
    assert list(results[0].accepted) == ["rcpt1@example.test"]
    assert list(results[1].accepted) == ["rcpt2@example.test"]
    assert list(results[1].refused) == ["refused2@example.test"]
    assert results[1].refused["refused2@example.test"].code >= 500

    third = results[2]
    assert isinstance(third.error, SenderRefused)
    assert not third.ok and third.accepted == {}

    fourth = results[3]
    assert isinstance(fourth.error, RecipientsRefused)
    assert not fourth.ok and fourth.accepted == {}
    assert sorted(fourth.refused) == ["refused4a@example.test", "refused4b@example.test"]


@pytest.mark.parametrize("content_command", ["BDAT", "DATA"])
def test_failures_inside_a_pipelined_batch(
    transactional_server: Callable[..., ScriptedServer], content_command: str
) -> None:
    server = transactional_server(content_command)
    messages = mixed_batch()
    with hostile_client(server) as client:
        results = client.send_many(messages)
        # The failures left a clean session behind: the same connection sends again.
        after = client.send(raw_message(7))
    assert after.ok
    assert_mixed_results(results, content_command)
    assert server.settle()
    assert server.connections == 1
    assert "sync-error" not in " ".join(server.events)
    assert server.bodies == [messages[0], messages[1], messages[4], messages[5], raw_message(7)]
    verbs = server.verbs()
    assert verbs.count("MAIL") == 7
    other = {"BDAT": "DATA", "DATA": "BDAT"}[content_command]
    assert other not in verbs


@pytest.mark.parametrize("content_command", ["BDAT", "DATA"])
def test_421_after_the_third_message(
    transactional_server: Callable[..., ScriptedServer], content_command: str
) -> None:
    server = transactional_server(content_command, close_after=3)
    messages = [raw_message(n) for n in range(1, 7)]
    client = hostile_client(server)
    with client:
        results = client.send_many(messages)
        assert not client.is_connected
    assert [r.ok for r in results] == [True, True, True, False, False, False]
    for result in results[:3]:
        assert result.error is None and result.content_command == content_command
    for result in results[3:]:
        assert isinstance(result.error, ServiceClosing), result.error
        assert result.error.code == 421
    assert server.settle()
    assert server.bodies == messages[:3]
    assert "closed-by-server" in server.events


# -- real Postfix, with BDAT -------------------------------------------------------------


def smtpd_session_log(postfix: PostfixInstance, queue_id: str) -> str:
    """The log lines of the smtpd session that queued *queue_id*, connect to disconnect.

    One smtpd process serves many sessions in turn, so its pid alone does not delimit one.
    """
    log = postfix.log_text()
    client = re.search(rf"smtpd\[(\d+)\]: {re.escape(queue_id)}: client=", log)
    assert client is not None, queue_id
    pid = client[1]
    start = log.rindex(f"smtpd[{pid}]: connect from", 0, client.start())
    end = log.index("\n", log.index(f"smtpd[{pid}]: disconnect from", client.end()))
    return "\n".join(line for line in log[start:end].splitlines() if f"smtpd[{pid}]" in line)

POSTFIX_REFUSED = "nobody@nowhere.invalid"


@pytest.fixture(scope="module")
def postfix() -> Iterator[PostfixInstance]:
    """A private Postfix (see tests/interop/_postfix.py), without SASL: none is needed here."""
    command = require_program("postfix")
    require_program("postconf")
    require_root("the private Postfix instance")
    with running_postfix(postfix=command, saslpasswd2=None) as instance:
        yield instance


@pytest.mark.interop
def test_refusals_in_a_pipelined_batch_against_postfix(postfix: PostfixInstance) -> None:
    """Postfix refuses recipients it would have to relay (the fixture's transports are
    ``error:``) with 550 5.1.1, and a syntactically bad sender with 501 5.1.7."""
    markers = [new_marker() for _ in range(6)]
    messages = [
        raw_message(1, marker=markers[0]),
        raw_message(2, to=("rcpt2@example.test", POSTFIX_REFUSED), marker=markers[1]),
        raw_message(3, sender="sender@bad..domain", marker=markers[2]),
        raw_message(4, to=(POSTFIX_REFUSED, "other@nowhere.invalid"), marker=markers[3]),
        raw_message(5, marker=markers[4]),
        raw_message(6, marker=markers[5]),
    ]
    with SMTPClient(postfix.host, postfix.port("starttls"), tls="starttls",
                    cafile=str(postfix.ca_path), connect_timeout=10.0,
                    command_timeout=30.0) as client:
        assert client.extensions.has("CHUNKING") and client.extensions.has("PIPELINING")
        results = client.send_many(messages)
    assert [r.ok for r in results] == [True, True, False, False, True, True]
    assert list(results[1].refused) == [POSTFIX_REFUSED]
    assert results[1].refused[POSTFIX_REFUSED].code == 550
    assert list(results[1].accepted) == ["rcpt2@example.test"]
    assert isinstance(results[2].error, SenderRefused) and results[2].error.code == 501
    assert isinstance(results[3].error, RecipientsRefused)
    assert sorted(results[3].refused) == sorted([POSTFIX_REFUSED, "other@nowhere.invalid"])
    for index in (0, 1, 4, 5):
        assert results[index].content_command == "BDAT"

    queue_ids = []
    for index in (0, 1, 4, 5):
        delivered = postfix.wait_for_message(markers[index].encode())
        assert delivered.endswith(as_stored(messages[index]))
        queue_ids.append(postfix_received(delivered).queue_id)
    # One session carried the batch; it used BDAT, never DATA; it queued exactly four
    # messages (so nothing of 3 and 4 can ever arrive) and refused the three recipients.
    counts = postfix.session_counts(queue_ids[0])
    assert "data" not in counts
    assert (counts["mail"], counts["rcpt"], counts["bdat"]) == (5, 4, 4)
    session = smtpd_session_log(postfix, queue_ids[0])
    assert sorted(re.findall(r": (\w+): client=", session)) == sorted(queue_ids)
    refusals = re.findall(r"reject: RCPT from .*: 550 5\.1\.1 <([^>]+)>", session)
    assert sorted(refusals) == sorted([POSTFIX_REFUSED, POSTFIX_REFUSED, "other@nowhere.invalid"])
    assert "in MAIL command: <sender@bad..domain>" in session
    assert re.search(r"disconnect from .* mail=5/6 rcpt=4/8 ", session)
    delivered_files = list((postfix.maildir / "new").iterdir())
    for index in (2, 3):
        assert not any(markers[index].encode() in path.read_bytes() for path in delivered_files)
