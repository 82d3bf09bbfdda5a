"""What a batch reports: compact results, and the results of an interrupted batch.

A batch of 100,000 messages keeps 100,000 results. A :class:`~cdomail.SendResult`
holds one :class:`~cdomail.Reply` per recipient; a :class:`CompactResult` keeps the
facts (who accepted, who refused and why, encryption, the error) and no Reply for an
accepted recipient, so ``send_many(..., compact=True)`` stays small, and
``on_result=`` / ``Pool.send_iter`` keep nothing at all.

When a batch is interrupted (``KeyboardInterrupt`` on Ctrl-C, or the task is
cancelled), the exception that ends it carries ``partial_results``: one result per
message taken from the caller's iterable so far, in order. A message whose content
went out without a verdict is :class:`~cdomail.StatusUnknown`; one that certainly
never left is :class:`~cdomail.SendInterrupted`. Messages not taken from the
iterable are not listed (none of them was sent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from .errors import CdoMailError, SendInterrupted, StatusUnknown
from .protocol import Reply
from .result import SendResult
from .tls import TLSInfo

__all__ = ["BatchResult", "CompactResult", "compact", "interrupted", "partial_results"]

#: Shared by every result without refusals (typed read-only; a dict so results pickle).
_NO_REFUSALS: Mapping[str, Reply] = {}


@dataclass(slots=True)
class CompactResult:
    """One message's outcome without the per-recipient replies of accepted recipients.

    ``accepted`` lists the addresses the server accepted; ``refused`` keeps the
    refusal reply of each refused one; ``reply_code`` is the final reply's code.
    """

    sender: str
    recipients: tuple[str, ...]
    tls_mode: str
    tls: TLSInfo | None
    accepted: tuple[str, ...]
    refused: Mapping[str, Reply]
    reply_code: int | None
    error: CdoMailError | None
    size: int

    @property
    def encrypted(self) -> bool:
        """Whether the message travelled inside TLS."""
        return self.tls is not None

    @property
    def ok(self) -> bool:
        """Accepted by the server for at least one recipient."""
        return self.error is None and self.reply_code == 250

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "encrypted": self.encrypted,
            "tls": self.tls.to_dict() if self.tls else None,
            "tls_mode": self.tls_mode,
            "sender": self.sender,
            "accepted": list(self.accepted),
            "refused": {a: str(r) for a, r in self.refused.items()},
            "reply_code": self.reply_code,
            "error": (
                {"type": type(self.error).__name__, "message": str(self.error)}
                if self.error
                else None
            ),
            "size": self.size,
        }


#: What a batch hands back: full results, or compact ones when asked.
BatchResult: TypeAlias = SendResult | CompactResult


def compact(result: SendResult) -> CompactResult:
    """The compact form of ``result`` (its accepted recipients' replies dropped)."""
    recipients = tuple(result.recipients)
    accepted = (recipients if len(result.accepted) == len(recipients)
                else tuple(result.accepted))
    return CompactResult(
        sender=result.sender,
        recipients=recipients,
        tls_mode=result.tls_mode,
        tls=result.tls,
        accepted=accepted,
        refused=result.refused or _NO_REFUSALS,
        reply_code=None if result.reply is None else result.reply.code,
        error=result.error,
        size=result.size,
    )


def interrupted(
    sender: str,
    recipients: Sequence[str],
    tls_mode: str,
    *,
    content_sent: bool,
    size: int = 0,
) -> SendResult:
    """The result of a message caught by an interruption before its verdict."""
    error: CdoMailError
    if content_sent:
        # The end of the content may have reached the server: it may have queued the
        # message (RFC 5321 §4.5.3.2.6), so this is never reported as "not sent".
        error = StatusUnknown("the batch was interrupted after this message's content was"
                              " sent and before its verdict: the server may or may not have"
                              " accepted it; do not blindly resend")
    else:
        error = SendInterrupted("the batch was interrupted before this message was sent:"
                                " it was not sent")
    return SendResult(sender=sender, recipients=list(recipients), tls_mode=tls_mode,
                      tls=None, error=error, size=size)


def attach(exc: BaseException, results: Sequence[BatchResult]) -> None:
    """Give the interruption ``exc`` the batch's results so far (``exc.partial_results``)."""
    exc.partial_results = list(results)  # type: ignore[attr-defined]


def partial_results(exc: BaseException) -> list[BatchResult] | None:
    """The results carried by an interruption, or None when it carries none.

    Looks along the exception's context too: ``asyncio.run`` turns a cancelled main
    task into a new ``KeyboardInterrupt`` raised while handling the cancellation.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = getattr(current, "partial_results", None)
        if isinstance(found, list):
            return found
        current = current.__cause__ or current.__context__
    return None
