"""The batch plan, bytes in and bytes out (no socket): what each write carries, when the
plan waits for replies, and what every message's result says. The async client runs this
plan as it is (and the blocking client is generated from it), so these test the source of
truth directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdomail.batch import partial_results
from cdomail.errors import (
    DataRefused,
    InputError,
    RecipientsRefused,
    RemoteProtocolError,
    SendInterrupted,
    ServerDisconnected,
    StatusUnknown,
)
from cdomail.message import OutgoingMessage, PreparedMessage, prepare_outgoing
from cdomail.result import SendResult
from cdomail.session import Close, Receive, Send, Write
from cdomail.session._batch import BDAT_CHUNK
from cdomail.session._batch_plan import BatchPlan

from ._drive import Early, run_batch, session

PIPELINING = b"250-mx.test\r\n250 PIPELINING\r\n"
LOCK_STEP = b"250 mx.test\r\n"
CHUNKING = b"250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
CHUNKING_LOCK_STEP = b"250-mx.test\r\n250 CHUNKING\r\n"
ENVELOPE_OK = b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
GO_AHEAD = ENVELOPE_OK + b"354 go ahead\r\n"


def content(number: int) -> bytes:
    return b"Subject: m%d\r\n\r\nhello\r\n" % number


def envelope(number: int) -> bytes:
    return b"MAIL FROM:<a@example.test>\r\nRCPT TO:<r%d@example.test>\r\n" % number


def prepared(number: int, body: bytes | None = None) -> PreparedMessage:
    return prepare_outgoing(OutgoingMessage(body or content(number), sender="a@example.test",
                                            recipients=[f"r{number}@example.test"]))


def messages(count: int) -> Iterator[PreparedMessage]:
    return (prepared(number) for number in range(count))


def plan_for(items: Iterator[PreparedMessage], **options: object) -> BatchPlan:
    return BatchPlan(iter(items), "starttls", "mx.test:25", **options)  # type: ignore[arg-type]


def errors(results: list[SendResult] | None) -> list[type | None]:
    assert results is not None
    return [None if result.error is None else type(result.error) for result in results]


def test_pipelined_stream_writes_each_content_end_with_the_next_envelope() -> None:
    run = run_batch(plan_for(messages(3)), session(PIPELINING), [
        GO_AHEAD,
        b"250 2.0.0 queued 0\r\n" + GO_AHEAD,
        b"250 2.0.0 queued 1\r\n" + GO_AHEAD,
        b"250 2.0.0 queued 2\r\n",
    ])
    # RFC 2920 §3.1: one group per message: the previous content's end, MAIL, RCPT, DATA.
    assert run.writes == [
        envelope(0) + b"DATA\r\n",
        content(0) + b".\r\n" + envelope(1) + b"DATA\r\n",
        content(1) + b".\r\n" + envelope(2) + b"DATA\r\n",
        content(2) + b".\r\n",
    ]
    assert run.count(Write) == 4 and run.count(Receive) == 4  # one wait per group
    # Every write after the first carries a content's end, so it is guarded.
    assert [step.guard for step in run.steps if isinstance(step, Write)] == [
        False, True, True, True]
    assert errors(run.results) == [None, None, None]
    assert run.results is not None
    assert [r.reply.text if r.reply else None for r in run.results] == [
        "2.0.0 queued 0", "2.0.0 queued 1", "2.0.0 queued 2"]


def test_without_pipelining_every_command_waits_for_its_reply() -> None:
    replies = [b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 queued\r\n"]
    run = run_batch(plan_for(messages(2)), session(LOCK_STEP), replies * 2)
    expected: list[bytes] = []
    for number in range(2):
        mail, rcpt = envelope(number).split(b"\r\n", 1)
        expected += [mail + b"\r\n", rcpt, b"DATA\r\n", content(number) + b".\r\n"]
    assert run.writes == expected
    kinds = [type(step).__name__ for step in run.steps]
    assert kinds == ["Write", "Receive"] * 8  # strict lock-step: never a command ahead
    assert errors(run.results) == [None, None]


def test_every_recipient_refused_without_pipelining_sends_no_data() -> None:
    conn = session(LOCK_STEP)
    run = run_batch(plan_for(messages(1)), conn,
                    [b"250 ok\r\n", b"550 5.1.1 no such user\r\n", b"250 reset\r\n"])
    assert conn.pending == 0  # the RSET's reply was read: the session ends clean, QUIT may follow
    assert run.writes == [b"MAIL FROM:<a@example.test>\r\n", b"RCPT TO:<r0@example.test>\r\n",
                          b"RSET\r\n"]
    assert not any(b"DATA" in write for write in run.writes)
    assert errors(run.results) == [RecipientsRefused]


def test_every_recipient_refused_with_pipelining_ends_the_forced_data_then_resets() -> None:
    conn = session(PIPELINING)
    run = run_batch(plan_for(messages(1)), conn, [
        b"250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n",
        b"554 5.5.1 no valid recipients\r\n250 reset\r\n",
    ])
    # RFC 2920 §3.1: DATA got 354 with no recipient accepted: no content, just its end;
    # the RSET written with it is the only one (the batch's closing RSET is not repeated).
    assert run.writes == [envelope(0) + b"DATA\r\n", b".\r\nRSET\r\n"]
    assert errors(run.results) == [RecipientsRefused]
    assert conn.pending == 0


def test_refused_data_sends_no_content_and_resets() -> None:
    conn = session(PIPELINING)
    run = run_batch(plan_for(messages(1)), conn,
                    [ENVELOPE_OK + b"554 5.3.4 not now\r\n", b"250 reset\r\n"])
    assert run.writes == [envelope(0) + b"DATA\r\n", b"RSET\r\n"]
    assert errors(run.results) == [DataRefused]
    assert conn.pending == 0


def test_refused_final_reply_is_followed_by_rset_before_the_session_is_reused() -> None:
    run = run_batch(plan_for(messages(1)), session(PIPELINING),
                    [GO_AHEAD, b"554 5.7.1 rejected\r\n", b"250 reset\r\n"])
    assert run.writes == [envelope(0) + b"DATA\r\n", content(0) + b".\r\n", b"RSET\r\n"]
    assert isinstance(run.steps[-2], Send) and run.steps[-1] == Receive("RSET")
    assert errors(run.results) == [DataRefused]


def test_bdat_waits_for_the_envelope_until_a_transaction_went_through() -> None:
    plan = plan_for(messages(3))
    run = run_batch(plan, session(CHUNKING), [
        ENVELOPE_OK,
        b"250 2.0.0 queued 0\r\n250 reset\r\n" + ENVELOPE_OK,
        b"250 2.0.0 queued 1\r\n250 reset\r\n" + ENVELOPE_OK + b"250 2.0.0 queued 2\r\n",
    ])
    chunk = [b"BDAT 22 LAST\r\n" + content(number) for number in range(3)]
    # RFC 3030 §2: the first transactions learn the envelope's verdicts before any chunk;
    # once one went through (message 0's 250 arrives with message 1's envelope replies),
    # a small message streams: envelope and chunk in one write.
    assert run.writes == [
        envelope(0), chunk[0],
        b"RSET\r\n" + envelope(1), chunk[1],
        b"RSET\r\n" + envelope(2) + chunk[2],
    ]
    assert errors(run.results) == [None, None, None]
    assert plan.bdat_trusted  # the driver keeps it for the client's next batch
    assert run.results is not None
    assert [result.content_command for result in run.results] == ["BDAT"] * 3


def test_bdat_trusted_plan_streams_a_small_message_but_waits_with_a_large_one() -> None:
    large = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (BDAT_CHUNK // 1000 + 100)
    items = iter([prepared(0), prepared(1, large)])
    plan = plan_for(items)
    run = run_batch(plan, session(CHUNKING), [
        b"250 ok\r\n250 ok\r\n250 2.0.0 queued 0\r\n250 reset\r\n" + ENVELOPE_OK,
        b"250 chunk\r\n250 2.0.0 queued 1\r\n",
    ], bdat_trusted=True)
    assert run.writes[0] == envelope(0) + b"BDAT 22 LAST\r\n" + content(0)
    # The large one: its envelope alone first, then its chunks.
    assert run.writes[1].startswith(b"RSET\r\nMAIL FROM:<a@example.test>")
    assert run.writes[1].endswith(b"RCPT TO:<r1@example.test>\r\n")
    assert run.writes[2].startswith(b"BDAT %d\r\n" % BDAT_CHUNK)
    assert run.writes[3].startswith(b"BDAT ") and b" LAST\r\n" in run.writes[3][:30]
    assert errors(run.results) == [None, None]
    assert plan.bdat_trusted


def test_refused_bdat_chunk_ends_the_transaction() -> None:
    large = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (2 * BDAT_CHUNK // 1000 + 100)
    conn = session(CHUNKING_LOCK_STEP)
    run = run_batch(plan_for(iter([prepared(0, large)])), conn, [
        b"250 ok\r\n", b"250 ok\r\n", b"552 5.3.4 too big\r\n", b"250 reset\r\n"])
    # RFC 3030 §2: after a refused chunk no further chunk is sent; one RSET ends it.
    assert len(run.writes) == 4
    assert run.writes[2].startswith(b"BDAT %d\r\n" % BDAT_CHUNK)
    assert run.writes[3] == b"RSET\r\n"
    assert run.count(Send) == 0  # no closing RSET after the one that ended the chunks
    assert conn.pending == 0
    assert sum(write.startswith(b"BDAT") for write in run.writes) == 1
    assert errors(run.results) == [DataRefused]


@pytest.mark.parametrize(("early", "error"), [
    (b"550 5.7.1 go away\r\n", RemoteProtocolError),
    (b"", ServerDisconnected),
])
def test_reply_before_the_content_end_is_written_is_a_protocol_error(
    early: bytes, error: type
) -> None:
    run = run_batch(plan_for(messages(2)), session(PIPELINING), [GO_AHEAD, Early(early)])
    # The group with message 0's end was never written; the session is closed.
    assert run.writes == [envelope(0) + b"DATA\r\n"]
    assert run.steps[-1] == Close(polite=False)
    assert run.results is not None
    first = run.results[0].error
    assert isinstance(first, error) and not isinstance(first, StatusUnknown)
    assert "not accepted" in str(first)
    assert errors(run.results) == [error, error]  # message 1: never sent


def test_connection_lost_after_the_final_dot_is_status_unknown() -> None:
    lost = ServerDisconnected("mx.test:25 closed the connection")
    run = run_batch(plan_for(messages(3)), session(PIPELINING), [GO_AHEAD, lost])
    assert run.writes[-1] == content(0) + b".\r\n" + envelope(1) + b"DATA\r\n"
    # Message 0's end went out: its fate is unknown. Message 1 had no content; message 2
    # was not sent at all.
    assert errors(run.results) == [StatusUnknown, ServerDisconnected, ServerDisconnected]
    assert run.results is not None
    assert run.results[0].error is not None and run.results[0].error.__cause__ is lost


def test_error_from_the_callers_iterator_propagates_after_what_was_sent() -> None:
    def items() -> Iterator[PreparedMessage]:
        yield prepared(0)
        raise ValueError("the caller's generator broke")

    run = run_batch(plan_for(items()), session(PIPELINING), [GO_AHEAD])
    assert isinstance(run.error, ValueError)
    assert run.writes == [envelope(0) + b"DATA\r\n"]


def test_interruption_from_the_iterator_carries_what_is_known() -> None:
    def items() -> Iterator[PreparedMessage]:
        yield prepared(0)
        yield prepared(1)
        raise KeyboardInterrupt

    run = run_batch(plan_for(items()), session(PIPELINING), [GO_AHEAD])
    assert isinstance(run.error, KeyboardInterrupt)
    assert run.writes[-1] == content(0) + b".\r\n" + envelope(1) + b"DATA\r\n"
    partial = partial_results(run.error)
    assert partial is not None
    # Interrupted while message 1's envelope was out: message 0's end had gone with it,
    # its verdict had not come back ("status unknown", never "not sent"); message 1 had
    # no content yet: not sent.
    assert [type(r.error) for r in partial] == [StatusUnknown, SendInterrupted]


def test_interruption_before_any_content_says_not_sent() -> None:
    def items() -> Iterator[PreparedMessage]:
        yield prepared(0)
        raise KeyboardInterrupt

    run = run_batch(plan_for(items()), session(PIPELINING), [])
    partial = partial_results(run.error) if run.error else None
    assert partial is not None
    assert [type(r.error) for r in partial] == [SendInterrupted]


def test_interruption_after_bad_input_reports_each_message_once() -> None:
    def items() -> Iterator[PreparedMessage | InputError]:
        yield InputError("no recipient", field="recipient")
        raise KeyboardInterrupt

    plan = BatchPlan(items(), "starttls", "mx.test:25")
    with pytest.raises(KeyboardInterrupt) as caught:
        plan.first_message(None)
    partial = partial_results(caught.value)
    assert partial is not None
    assert [type(r.error) for r in partial] == [InputError]


def test_batch_of_bad_input_only_needs_no_session() -> None:
    bad = InputError("no recipient", field="recipient")
    plan = BatchPlan(iter([bad]), "starttls", "mx.test:25")
    assert plan.first_message(None) is None  # the driver then connects to nothing
    [result] = plan.results()
    assert result.error is bad


def test_on_settled_gets_each_result_in_order_as_soon_as_it_is_final() -> None:
    log: list[str] = []

    def items() -> Iterator[PreparedMessage]:
        for number in range(3):
            log.append(f"take {number}")
            yield prepared(number)
        log.append("no more")

    def settled(result: SendResult) -> None:
        log.append(f"result {result.recipients[0]}")

    run = run_batch(plan_for(items(), on_settled=settled), session(PIPELINING), [
        GO_AHEAD,
        b"250 q0\r\n" + GO_AHEAD,
        b"250 q1\r\n" + GO_AHEAD,
        b"250 q2\r\n",
    ])
    assert run.results == []  # handed over, not kept
    # Message 0's result is handed over as its verdict arrives, before the iterator is
    # even exhausted; the last one when the batch ends.
    assert log == ["take 0", "take 1", "take 2", "result r0@example.test", "no more",
                   "result r1@example.test", "result r2@example.test"]
