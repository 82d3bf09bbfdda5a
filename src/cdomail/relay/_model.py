"""Types shared by the relay's intake side (listener, spool, admin) and its delivery side.

The spool's API speaks only in these types (no sqlite3 rows or cursors), so a later
PostgreSQL backend can implement the same interface.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

__all__ = [
    "FINAL_STATES",
    "ArrivalFacts",
    "AttemptRecord",
    "Clock",
    "MessageDetail",
    "MessageSummary",
    "QueuedMessage",
    "RecipientDetail",
    "RecipientOutcome",
    "RecipientState",
    "RecipientStateName",
    "SystemClock",
]

RecipientStateName = Literal["queued", "delivered", "bounced", "expired", "unknown"]


class RecipientState:
    """The states a recipient moves through: queued → delivered | bounced | expired | unknown.

    ``unknown`` is final only when ``[delivery] at_least_once = false``: the upstream may or may
    not have taken the message (connection lost after the final dot) and we chose not to retry.
    ``held`` is not a recipient state but a message-level flag (with a reason); a held message's
    queued recipients are simply not due.
    """

    QUEUED: Final = "queued"
    DELIVERED: Final = "delivered"
    BOUNCED: Final = "bounced"
    EXPIRED: Final = "expired"
    UNKNOWN: Final = "unknown"
    HELD: Final = "held"  # only as a key of Spool.counts() and a filter of Spool.list()


FINAL_STATES: Final = frozenset({
    RecipientState.DELIVERED, RecipientState.BOUNCED, RecipientState.EXPIRED, RecipientState.UNKNOWN
})


@dataclass(frozen=True, slots=True)
class ArrivalFacts:
    """How a message reached the relay: shown by ``relay show`` so its record tells the truth."""

    client_address: str
    helo: str | None
    tls_version: str | None
    tls_cipher: str | None
    authenticated_user: str | None
    received_at: float
    bare_lf_normalised: bool = False


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message due for delivery, with the recipients that still wait for it."""

    id: str
    sender: str
    recipients_pending: tuple[str, ...]
    content: bytes
    message_id_header: str | None
    received_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    """What one delivery attempt meant for one recipient (``reply``: the upstream's words)."""

    state: RecipientStateName
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One delivery attempt: where it went and how (TLS, certificate), and what came back."""

    started_at: float
    finished_at: float
    upstream: str
    tls_version: str | None = None
    tls_cipher: str | None = None
    cert_verified: bool | None = None
    reply: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One message's attempt as the delivery worker records it (``Queue.record_attempts``):
    the attempt, each recipient's outcome, and when to try again (None: nothing stays queued,
    or an ``unknown`` is final)."""

    message_id: str
    attempt: AttemptRecord
    outcomes: Mapping[str, RecipientOutcome]
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One line of ``relay list``."""

    id: str
    sender: str
    recipients: int
    state: str  # the message's overall state: queued, held, or its recipients' final state(s)
    received_at: float
    attempts: int
    next_attempt_at: float | None
    size: int
    held_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientDetail:
    """A recipient of a stored message, with its state and the reply that decided it."""

    address: str
    state: RecipientStateName
    reply: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class MessageDetail:
    """Everything ``relay show`` prints: arrival, recipients, every attempt."""

    summary: MessageSummary
    message_id_header: str | None
    arrival: ArrivalFacts
    recipients: tuple[RecipientDetail, ...]
    attempts: tuple[AttemptRecord, ...] = field(default=())
    # What each attempt meant per recipient (an "unknown" that was retried shows here).
    attempt_outcomes: tuple[Mapping[str, RecipientOutcome], ...] = field(default=())


class Clock(Protocol):
    """Time as the relay sees it; tests inject one that runs retries and ``max_age`` in seconds."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time (``time.time``) and real ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
