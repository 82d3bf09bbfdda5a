"""The relay's queue interface, implemented by the SQLite spool and the PostgreSQL queue.

``[spool] path = "..."`` keeps the queue in one SQLite file on this machine (one node, the
default); ``[spool] url = "postgresql://..."`` keeps it in PostgreSQL, shared by any number of
``relay run`` nodes (:mod:`cdomail.relay.pg`). The intake side, the delivery worker and the
admin commands speak only this interface, in the types of :mod:`cdomail.relay._model`.

Claims: :meth:`Queue.due` hands a message to exactly one node. The SQLite spool has one node,
so handing out is all a claim is. The PostgreSQL queue claims with ``FOR UPDATE SKIP LOCKED``
and a lease (``lease_owner``, ``lease_expires_at``); :meth:`Queue.heartbeat` renews the node's
leases, :meth:`Queue.record_attempt` ends one. A lease that expires because its node died is
taken over by the others; if the message may have been on the wire (flagged by
:meth:`Queue.mark_sending` before the worker hands it to a connection, cleared by
:meth:`Queue.record_attempt`), the takeover is recorded as an ``unknown`` attempt (RFC 5321
section 4.5.3.2.6: the upstream may have it) before the at-least-once redelivery. The SQLite
spool keeps the same flag in the message's row; the restarted node finds its own
(:meth:`Queue.interrupted_sends`) and records them the same way.

Calls are synchronous and short; the asyncio side runs them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ._model import (
    ArrivalFacts,
    AttemptRecord,
    AttemptResult,
    MessageDetail,
    MessageSummary,
    QueuedMessage,
    RecipientOutcome,
)
from .config import SpoolConfig
from .spool import Spool, Submission

__all__ = ["NodeIdentity", "NodeInfo", "Queue", "open_queue"]

@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """One ``relay run`` process: a fresh id each start (a restarted node is a new node)."""

    id: str
    host: str
    pid: int
    started_at: float
    listeners: str = ""

    @classmethod
    def this_process(cls, listeners: str = "") -> NodeIdentity:
        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), time.time(),
                   listeners)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One line of ``relay status``'s node table (and of the admin API's ``nodes()``)."""

    id: str
    host: str
    pid: int
    started_at: float
    last_seen: float
    in_flight: int
    listeners: str
    alive: bool  # last seen within the lease time


class Queue(Protocol):
    """What the relay needs from its durable queue (see the module docstring)."""

    def close(self) -> None: ...

    def __enter__(self) -> Queue: ...

    def __exit__(self, *exc_info: object) -> None: ...

    # intake
    def store(self, sender: str, recipients: Sequence[str], content: bytes,
              arrival: ArrivalFacts) -> str: ...

    def store_many(self, submissions: Sequence[Submission]) -> list[str | Any]: ...

    # delivery: claim, mark as on the wire, record (ends the claim and the mark)
    def due(self, now: float, limit: int) -> list[QueuedMessage]: ...

    def mark_sending(self, message_ids: Sequence[str]) -> list[str]: ...

    def interrupted_sends(self) -> list[str]: ...

    def record_attempt(self, message_id: str, attempt: AttemptRecord,
                       outcomes: Mapping[str, RecipientOutcome],
                       next_attempt_at: float | None) -> None: ...

    def record_attempts(self, results: Sequence[AttemptResult]) -> list[str]: ...

    # nodes
    def register_node(self, node: NodeIdentity) -> None: ...

    def heartbeat(self) -> int: ...

    def unregister_node(self) -> None: ...

    def nodes(self) -> list[NodeInfo]: ...

    # administration
    def counts(self) -> dict[str, int]: ...

    def oldest_queued_age(self, now: float) -> float | None: ...

    def list(self, state: str | None = None, limit: int = 100) -> list[MessageSummary]: ...

    def show(self, message_id: str) -> MessageDetail: ...

    def content(self, message_id: str) -> bytes: ...

    def retry(self, message_id: str, *, now: float | None = None) -> None: ...

    def retry_all(self, *, now: float | None = None) -> int: ...

    def hold(self, message_id: str, reason: str) -> None: ...

    def release(self, message_id: str) -> None: ...

    def hold_all(self, reason: str) -> None: ...

    def release_all(self) -> None: ...

    def queue_hold(self) -> str | None: ...

    def delete(self, message_id: str) -> None: ...

    def set_health(self, key: str, value_json: str, *, now: float | None = None) -> None: ...

    def health(self) -> dict[str, Any]: ...


def open_queue(spool: SpoolConfig, *, create: bool = True) -> Queue:
    """Open the queue ``[spool]`` names: the SQLite spool, or the PostgreSQL queue.

    ``create=False`` (admin commands) refuses a SQLite spool that does not exist yet. The
    PostgreSQL schema is never created here: ``cdomail relay migrate`` does that.
    """
    if spool.url is not None:
        from .pg import PostgresQueue  # psycopg is an optional dependency (relay-postgres)

        return PostgresQueue.open(spool)
    assert spool.path is not None  # the config reader requires path or url
    if not create:
        from .spool import SPOOL_FILENAME, SpoolError

        if not (spool.path / SPOOL_FILENAME).exists():
            raise SpoolError(
                f"no spool at {spool.path} yet: has `cdomail relay run` ever started?")
    return Spool.open(spool.path)
