"""The fast EmailMessage serialiser writes what the stdlib writes, or leaves it to the stdlib.

The property: for any generated EmailMessage, ``serialise_fast`` returns ``None`` or exactly
the bytes of ``as_bytes(policy=email.policy.SMTP)`` without Bcc; and ``prepare()`` of the
message gives the same envelope, content and flags as ``prepare()`` of those stdlib bytes (the
path every EmailMessage took before the fast serialiser existed).
"""

from __future__ import annotations

import datetime
import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from cdomail._serialise import serialise_fast, serialise_stdlib
from cdomail.errors import InputError
from cdomail.message import PreparedMessage, _clean_header_block, prepare

# --- strategies --------------------------------------------------------------------------

_ASCII_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_ANY_TEXT = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from("\t\r\n\x0b\x0cé€😀ß\u2028\x85=?"),
        st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF),
    ),
    max_size=60,
)
#: Encoded words (RFC 2047 §2) that decode to non-ASCII, to ASCII specials (RFC 5322 §3.2.3:
#: "@", a comma, angle brackets, quotes, parentheses), to plain text, to nothing, and ones
#: the stdlib cannot decode. In an address field the stdlib writes the text they decode to,
#: which may read back as other addresses, or as none.
_ENCODED_WORDS = st.sampled_from([
    "=?utf-8?b?w6k=?=", "=?utf-8?q?caf=C3=A9?=", "=?us-ascii?q?x=40y.z?=", "=?us-ascii?q?a=2Cb?=",
    "=?us-ascii?q?=3Cevil=40x.y=3E?=", "=?us-ascii?q?plain?=", "=?utf-8?q?=22q=22?=",
    "=?us-ascii?q?(c)?=", "=?iso-8859-1?q?J=F6rg?=", "=?utf-8?b??=", "=?bogus?q?x?=",
    "=?utf-8?q?a_b?=", "=?utf-8?b?8J+YgA==?=", "=?us-ascii?q?=3A?=", "=?us-ascii?q?=0D=0Ax?=",
])  # fmt: skip
_HEADER_TEXT = st.one_of(_ASCII_TEXT, _ANY_TEXT, _ASCII_TEXT.map(lambda t: t * 5),
                         st.sampled_from(["a  b", " leading", "trailing ", ""]), _ENCODED_WORDS,
                         st.tuples(_ASCII_TEXT, _ENCODED_WORDS).map(" ".join))
_LOCAL = st.one_of(
    st.sampled_from(["alice", "bob.smith", "x+tag", "a..b", "José", "\"quoted local\""]),
    st.sampled_from(["=?us-ascii?q?x?=", "=?us-ascii?q?a=2Cb?="]),
)
_DOMAIN = st.sampled_from(["example.org", "EXAMPLE.net", "mail.example.com", "bücher.example",
                           "[127.0.0.1]", "example.org.", "=?us-ascii?q?x?="])
_DISPLAY = st.one_of(
    st.just(""),
    st.sampled_from(["Alice", "Doe, J.", "Ünïcode", "a (c) b", "\"Q\"", "Bench", "J. Doe"]),
    _ASCII_TEXT,
    _ENCODED_WORDS,
    st.tuples(st.sampled_from(["Alice", "Ünïcode", "x"]), _ENCODED_WORDS).map(" ".join),
)
#: Whole field values that are no address list, or an odd but valid one.
_ODD_ADDRESS_VALUES = st.sampled_from(["", "no address", "a@b@c", "<>", "@", "undisclosed:;",
                                       "Team: alice@example.org, bob@example.org;",
                                       "alice@example.org, , bob@example.org"])


@st.composite
def _address_value(draw: st.DrawFn) -> Any:
    count = draw(st.integers(1, 3))
    if draw(st.integers(0, 5)) == 0:
        return draw(_ODD_ADDRESS_VALUES)
    if draw(st.booleans()):  # Address objects, as an API user writes them
        return [Address(draw(_DISPLAY), draw(_LOCAL).strip('"'), draw(_DOMAIN).strip("[]"))
                for _ in range(count)]
    items = []
    for _ in range(count):
        local, domain, display = draw(_LOCAL), draw(_DOMAIN), draw(_DISPLAY)
        shape = draw(st.sampled_from(["bare", "angle", "named", "quoted", "comment",
                                      "word after", "group"]))
        items.append({
            "bare": f"{local}@{domain}",
            "angle": f"<{local}@{domain}>",
            "named": f"{display} <{local}@{domain}>",
            "quoted": f'"{display}" <{local}@{domain}>',
            "comment": f"{local}@{domain} ({display})",
            "word after": f"{local}@{domain} {draw(_ENCODED_WORDS)}",
            "group": f"{display or 'Team'}: {local}@{domain};",
        }[shape])
    return ", ".join(items) + draw(st.sampled_from(["", "", ",", ")<x@y.z>", " ",
                                                    " =?utf-8?b?w6k=?="]))


