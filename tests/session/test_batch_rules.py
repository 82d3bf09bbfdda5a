"""The batch's verdict rules without a socket: what a broken connection or an interruption
means for each message (RFC 5321 §4.5.3.2.6, §6.1: after the final dot, no verdict is
"status unknown", never "not sent")."""

from __future__ import annotations

from cdomail.batch import CompactResult, compact
from cdomail.errors import (
    InputError,
    ReadTimeout,
    SendInterrupted,
    ServerDisconnected,
    StatusUnknown,
)
from cdomail.message import OutgoingMessage, PreparedMessage, prepare_outgoing
from cdomail.protocol import Reply
from cdomail.result import SendResult
from cdomail.session import Transaction
from cdomail.session._batch import interrupted_results

MESSAGE = b"Subject: test\r\n\r\nhello\r\n"


def prepared(recipient: str = "rcpt@example.test") -> PreparedMessage:
    return prepare_outgoing(OutgoingMessage(MESSAGE, sender="from@example.test",
                                            recipients=[recipient]))


def content_sent_transaction(number: int = 0) -> Transaction:
    tx = Transaction(prepared(), None, number=number)
    tx.content_sent = True
    return tx


def test_connection_lost_after_the_final_dot_is_status_unknown() -> None:
    lost = ServerDisconnected("closed")
    failure = content_sent_transaction().failure_after(lost, end_written=True)
    assert isinstance(failure, StatusUnknown)
    assert failure.__cause__ is lost
    timeout = ReadTimeout("no verdict")
    assert isinstance(content_sent_transaction().failure_after(timeout, end_written=True),
                      StatusUnknown)


def test_end_of_content_not_written_means_not_accepted() -> None:
    # The final dot was still in our buffer: the server cannot have taken the message.
    lost = ServerDisconnected("closed")
    assert content_sent_transaction().failure_after(lost, end_written=False) is lost


def test_no_content_or_a_verdict_keeps_the_error() -> None:
    lost = ServerDisconnected("closed")
    assert Transaction(prepared(), None, number=0).failure_after(lost, end_written=True) is lost
    answered = content_sent_transaction()
    answered.final_reply = Reply(250, ("2.0.0 queued",))
    assert answered.failure_after(lost, end_written=True) is lost
    bad_input = InputError("8-bit content", field="body")
    assert content_sent_transaction().failure_after(bad_input, end_written=True) is bad_input


def test_interrupted_batch_reports_each_message_by_what_is_known() -> None:
    unsent = SendResult(sender="", recipients=[], tls_mode="starttls", tls=None,
                        error=InputError("bad", field="to"))
    in_flight = content_sent_transaction(1)
    waiting = Transaction(prepared("b@example.test"), None, number=2)
    results = interrupted_results([unsent, in_flight, waiting], prepared("c@example.test"),
                                  "starttls", None, None)
    assert [type(r.error) for r in results if isinstance(r, SendResult)] == [
        InputError, StatusUnknown, SendInterrupted, SendInterrupted]
    assert results[3].recipients == ["c@example.test"]
    bad = InputError("no recipients", field="to")
    [only] = interrupted_results([], bad, "starttls", None, compact)
    assert isinstance(only, CompactResult) and only.error is bad
