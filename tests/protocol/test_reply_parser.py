"""Reply parsing: bytes in, replies out, at any split; bounded memory."""

from __future__ import annotations

import pytest

from cdomail.errors import RemoteProtocolError
from cdomail.protocol import MAX_LINE_LENGTH, MAX_REPLY_LENGTH, Reply, ReplyParser


def feed_all(data: bytes, step: int | None = None) -> list[Reply]:
    parser = ReplyParser()
    if step is None:
        return [Reply(code, lines) for code, lines in parser.feed(data)]
    replies: list[Reply] = []
    for i in range(0, len(data), step):
        replies += [Reply(code, lines) for code, lines in parser.feed(data[i : i + step])]
    return replies


def test_single_line_reply() -> None:
    [reply] = feed_all(b"250 2.1.0 Sender OK\r\n")
    assert reply.code == 250
    assert reply.lines == ("2.1.0 Sender OK",)
    assert reply.enhanced_status == "2.1.0"
    assert reply.is_positive


def test_multiline_reply_keeps_every_line() -> None:
    [reply] = feed_all(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
    assert reply.lines == ("mx.example", "PIPELINING", "SIZE 1000")
    assert reply.text == "mx.example\nPIPELINING\nSIZE 1000"


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_any_split_gives_the_same_replies(step: int) -> None:
    data = b"220-hello\r\n220 ready\r\n250 ok\r\n354 go ahead\r\n"
    assert feed_all(data, step) == feed_all(data)
    assert [r.code for r in feed_all(data, step)] == [220, 250, 354]


def test_lf_only_line_ends_and_bare_code_are_tolerated() -> None:
    [first, second] = feed_all(b"250-a\n250 b\n334\r\n")
    assert first.lines == ("a", "b")
    assert second.code == 334 and second.lines == ("",)


def test_enhanced_status_must_match_the_code_class() -> None:
    [reply] = feed_all(b"550 2.1.0 odd\r\n")
    assert reply.enhanced_status is None


def test_invalid_utf8_text_is_decoded_tolerantly() -> None:
    [reply] = feed_all(b"250 caf\xe9\r\n")
    assert reply.code == 250 and "caf" in reply.text


@pytest.mark.parametrize(
    "data",
    [b"wefpPSwrsfa2sdfsdf\r\n", b"\r\n", b"25\r\n", b"250x\r\n", b"250-a\r\n251 b\r\n",
     b"650 nope\r\n"],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        feed_all(data)


def test_line_without_end_is_bounded() -> None:
    parser = ReplyParser()
    with pytest.raises(RemoteProtocolError, match="longer than"):
        parser.feed(b"250 " + b"x" * (MAX_LINE_LENGTH + 10))


def test_endless_continuations_are_bounded() -> None:
    parser = ReplyParser()
    line = b"250-" + b"x" * 1000 + b"\r\n"
    with pytest.raises(RemoteProtocolError, match="reply longer"):
        for _ in range(MAX_REPLY_LENGTH // len(line) + 2):
            parser.feed(line)


def test_buffered_counts_partial_lines() -> None:
    parser = ReplyParser()
    assert parser.feed(b"220 ok\r\n250-AU") != []
    assert parser.buffered == len(b"250-AU")


ONE_LINE_REPLIES = (
    b"250 2.1.0 Ok\r\n250\r\n354\n250 \r\n221 bye\n"
    b"250 text with\rinner CR\r\n550 5.1.1 caf\xc3\xa9 \xff\r\n250 trailing CRs\r\r\n"
)


def test_one_line_replies_read_alike_in_one_chunk_or_line_by_line() -> None:
    """A chunk of one-line replies is parsed in one pass; a chunk over the line bound
    takes the line-by-line path. Both must give exactly the same replies."""
    small = ReplyParser(max_line_length=40)  # the chunk is longer: line by line
    assert len(ONE_LINE_REPLIES) > 40
    one_pass = ReplyParser().feed(ONE_LINE_REPLIES)
    assert small.feed(ONE_LINE_REPLIES) == one_pass
    assert one_pass == [
        (250, ("2.1.0 Ok",)), (250, ("",)), (354, ("",)), (250, ("",)), (221, ("bye",)),
        (250, ("text with\rinner CR",)), (550, ("5.1.1 café \ufffd",)),
        (250, ("trailing CRs\r",)),
    ]


@pytest.mark.parametrize("line", [b"250x\r\n", b"25 short\r\n", b"650 bad\r\n", b"250\tx\r\n"])
def test_a_bad_line_among_good_ones_is_still_refused(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        ReplyParser().feed(b"250 ok\r\n" + line + b"250 ok\r\n")


def test_remembered_replies_stay_bounded_and_exact() -> None:
    """The parser remembers short one-line replies it has seen (servers repeat them); a
    hostile server sending endless distinct lines must not make that memory grow."""
    parser = ReplyParser()
    first = parser.feed(b"250 2.1.0 Ok\r\n354 go\r\n")
    again = parser.feed(b"250 2.1.0 Ok\r\n354 go\r\n")
    assert first == again == [(250, ("2.1.0 Ok",)), (354, ("go",))]
    for number in range(10_000):
        assert parser.feed(f"250 queued as {number}\r\n".encode()) == [
            (250, (f"queued as {number}",))
        ]
    assert len(parser._known) <= 64
