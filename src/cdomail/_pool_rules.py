"""The pool's rules, shared by AsyncPool and the generated blocking Pool (no I/O here).

A job is one message on its way: its prepared bytes, its attempts and its result.
``judge`` decides, after a batch, whether a message's result is final or whether
it may be sent again. The delivery guarantees:

* A message is sent again only when the server certainly did not accept it:
  it was refused with a 4xx reply (a transient refusal of the whole
  transaction: MAIL, DATA, the final reply, or every RCPT), the server said 421
  before the message's verdict (RFC 5321 §3.8: after 421 the server closes and
  processes nothing more), or the connection broke before any of its content
  was written. Each message is sent at most ``1 + retries`` times.
* A message whose content went out and got no verdict is never resent: its
  result carries :class:`~cdomail.errors.StatusUnknown` (the server may have
  queued it, RFC 5321 §4.5.3.2.6), whether the wait timed out or the connection
  broke (a reset can hide replies already sent). A message accepted with 250 is
  never resent.
* When a connection fails, only the first message it did not finish is charged
  a retry; the ones queued behind it did not get their chance yet.

A message given whole (``bytes`` or ``EmailMessage``) is serialised once, when it
is taken from the caller's iterable; the job keeps those bytes (not the message
object) and sends them again on a retry. One-shot inputs (a binary file or an
iterator of chunks) are never materialised: the header block is read when the
message is taken, the body only while it is written to a connection. Such a
message is retried only if its body was never read; once read, a transient
refusal is reported in its result instead (the caller still holds the source).
A :class:`~cdomail.StreamedMessage` can be iterated again, so it is always retried.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

from .errors import (
    CdoMailError,
    ConfigurationError,
    DataRefused,
    RecipientsRefused,
    RemoteProtocolError,
    ReplyError,
    SenderRefused,
    ServiceClosing,
    StatusUnknown,
    TimeoutError,
    TransportError,
)
from .message import OutgoingMessage, PreparedMessage, prepare_outgoing
from .mime import StreamedMessage
from .result import SendResult


class Verdict(enum.Enum):
    FINAL = "final"  # report the result as it is
    RETRY_OWN = "retry-own"  # refused transiently: charged one retry
    RETRY_COLLATERAL = "retry-collateral"  # the connection ended before its turn


class Signal(Protocol):
    """The backend's one-shot signal that a job is finished (see _backends._concurrency)."""

    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def set(self) -> None: ...
    def cancel(self) -> None: ...


SignalT = TypeVar("SignalT", bound=Signal)


class Job(Generic[SignalT]):
    """One message on its way: prepared bytes, envelope, attempts, and its result."""

    __slots__ = ("attempts", "body_read", "outcome", "prepared", "result", "source", "taken")

    def __init__(self, item: OutgoingMessage, outcome: SignalT) -> None:
        # Raises InputError before anything is queued (rule: bad input, no byte sent).
        prepared = prepare_outgoing(item)
        self.outcome = outcome
        self.attempts = 0
        self.body_read = False
        #: Handed to a connection at least once (its fate is then the connection's).
        self.taken = False
        self.result: SendResult | None = None
        self.source: OutgoingMessage | None = None
        if prepared.content is None:
            # A stream: keep what can be iterated again, and watch the body being read.
            if isinstance(item.message, StreamedMessage):
                self.source = item
            prepared = self._watched(prepared)
        self.prepared = prepared

    def _watched(self, prepared: PreparedMessage) -> PreparedMessage:
        self.body_read = False
        body = prepared.body_chunks

        def body_chunks() -> Iterator[bytes]:
            # Runs on the first next(): from here on a one-shot body is (partly) consumed.
            self.body_read = True
            yield from body

        prepared.body_chunks = body_chunks()
        return prepared

    def rearm(self) -> bool:
        """Make the message ready to be sent again; False when that is impossible."""
        if self.prepared.content is not None or not self.body_read:
            return True  # whole bytes are sent again as they are
        if self.source is None:
            return False
        self.prepared = self._watched(prepare_outgoing(self.source))
        return True

    def resolve(self, result: SendResult) -> None:
        """Record the final result and wake whoever waits (nobody, if they left)."""
        if self.result is None:
            self.result = result
            self.outcome.set()

    @property
    def abandoned(self) -> bool:
        """Its caller went away before it was sent: skip it."""
        return self.outcome.cancelled() and not self.taken


class RateLimiter:
    """A token bucket holding at most one token, refilled at ``rate`` per second.

    Kept in its virtual-scheduling form (the time the next token is due), so
    waiting workers are served in order and the pool never exceeds the rate,
    even in a burst after an idle period. ``now`` is the backend's clock.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_due = -math.inf

    def try_acquire(self, now: float) -> bool:
        """Take a token if one is available right now."""
        if self._next_due > now:
            return False
        self._next_due = now + self._interval
        return True

    def reserve(self, now: float) -> float:
        """Take the next token; return how long to wait for it."""
        due = max(now, self._next_due)
        self._next_due = due + self._interval
        return due - now


def judge(job: Job[Any], result: SendResult, connection_lost: bool) -> tuple[Verdict, SendResult]:
    """What to do with one message after a batch: report it, or send it again."""
    error = result.error
    if error is None or isinstance(error, StatusUnknown):
        return Verdict.FINAL, result
    if isinstance(error, RecipientsRefused):
        # No recipient accepted: nothing was delivered, whatever DATA got (RFC 2920 §3.1).
        transient = all(refusal.is_transient for refusal in error.refused)
        return (Verdict.RETRY_OWN if transient else Verdict.FINAL), result
    if result.reply is not None:
        # A final reply that refused the whole transaction (421 included).
        transient = 400 <= result.reply.code < 500
        return (Verdict.RETRY_OWN if transient else Verdict.FINAL), result
    if isinstance(error, SenderRefused | DataRefused):
        return (Verdict.RETRY_OWN if error.is_transient else Verdict.FINAL), result
    unsent = result.size == 0 and not job.body_read
    if connection_lost and (unsent or isinstance(error, ServiceClosing)):
        # The session ended before this message's verdict, and either none of its
        # content was written or the server said 421 first (RFC 5321 §3.8: it then
        # processes nothing more). Either way it was certainly not accepted.
        return Verdict.RETRY_COLLATERAL, result
    if connection_lost and isinstance(error, TransportError | TimeoutError | RemoteProtocolError):
        unknown = StatusUnknown(
            "the connection failed after the message content was sent and before its"
            f" verdict: the server may or may not have accepted it; not resent ({error})"
        )
        unknown.__cause__ = error
        return Verdict.FINAL, dataclasses.replace(result, error=unknown)
    return Verdict.FINAL, result


def may_pass(error: CdoMailError) -> bool:
    """Whether a failure to open a session may go away by trying again."""
    if isinstance(error, ReplyError):
        return error.is_transient
    return isinstance(error, TransportError | TimeoutError)


def count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number >= {minimum}, not {value!r}",
                                 field=name)
    return value


def rate(value: object) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        raise ConfigurationError(
            f"rate_limit must be a positive number of messages per second, not {value!r}",
            field="rate_limit",
        )
    return float(value)
