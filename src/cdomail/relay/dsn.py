"""Bounces: RFC 3464 delivery status notifications for recipients the relay gave up on.

A DSN is a ``multipart/report; report-type=delivery-status`` message (RFC 6522)
with three parts: a human-readable explanation, the ``message/delivery-status``
fields (RFC 3464 §2.2 per-message, §2.3 per-recipient) and the original
message's header (``text/rfc822-headers``, so a large attachment is not sent
back). It is queued in the relay's own spool with the null reverse-path ``<>``
(RFC 5321 §4.5.5), so it is delivered (and retried) like any other message,
and a DSN that cannot be delivered is never answered with another DSN.

Every server-controlled text that goes into a header field (the upstream's
reply) passes through :func:`cdomail.errors.printable` first, so a hostile
reply cannot inject header lines.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, formatdate, make_msgid

from cdomail.errors import printable

__all__ = ["FailedRecipient", "build_dsn", "status_of_reply"]

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
# RFC 3463 §3.5: X.4.7 "Delivery time expired".
EXPIRED_STATUS = "4.4.7"
# Longest piece of header block sent back; RFC 3464 §2 lets it be truncated.
_MAX_RETURNED_HEADER = 64 * 1024


@dataclass(frozen=True)
class FailedRecipient:
    """A recipient that will not get the message, and why.

    ``status`` is the RFC 3463 code, ``diagnostic`` the upstream's reply
    (``"550 5.1.1 no such user"``) or None when there was none (expiry after
    connection failures), ``expired`` whether ``max_age`` was reached.
    """

    address: str
    status: str
    diagnostic: str | None
    expired: bool = False


def status_of_reply(code: int, text: str) -> str:
    """The RFC 3463 status a reply stands for: its own enhanced code, else ``X.0.0``."""
    match = _ENHANCED.match(text)
    if match and int(match.group(1)) == code // 100:
        return ".".join(match.groups())
    return f"{code // 100}.0.0"


def _header_line(text: str) -> str:
    # One header line, whatever the server sent: control characters escaped, capped.
    return printable(text, newlines=False)[:900]


def _explanation(recipients: Sequence[FailedRecipient], reporting_mta: str) -> str:
    lines = [
        f"This is the mail relay at {reporting_mta}.",
        "",
        "Your message could not be delivered to the following recipient(s):",
        "",
    ]
    for recipient in recipients:
        reason = ("it could not be delivered before its maximum age in the queue was reached"
                  if recipient.expired else "the receiving server refused it")
        lines.append(f"  <{_header_line(recipient.address)}>: {reason}")
        if recipient.diagnostic:
            lines.append(f"    the server said: {_header_line(recipient.diagnostic)}")
    lines += ["", "The delivery report and the original message's header are attached."]
    return "\n".join(lines) + "\n"


def _fields(pairs: Sequence[tuple[str, str]]) -> Message:
    block = Message(policy=SMTP)
    for name, value in pairs:
        block[name] = value
    return block


def _status_blocks(recipients: Sequence[FailedRecipient], *, reporting_mta: str,
                   remote_mta: str | None, arrival: datetime,
                   last_attempt: datetime) -> list[Message]:
    # RFC 3464 §2.1: one per-message block, then one block per recipient.
    blocks = [_fields([("Reporting-MTA", f"dns; {_header_line(reporting_mta)}"),
                       ("Arrival-Date", format_datetime(arrival))])]
    for recipient in recipients:
        pairs = [("Final-Recipient", f"rfc822; {_header_line(recipient.address)}"),
                 ("Action", "failed"),
                 ("Status", recipient.status)]
        if remote_mta:
            pairs.append(("Remote-MTA", f"dns; {_header_line(remote_mta)}"))
        if recipient.diagnostic:
            pairs.append(("Diagnostic-Code", f"smtp; {_header_line(recipient.diagnostic)}"))
        pairs.append(("Last-Attempt-Date", format_datetime(last_attempt)))
        blocks.append(_fields(pairs))
    return blocks


def _original_header(content: bytes) -> bytes:
    end = content.find(b"\r\n\r\n")
    block = content if end < 0 else content[: end + 2]
    return block[:_MAX_RETURNED_HEADER]


def build_dsn(
    *,
    original_sender: str,
    original_content: bytes,
    recipients: Sequence[FailedRecipient],
    reporting_mta: str,
    remote_mta: str | None,
    arrived_at: float,
    now: float,
) -> bytes:
    """The DSN message (CRLF line endings) telling ``original_sender`` about ``recipients``.

    Raises ValueError for a null ``original_sender``: a bounce is never bounced.
    """
    if not original_sender:
        raise ValueError("no DSN for a message with the null sender (RFC 5321 §4.5.5)")
    if not recipients:
        raise ValueError("a DSN needs at least one failed recipient")
    arrival = datetime.fromtimestamp(arrived_at, UTC)
    last_attempt = datetime.fromtimestamp(now, UTC)
    report = EmailMessage(policy=SMTP)
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporting_mta}>"
    report["To"] = original_sender
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = formatdate(now, localtime=False)
    report["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=reporting_mta)
    report["Auto-Submitted"] = "auto-replied"  # RFC 3834 §5: never auto-answered
    report.set_content(_explanation(recipients, reporting_mta))
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")

    status = EmailMessage(policy=SMTP)
    status.set_type("message/delivery-status")
    status.set_payload(_status_blocks(recipients, reporting_mta=reporting_mta,  # type: ignore[arg-type]
                                      remote_mta=remote_mta, arrival=arrival,
                                      last_attempt=last_attempt))
    report.attach(status)

    headers = EmailMessage(policy=SMTP)
    headers.set_type("text/rfc822-headers")
    headers.set_payload(_original_header(original_content).decode("utf-8", "replace"))
    report.attach(headers)
    return report.as_bytes(policy=SMTP.clone(cte_type="8bit"))