_DATE = st.one_of(
    st.datetimes(min_value=datetime.datetime(1990, 1, 1),
                 timezones=st.just(datetime.UTC)),
    st.sampled_from(["Tue, 01 Dec 2026 00:12:11 -0000", "not a date", "1 Jan 2020 10:00 +0100"]),
)
_NAMES = st.one_of(
    st.sampled_from(["Subject", "subject", "X-Mailer", "Comments", "Keywords", "Reply-To",
                     "X-Long-Header-Name-That-Goes-On-And-On-And-On-For-A-While", "Resent-To",
                     "Message-ID", "MIME-Version", "Content-Language", "X-Priority"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
    .filter(lambda n: ":" not in n),
)
_BODY = st.one_of(_ANY_TEXT, _ASCII_TEXT.map(lambda t: (t + "\n") * 30),
                  st.just("x" * 1200 + "\n"), st.just("line\r\nmixed\rends\n"), st.just(""))


def _try(action: Any, *args: Any, **kwargs: Any) -> None:
    try:
        action(*args, **kwargs)
    except (ValueError, TypeError, IndexError, AttributeError, LookupError):
        pass  # the stdlib refused this input: then it is simply not part of the message


@st.composite
def _content(draw: st.DrawFn, message: EmailMessage) -> None:
    kind = draw(st.sampled_from(["text", "html", "bytes", "none", "raw-payload"]))
    cte = draw(st.sampled_from([None, None, "7bit", "8bit", "quoted-printable", "base64"]))
    body = draw(_BODY)
    if kind in ("text", "html"):
        _try(message.set_content, body, subtype="plain" if kind == "text" else "html", cte=cte)
    elif kind == "bytes":
        _try(message.set_content, body.encode("utf-8"), "application", "octet-stream",
             cte=draw(st.sampled_from(["base64", "7bit", "8bit", "quoted-printable"])))
    elif kind == "raw-payload":
        _try(message.set_payload, body)
    if draw(st.booleans()):
        _try(message.add_alternative, draw(_BODY), subtype="html")
    for _ in range(draw(st.integers(0, 2))):
        data = draw(st.binary(max_size=300))
        _try(message.add_attachment, data, maintype="application", subtype="octet-stream",
             filename=draw(st.sampled_from(["a.bin", "ünï.txt", "x" * 90 + ".bin", None])))
    if draw(st.booleans()):
        _try(message.add_attachment, draw(_BODY), filename="note.txt")
    if message.is_multipart():
        if draw(st.booleans()):
            _try(message.set_boundary, draw(st.sampled_from(["simple", "b" * 70, "=_x_="])))
        message.preamble = draw(st.one_of(st.none(), _ANY_TEXT))
        message.epilogue = draw(st.one_of(st.none(), _ANY_TEXT))


@st.composite
def messages(draw: st.DrawFn) -> EmailMessage:
    """An EmailMessage built through the API, in any order, sometimes parsed back from bytes."""
    message = EmailMessage()
    for name in draw(st.lists(st.sampled_from(["From", "To", "Cc", "Bcc", "Sender"]),
                              min_size=1, max_size=5)):
        _try(message.__setitem__, name, draw(_address_value()))
    if draw(st.booleans()):
        _try(message.__setitem__, "Date", draw(_DATE))
    for _ in range(draw(st.integers(0, 5))):
        _try(message.__setitem__, draw(_NAMES), draw(_HEADER_TEXT))
    draw(_content(message))
    if draw(st.integers(0, 4)) == 0:
        # Parsed back from bytes: raw string values, folded lines, surrogate escapes.
        for number, part in enumerate(message.walk()):
            if part.is_multipart() and part.get_boundary() is None:
                part.set_boundary(f"boundary-{number}")  # not the generator's random one
        try:
            raw = message.as_bytes(policy=email.policy.SMTP)
        except Exception:  # the stdlib's own bugs (an IndexError in its folder) included
            return message
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        return parsed
    return message


# --- the properties ------------------------------------------------------------------------


def _stdlib_bytes(message: EmailMessage) -> bytes | None:
    """``as_bytes(policy=SMTP)``: the policy serialise_stdlib picks for ASCII addresses (the
    only ones the fast path writes); None when the stdlib refuses the message."""
    try:
        return message.as_bytes(policy=email.policy.SMTP)
    except Exception:  # refused (UnicodeError, ValueError) or a stdlib bug (IndexError)
        return None


def _stdlib_without_bcc(message: EmailMessage) -> bytes | None:
    """The stdlib's bytes with Bcc lines dropped (what cdomail sends), or None if it refuses."""
    whole = _stdlib_bytes(message)
    if whole is None:
        return None
    end = whole.find(b"\r\n\r\n")
    header_block, body = (whole[: end + 4], whole[end + 4 :]) if end >= 0 else (whole, b"")
    try:
        return _clean_header_block(header_block) + body
    except InputError:
        return None


# --- pinned cases: encoded words in address fields, several bad fields -------------------
# Three were found by the property (widened strategies, 3,000 examples, seeds 1 and 2) and
# failed before the envelope was read from the written bytes: marked "found". The other two
# are the shapes reported before (an encoded word after the address, in a local part); they
# agreed on both paths already and are pinned so they keep agreeing.


def _message(**fields: Any) -> EmailMessage:
    message = EmailMessage()
    for name, value in fields.items():
        message[name.replace("_", "-")] = value
    message.set_content("hi\n")
    return message


def _encoded_word_after_an_address() -> EmailMessage:
    # Written as "alice@example.org x" (the word decoded): an invalid address list.
    return _message(From="bob@example.org", To="alice@example.org =?us-ascii?q?x?=")


def _encoded_comma_in_a_display_name() -> EmailMessage:
    # Found. Written as "a,b <alice@example.org>": the header object holds one address, the
    # bytes read as an invalid list (the fast path sent to alice@example.org).
    return _message(From="bob@example.org", To="=?us-ascii?q?a=2Cb?= <alice@example.org>")


def _encoded_colon_and_no_sender() -> EmailMessage:
    # Found (seed 1). Written as ": <alice@example.org>": the stdlib path names To, the fast
    # path named the missing sender (it checked the objects' addresses, not the bytes).
    return _message(From="", To="=?us-ascii?q?=3A?= <alice@example.org>, alice@example.org")


def _encoded_word_in_a_local_part() -> EmailMessage:
    # The word is decoded when the header's text is parsed: written as "a,b@example.org".
    return _message(From="bob@example.org", To=Address("", "=?us-ascii?q?a=2Cb?=", "example.org"))


def _unparseable_raw_address() -> EmailMessage:
    # Found (seed 2). Raw values, parsed from bytes. The stdlib's parser raises IndexError on
    # "alice@" (the stdlib path let it escape); From is malformed too: both name From.
    parsed = BytesParser(policy=email.policy.default).parsebytes(
        b"From: no address\r\nTo: alice@\r\n\r\nhi\r\n")
    assert isinstance(parsed, EmailMessage)
    return parsed


_PINNED = (_encoded_word_after_an_address, _encoded_comma_in_a_display_name,
           _encoded_colon_and_no_sender, _encoded_word_in_a_local_part, _unparseable_raw_address)


def _with_pinned_cases(test: Any) -> Any:
    for build in _PINNED:
        test = example(build())(test)
    return test


_SETTINGS = settings(max_examples=400, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@_with_pinned_cases
@given(messages())
def test_fast_serialiser_writes_the_stdlib_bytes_or_declines(message: EmailMessage) -> None:
    note(f"fields: {list(message.raw_items())!r}")
    fast = serialise_fast(message)  # first: it may store a boundary, as the stdlib does
    expected = _stdlib_without_bcc(message)
    event("fast" if fast is not None else "stdlib")
    if fast is None:
        return
    assert fast.full_header_block + fast.body == _stdlib_bytes(message)
    if fast.header_block is not None:  # written without the stdlib: clean, Bcc left out
        assert expected is not None
        assert fast.header_block + fast.body == expected


def _outcome(prepare_it: Any) -> tuple[Any, ...] | str:
    try:
        prepared: PreparedMessage = prepare_it()
    except InputError as exc:
        return f"InputError({exc.field})"
    except Exception as exc:  # a stdlib parser bug (AttributeError) must stay the same too
        return type(exc).__name__
    return (prepared.sender, prepared.recipients, prepared.content, prepared.size,
            prepared.eight_bit, prepared.smtputf8, prepared.checked is not None)


@_SETTINGS
@_with_pinned_cases
@given(messages())
def test_prepare_matches_the_stdlib_path(message: EmailMessage) -> None:
    note(f"fields: {list(message.raw_items())!r}")
    serialise_fast(message)  # settle a generated boundary before the stdlib writes it
    event("fast" if serialise_fast(message) is not None else "stdlib")
    # Before the fast serialiser, an EmailMessage was prepared as its stdlib bytes.
    before = _outcome(lambda: prepare(serialise_stdlib(message)))
    assert _outcome(lambda: prepare(message)) == before


# --- the common shapes take the fast path ---------------------------------------------------


def _plain() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Bench <bench@example.com>"
    message["To"] = "Sink <sink@example.net>, other@example.net"
    message["Bcc"] = "hidden@example.net"
    message["Subject"] = "benchmark message"
    message["Date"] = "Tue, 01 Dec 2026 00:12:11 -0000"
    message["Message-ID"] = "<1@bench.localhost>"
    message.set_content("The quick brown fox\njumps over the lazy dog.\n")
    return message


def _with_attachment() -> EmailMessage:
    message = _plain()
    message.add_alternative("<p>hi</p>\n", subtype="html")
    message.add_attachment(b"\x00\x01binary" * 20, maintype="application",
                           subtype="octet-stream", filename="a.bin")
    return message


def _utf8_body() -> EmailMessage:
    message = _plain()
    message.set_content("Grüße aus Köln\n")  # 8bit with surrogate escapes
    return message


@pytest.mark.parametrize("build", [_plain, _with_attachment, _utf8_body])
def test_common_shapes_are_written_fast_and_identically(build: Any) -> None:
    message = build()
    fast = serialise_fast(message)
    assert fast is not None and fast.header_block is not None
    assert b"Bcc" not in fast.header_block and b"hidden@example.net" in fast.full_header_block
    assert fast.header_block + fast.body == _stdlib_without_bcc(message)
    prepared = prepare(message)
    assert prepared.sender == "bench@example.com"
    assert prepared.recipients == ["sink@example.net", "other@example.net",
                                   "hidden@example.net"]


def test_generated_boundary_is_stored_like_the_stdlib_does() -> None:
    message = _with_attachment()
    assert message.get_boundary() is None
    fast = serialise_fast(message)
    boundary = message.get_boundary()
    assert fast is not None and boundary is not None and boundary.startswith("=" * 15)
    assert f"boundary=\"{boundary}\"".encode() in fast.full_header_block


@pytest.mark.parametrize(
    ("name", "value"),
    [("Subject", "x" * 80), ("Subject", "café"), ("X-Tab", "a\tb")],
)
def test_a_field_that_needs_folding_is_folded_by_the_stdlib(name: str, value: str) -> None:
    message = _plain()
    del message[name]
    message[name] = value
    fast = serialise_fast(message)
    assert fast is not None and fast.header_block is None  # the caller checks the block
    assert fast.full_header_block + fast.body == serialise_stdlib(message)
    assert prepare(message).content == _stdlib_without_bcc(message)


def test_a_defective_address_field_goes_to_the_strict_parser() -> None:
    message = _plain()
    del message["To"]
    message["To"] = "alice@example.org)<bob@example.org>"
    assert serialise_fast(message) is not None
    with pytest.raises(InputError, match="To header is malformed"):
        prepare(message)


def test_a_non_ascii_address_is_left_to_the_stdlib() -> None:
    message = _plain()
    del message["To"]
    message["To"] = "José <josé@example.org>"
    assert serialise_fast(message) is None
    assert prepare(message).smtputf8


@pytest.mark.parametrize(
    ("build", "field"),
    [(_encoded_word_after_an_address, "to"), (_encoded_comma_in_a_display_name, "to"),
     (_encoded_colon_and_no_sender, "to"), (_encoded_word_in_a_local_part, "to"),
     (_unparseable_raw_address, "from")],
)
def test_pinned_cases_are_refused_naming_the_same_field_on_both_paths(
    build: Any, field: str
) -> None:
    message = build()
    with pytest.raises(InputError) as fast_path:
        prepare(message)
    with pytest.raises(InputError) as stdlib_path:
        prepare(serialise_stdlib(message))
    assert fast_path.value.field == stdlib_path.value.field == field
    assert str(fast_path.value) == str(stdlib_path.value)


def test_an_address_the_stdlib_parser_cannot_read_is_a_malformed_header() -> None:
    # email's address parser raises IndexError on "alice@": named as the bad field instead.
    with pytest.raises(InputError, match="To header is malformed: alice@") as caught:
        prepare(b"From: bob@example.org\r\nTo: alice@\r\n\r\nhi\r\n")
    assert caught.value.field == "to"
