"""Shared pieces of the PostgreSQL queue tests."""

from __future__ import annotations

from cdomail.relay._model import ArrivalFacts, AttemptRecord
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg import PostgresQueue, migrate
from cdomail.relay.pg._db import connect_pool

T0 = 1_800_000_000.0


def arrival(at: float = T0) -> ArrivalFacts:
    return ArrivalFacts("127.0.0.1", "scanner", None, None, None, at)


def attempt(at: float = T0, **changes: object) -> AttemptRecord:
    return AttemptRecord(**{"started_at": at, "finished_at": at, "upstream": "up:25",  # type: ignore[arg-type]
                            **changes})


def content(number: int) -> bytes:
    return f"Message-ID: <m{number}@legacy.test>\r\nSubject: {number}\r\n\r\nbody\r\n".encode()


def migrate_to(config: SpoolConfig, target: int | None = None) -> list[int]:
    pool = connect_pool(config, max_size=1, application_name="test-migrate")
    try:
        return migrate(pool) if target is None else migrate(pool, target=target)
    finally:
        pool.close()


def open_node(config: SpoolConfig, lease: float | None = None) -> PostgresQueue:
    """A queue as one node sees it (*lease*: a shorter lease for the takeover tests)."""
    queue = PostgresQueue.open(config)
    if lease is not None:
        queue.lease_seconds = lease
    return queue
