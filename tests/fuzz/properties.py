"""Property checks of the sans-IO core, shared by the pytest suite and ``fuzz_core.py``.

Each ``check_*`` function takes plain values and raises AssertionError when a property breaks;
:data:`PROPERTIES` pairs each with the hypothesis strategies that feed it, so the same checks
run briefly under pytest and for hundreds of thousands of examples in the fuzz script.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from hypothesis import strategies as st

from cdomail.errors import InputError, LocalProtocolError, RemoteProtocolError
from cdomail.message import prepare
from cdomail.protocol import (
    NEED_DATA,
    ClientConnection,
    ContentEncoder,
    Ehlo,
    MailFrom,
    RcptTo,
    Reply,
    ReplyParser,
    check_content,
    encode_data,
)
from cdomail.protocol._data import stuff_checked
from tests._server.record import split_data_stream

# --- strategies ------------------------------------------------------------------------

#: Pieces that stress reply parsing: codes, separators, line ends, long runs, invalid UTF-8.
_REPLY_PIECES = st.sampled_from(
    [b"250", b"220", b"334", b"421", b"-", b" ", b"\r\n", b"\n", b"\r", b"ok", b"\xff\xfe",
     b"2", b"5", b"x" * 9000, b"250-" * 50, b"\x00", b"\x1b[31m", b"AUTH PLAIN", b"999"]
)  # fmt: skip
reply_streams = st.one_of(st.binary(max_size=512), st.lists(_REPLY_PIECES).map(b"".join))
split_points = st.lists(st.integers(min_value=0, max_value=20_000), max_size=20)

_reply_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).filter(
    lambda text: text == text.strip() and "\n" not in text
)
valid_replies = st.lists(
    st.tuples(st.integers(min_value=200, max_value=599), st.lists(_reply_text, min_size=1,
                                                                  max_size=4)),
    min_size=1,
    max_size=5,
)  # fmt: skip

_BODY_PIECES = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b".", b"..", b".\r\n", b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\r",
     b"\r\r\n", b"a", b"text ", b"\xc3\xa9", b"\x00", b"y" * 500, b"z" * 997]
)  # fmt: skip
bodies = st.one_of(st.binary(max_size=2048), st.lists(_BODY_PIECES, max_size=40).map(b"".join))

#: Text with every character class an injection needs: CR, LF, NUL, C0, DEL, non-ASCII.
hostile_text = st.text(
    st.one_of(
        st.sampled_from(["\r", "\n", "\x00", "\x7f", "\t", " ", "<", ">", ":", "@"]),
        st.characters(),
    ),
    max_size=40,
)


# --- helpers -----------------------------------------------------------------------------


def _chunks(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _wire(replies: list[tuple[int, list[str]]]) -> bytes:
    out = []
    for code, lines in replies:
        for i, line in enumerate(lines):
            separator = " " if i == len(lines) - 1 else "-"
            out.append(f"{code}{separator}{line}\r\n")
    return "".join(out).encode("ascii")


def normalise_body(body: bytes) -> bytes:
    """What a server must decode for ``body``: CRLF line ends, a final CRLF when non-empty."""
    lf = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if lf and not lf.endswith(b"\n"):
        lf += b"\n"
    return lf.replace(b"\n", b"\r\n")


# --- properties ----------------------------------------------------------------------------


def check_parser_raises_only_protocol_error(stream: bytes, points: list[int]) -> None:
    """Arbitrary bytes at arbitrary splits: replies or RemoteProtocolError, nothing else."""
    parser = ReplyParser()
    try:
        for chunk in _chunks(stream, points):
            for code, lines in parser.feed(chunk):
                assert isinstance(lines, tuple)
                assert 200 <= code <= 599
    except RemoteProtocolError:
        pass


def check_connection_raises_only_protocol_error(stream: bytes, points: list[int]) -> None:
    """The whole client connection, fed garbage after EHLO: only RemoteProtocolError."""
    connection = ClientConnection()
    try:
        connection.receive_data(b"220 hi\r\n")
        assert isinstance(connection.next_event(), Reply)
        connection.send(Ehlo("client.test"))
        for chunk in [*_chunks(stream, points), b""]:
            connection.receive_data(chunk)
            while connection.next_event() is not NEED_DATA:
                pass
    except RemoteProtocolError:
        pass


def check_parser_split_invariance(replies: list[tuple[int, list[str]]], points: list[int]) -> None:
    """Valid replies give the same result for any split, one byte at a time included."""
    wire = _wire(replies)
    whole = ReplyParser().feed(wire)
    split_parser = ReplyParser()
    split = [r for chunk in _chunks(wire, points) for r in split_parser.feed(chunk)]
    byte_parser = ReplyParser()
    by_byte = [r for i in range(len(wire)) for r in byte_parser.feed(wire[i : i + 1])]
    expected = [(code, tuple(lines)) for code, lines in replies]
    for result in (whole, split, by_byte):
        assert result == expected


def check_data_round_trip(body: bytes, points: list[int]) -> None:
    """DATA encoding, whole or chunked: one message, decoded equal to the normalised body."""
    expected = normalise_body(body)
    too_long = any(len(line) > 998 for line in expected.split(b"\r\n"))
    try:
        whole = encode_data(body)
    except LocalProtocolError:
        assert too_long, "refused a body whose lines all fit in 998 octets"
        assert check_content(body) is None, "certified a body with a line over 998 octets"
        return
    encoder = ContentEncoder(dot_stuff=True)
    chunked = b"".join(encoder.encode(c) for c in _chunks(body, points)) + encoder.finish()
    assert chunked == whole
    assert not too_long, "accepted a line longer than 998 octets"
    # The prepared-message path: content the core certified needs only dot-stuffing, and
    # must come out exactly as the encoder's.
    checked = check_content(body)
    if checked is not None:
        assert stuff_checked(checked) == whole
    # The lenient reader also ends data after a bare LF: a smuggled message would show up.
    messages, rest = split_data_stream(whole, lenient=True)
    assert messages == [expected]
    assert rest == b""
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", whole) is None, "bare CR or LF on the wire"
    # RFC 5321 §4.5.3.1.6: at most 1000 octets with CRLF, "not counting the leading dot
    # duplicated for transparency".
    longest = max(
        len(line[1:] if line.startswith(b"..") else line) for line in whole.split(b"\r\n")
    )
    assert longest <= 998, "wire line over 1000 octets"


def check_command_arguments_make_one_line(text: str) -> None:
    """No address, parameter or EHLO name makes a second command line: one CRLF, at the end."""
    makers: list[Callable[[], Any]] = [
        lambda: MailFrom(text),
        lambda: RcptTo(text),
        lambda: MailFrom("a@example.org", (text,)),
        lambda: RcptTo("b@example.org", (f"NOTIFY={text}",)),
        lambda: Ehlo(text),
    ]
    for make in makers:
        try:
            line = make().to_bytes()
        except (LocalProtocolError, UnicodeEncodeError):
            continue
        assert line.endswith(b"\r\n")
        assert line.count(b"\n") == 1
        assert line.count(b"\r") == 1


def check_headers_cannot_add_headers(subject: str, name: str) -> None:
    """A subject or display name cannot add, hide or reorder a header, or add a recipient.

    The header block is judged as a server decodes it (line ends normalised to CRLF, as the
    DATA encoder does): Subject comes first, so a line break smuggled into it would push From
    and To into the body.
    """
    message = EmailMessage()
    try:
        message["Subject"] = subject
        # Address() quotes the display name as a mail program would; an f-string would let
        # a name such as "0@0," legitimately turn one mailbox into two.
        message["From"] = Address(display_name=name, addr_spec="a@example.org")
        message["To"] = "b@example.org"
    except (ValueError, TypeError, AttributeError, IndexError):
        return  # the email package refused (or choked on) it before cdomail was involved
    message.set_payload("body\n")
    try:
        prepared = prepare(message)
    except InputError:
        return
    on_the_wire = normalise_body(prepared.header_block)
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(on_the_wire)
    assert sorted(parsed.keys()) == ["From", "Subject", "To"], on_the_wire
    assert prepared.recipients == ["b@example.org"]
    assert prepared.sender == "a@example.org"


@dataclass(frozen=True)
class Property:
    """A check and the strategies for its arguments."""

    name: str
    check: Callable[..., None]
    strategies: tuple[st.SearchStrategy[Any], ...]


PROPERTIES = (
    Property("parser-only-protocol-error", check_parser_raises_only_protocol_error,
             (reply_streams, split_points)),
    Property("connection-only-protocol-error", check_connection_raises_only_protocol_error,
             (reply_streams, split_points)),
    Property("parser-split-invariance", check_parser_split_invariance,
             (valid_replies, split_points)),
    Property("data-round-trip", check_data_round_trip, (bodies, split_points)),
    Property("one-command-line", check_command_arguments_make_one_line, (hostile_text,)),
    Property("no-header-injection", check_headers_cannot_add_headers,
             (hostile_text, hostile_text)),
)  # fmt: skip
