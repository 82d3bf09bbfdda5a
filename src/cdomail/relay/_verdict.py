"""What one upstream attempt means for each recipient of a message.

The client's :class:`~cdomail.SendResult` (or the error that stopped the
connection) is turned into a per-recipient verdict, before any schedule or
spool is involved, so the rules read in one place:

* 250 to the content: every recipient the upstream accepted is delivered, and
  the final reply is kept as the proof (RFC 5321 §4.2.5: the server took
  responsibility);
* a 5xx reply (to RCPT for that recipient, or to MAIL/DATA for all) bounces;
* a 4xx reply, a connection failure, a time-out before the content went out:
  try again later (RFC 5321 §4.5.4.1);
* :class:`~cdomail.errors.StatusUnknown`, no verdict after the final dot: the
  upstream may have the message (RFC 5321 §4.5.3.2.6): recorded ``unknown``;
* the relay's own credentials refused (535, Microsoft's ``550 5.7.30``, a token
  endpoint's ``invalid_grant``): no recipient is judged, the queue is held.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdomail.errors import (
    AuthenticationFailed,
    CdoMailError,
    InputError,
    RecipientsRefused,
    RemoteProtocolError,
    ReplyError,
    StatusUnknown,
    TimeoutError,
    TransportError,
    printable,
)
from cdomail.protocol import Reply
from cdomail.result import SendResult

__all__ = ["Verdict", "credentials_refused", "one_line", "verdicts_of"]


class Verdict(enum.Enum):
    """What happens to a recipient after one attempt."""

    DELIVERED = "delivered"
    BOUNCE = "bounce"
    RETRY = "retry"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RecipientVerdict:
    """One recipient's verdict, the reply that decided it (one line), and its RFC 3463 code."""

    verdict: Verdict
    reply: str | None
    status: str | None = None


def one_line(text: str) -> str:
    """Server text as one printable line (multi-line replies joined with spaces)."""
    return printable(" ".join(text.splitlines()), newlines=False)


def _reply_text(code: int, text: str) -> str:
    return one_line(f"{code} {text}")


def _by_code(code: int, text: str, status: str | None) -> RecipientVerdict:
    verdict = Verdict.BOUNCE if code >= 500 else Verdict.RETRY
    return RecipientVerdict(verdict, _reply_text(code, text), status)


def _from_reply(reply: Reply) -> RecipientVerdict:
    return _by_code(reply.code, reply.text, reply.enhanced_status)


def credentials_refused(error: BaseException) -> bool:
    """True when ``error`` says the upstream refused the relay's own credentials.

    535 (RFC 4954 §6) to AUTH, and ``5.7.30`` / ``5.7.139`` / ``5.7.57`` which
    Microsoft 365 uses for "Basic authentication is not supported" / "client not
    authenticated to send mail" at MAIL time.
    """
    if isinstance(error, AuthenticationFailed):
        return True
    if isinstance(error, ReplyError):
        return error.enhanced_status in ("5.7.30", "5.7.139", "5.7.57") or error.code == 535
    return False


def verdicts_of(result: SendResult, pending: Sequence[str]) -> Mapping[str, RecipientVerdict]:
    """The verdict for each of ``pending`` after one message's attempt."""
    verdicts: dict[str, RecipientVerdict] = {}
    for address, reply in result.refused.items():
        verdicts[address] = _from_reply(reply)
    error = result.error
    if isinstance(error, RecipientsRefused):
        for refusal in error.refused:
            verdicts[refusal.recipient] = _by_code(refusal.code, refusal.text,
                                                   refusal.enhanced_status)
    rest = [address for address in pending if address not in verdicts]
    if error is None and result.reply is not None and result.reply.code == 250:
        kept = _reply_text(result.reply.code, result.reply.text)
        verdicts.update({a: RecipientVerdict(Verdict.DELIVERED, kept) for a in rest})
    else:
        everyone = _whole_message_verdict(result, error)
        verdicts.update(dict.fromkeys(rest, everyone))
    return verdicts


def _whole_message_verdict(result: SendResult, error: CdoMailError | None) -> RecipientVerdict:
    if isinstance(error, StatusUnknown):
        return RecipientVerdict(Verdict.UNKNOWN, one_line(f"status unknown: {error}"))
    if (isinstance(error, TransportError | TimeoutError | RemoteProtocolError)
            and result.reply is None and result.size > 0):
        # The content went out and the connection failed before its verdict: the
        # upstream may have queued it (RFC 5321 §4.5.3.2.6), the same rule as Pool's.
        return RecipientVerdict(Verdict.UNKNOWN, one_line(
            f"status unknown: the connection failed after the content was sent ({error})"))
    if isinstance(error, ReplyError):
        return _by_code(error.code, error.text, error.enhanced_status)
    if isinstance(error, InputError):
        # The message itself cannot be sent as it is (e.g. 8-bit content to an
        # upstream without 8BITMIME): no retry will change that. RFC 3463 X.6.0.
        return RecipientVerdict(Verdict.BOUNCE, one_line(f"relay: {error}"), "5.6.0")
    if error is not None:
        return RecipientVerdict(Verdict.RETRY, one_line(str(error)))
    reply = result.reply
    if reply is not None:
        return _from_reply(reply)
    return RecipientVerdict(Verdict.RETRY, "no reply from the upstream")
