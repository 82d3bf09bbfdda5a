"""Per-upstream limits that hold for the whole cluster, kept in PostgreSQL.

- :class:`ClusterRateLimiter`: ``[delivery] rate_limit`` as a sliding window shared by every
  node: a row per message handed to the upstream in ``rate_slots``, taken in a short
  transaction serialised per upstream by ``pg_advisory_xact_lock``. Same contract as the
  delivery worker's in-process limiter: a slot is stamped when its message is handed to the
  connection and stamped again when its verdict came back (the message left in between), and a
  new slot is granted only when fewer than ``count`` stamps lie within the last ``seconds``.
  Stamps use the database clock, so the nodes' clocks need not agree.
- :class:`ConnectionSlots`: ``[delivery] concurrency`` upstream connections for the cluster:
  slot *i* is the session-level advisory lock (upstream key, *i*) held on a pooled connection
  for as long as the upstream connection is open. A node that dies loses its database session,
  and PostgreSQL releases its slots with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool

from .._model import Clock
from ._db import ConnectionPool, transaction, translate

__all__ = ["ClusterRateLimiter", "ConnectionSlots", "upstream_key"]

_DB_NOW = "extract(epoch from clock_timestamp())::float8"
#: Longest wait between two looks for a free connection slot.
_SLOT_POLL = 0.05


def upstream_key(upstream: str) -> int:
    """A 31-bit advisory-lock key for an upstream account (``user@host:port``)."""
    return zlib.crc32(upstream.encode()) & 0x7FFFFFFF


class ClusterRateLimiter:
    """At most *count* messages per *seconds* to one upstream account, over all nodes."""

    def __init__(self, pool: ConnectionPool, upstream: str, count: int, seconds: float,
                 clock: Clock) -> None:
        self._pool, self._upstream = pool, upstream
        self._count, self._seconds, self._clock = count, seconds, clock
        self._key = upstream_key(upstream)

    async def take(self, wanted: int) -> list[int]:
        """Wait until at least one message may go; return the slots of those that may go now."""
        while True:
            slots, wait = await asyncio.to_thread(self._try_take, wanted)
            if slots:
                return slots
            await self._clock.sleep(max(wait, 0.001))

    def _try_take(self, wanted: int) -> tuple[list[int], float]:
        with transaction(self._pool, "cannot take a rate-limit slot") as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
            cursor.execute(f"DELETE FROM rate_slots WHERE upstream = %s AND stamped_at <= {_DB_NOW}"
                           " - %s", (self._upstream, self._seconds))
            cursor.execute(f"SELECT count(*), min(stamped_at), {_DB_NOW} FROM rate_slots WHERE"
                           " upstream = %s", (self._upstream,))
            used, oldest, now = _row(cursor.fetchone())
            allowed = min(wanted, self._count - int(used))
            if allowed <= 0:
                return [], float(oldest) + self._seconds - float(now)
            cursor.execute(
                "INSERT INTO rate_slots (upstream, stamped_at) SELECT %s, %s FROM"
                " generate_series(1, %s) RETURNING id", (self._upstream, now, allowed))
            return [int(row[0]) for row in cursor.fetchall()], 0.0

    def finished(self, slots: list[int]) -> None:
        """The messages of *slots* got their verdict: their window counts from now.

        Called synchronously by the worker (one short UPDATE): a restamp that arrived after the
        next take would let that take count an earlier stamp and send too soon.
        """
        if not slots:
            return
        with transaction(self._pool, "cannot restamp rate-limit slots") as cursor:
            cursor.execute(f"UPDATE rate_slots SET stamped_at = {_DB_NOW} WHERE id = ANY(%s)",
                           (slots,))


class ConnectionSlots:
    """At most *concurrency* connections to one upstream account, over all nodes."""

    def __init__(self, pool: ConnectionPool, upstream: str, concurrency: int,
                 clock: Clock) -> None:
        self._pool, self._concurrency, self._clock = pool, concurrency, clock
        self._key = upstream_key(upstream)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        """Wait for a free slot; hold it (and one pooled connection) until the block ends."""
        try:
            connection = await asyncio.to_thread(self._pool.getconn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise translate(error, "cannot take an upstream connection slot") from error
        try:
            slot = await self._lock_one(connection)
            try:
                yield slot
            finally:
                with contextlib.suppress(psycopg.Error):  # a lost session has no locks left
                    await asyncio.to_thread(connection.execute,
                                            "SELECT pg_advisory_unlock(%s, %s)", (self._key, slot))
        finally:
            await asyncio.to_thread(self._pool.putconn, connection)

    async def _lock_one(self, connection: Any) -> int:
        try:
            if not connection.autocommit:
                await asyncio.to_thread(setattr, connection, "autocommit", True)
            while (slot := await asyncio.to_thread(self._try_lock, connection)) is None:
                await self._clock.sleep(_SLOT_POLL)
            return slot
        except psycopg.Error as error:
            raise translate(error, "cannot take an upstream connection slot") from error

    def _try_lock(self, connection: Any) -> int | None:
        for slot in range(self._concurrency):
            row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                     (self._key, slot)).fetchone()
            if row is not None and row[0]:
                return slot
        return None


def _row(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    assert row is not None  # an aggregate always returns a row
    used, oldest, now = row
    return used, now if oldest is None else oldest, now
