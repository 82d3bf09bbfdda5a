"""DATA/BDAT content encoding: CRLF normalisation, dot-stuffing, the terminator, chunk by chunk."""

from __future__ import annotations

import pytest

from cdomail.errors import LocalProtocolError
from cdomail.protocol import ContentEncoder, check_content, encode_data
from cdomail.protocol._data import stuff_checked


def encode_chunks(chunks: list[bytes], *, dot_stuff: bool = True) -> bytes:
    encoder = ContentEncoder(dot_stuff=dot_stuff)
    return b"".join(encoder.encode(c) for c in chunks) + encoder.finish()


@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"hello\r\n", b"hello\r\n.\r\n"),
        (b"no final newline", b"no final newline\r\n.\r\n"),
        (b"", b".\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"bare\nlf\n", b"bare\r\nlf\r\n.\r\n"),
        (b"bare\rcr", b"bare\r\ncr\r\n.\r\n"),
        (b"x\n.\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r.\ry", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\n.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r\n.\ry", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r\r\ny", b"x\r\n\r\ny\r\n.\r\n"),
    ],
)
def test_encoding(body: bytes, wire: bytes) -> None:
    assert encode_data(body) == wire


@pytest.mark.parametrize("body", [b"a\r\n.b\r\n..c\rd\ne\r\n.\r\nend", b"\r\n\r\n.\r\r\n.x"])
def test_every_split_point_gives_the_same_bytes(body: bytes) -> None:
    whole = encode_data(body)
    for cut in range(len(body) + 1):
        assert encode_chunks([body[:cut], body[cut:]]) == whole
    assert encode_chunks([bytes([b]) for b in body]) == whole


def test_bdat_form_normalises_without_dot_stuffing_or_terminator() -> None:
    assert encode_chunks([b".a\n", b".b"], dot_stuff=False) == b".a\r\n.b\r\n"


def test_no_bare_cr_or_lf_survives() -> None:
    wire = encode_data(b"a\rb\nc\r\r\nd\n\re")
    assert wire.count(b"\r") == wire.count(b"\n") == wire.count(b"\r\n")


def test_line_over_998_octets_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="998"):
        encode_data(b"x" * 999 + b"\r\n")


def test_long_line_split_across_chunks_is_refused() -> None:
    encoder = ContentEncoder(dot_stuff=True)
    encoder.encode(b"y" * 600)
    with pytest.raises(LocalProtocolError):
        encoder.encode(b"y" * 600)


def test_998_octet_line_is_allowed() -> None:
    assert encode_data(b"z" * 998).startswith(b"z" * 998 + b"\r\n")


@pytest.mark.parametrize(
    "body",
    [b"hello\r\n", b"no final newline", b"", b".\r\n", b"a\r\n.b\r\n..c\r\n", b"\r\n\r\n.",
     b"x" * 998 + b"\r\n" + b".y"],
)
def test_checked_content_needs_only_dot_stuffing(body: bytes) -> None:
    """Content the core certified (CRLF only, no long line) goes out exactly as encoded."""
    checked = check_content(body)
    assert checked is not None
    assert stuff_checked(checked) == encode_data(body)


@pytest.mark.parametrize(
    "body", [b"bare\nlf\r\n", b"bare\rcr\r\n", b"x\r\r\n", b"y" * 999 + b"\r\n", b"z" * 999]
)
def test_content_with_bare_line_ends_or_long_lines_is_not_certified(body: bytes) -> None:
    assert check_content(body) is None
