"""Per-upstream limits that hold for the whole cluster, kept in PostgreSQL.

- :class:`ClusterRateLimiter`: ``[delivery] rate_limit`` as a sliding window shared by every
  node: a row per message handed to the upstream in ``rate_slots``, taken in a short
  transaction serialised per upstream by ``pg_advisory_xact_lock``. Same contract as the
  delivery worker's in-process limiter: a slot counts as "now" while its message is on the
  wire and from its verdict on, and a new slot is granted only when fewer than ``count``
  stamps lie within the last ``seconds``. A slot on the wire is stamped *hold* seconds ahead
  (the ``[spool] lease``) and pushed ahead again every quarter of it while the message is
  still out; its verdict stamps it "now". So a slot whose message is still on the wire never
  ages out of the window (the first design stamped the hand-over time, and a chunk still on
  the wire a window later let another node's messages overtake the window), and a node killed
  with its messages on the wire (its connections die with it) has its slots age out one lease
  and one window later. Stamps use the database clock, so the nodes' clocks need not agree.
- :class:`~cdomail.relay.pg.slots.ConnectionSlots` (``[delivery] concurrency`` for the
  cluster) lives in :mod:`cdomail.relay.pg.slots`.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

from .._model import Clock
from ..spool import SpoolError
from ._db import ConnectionPool, transaction

__all__ = ["ClusterRateLimiter", "upstream_key"]

log = logging.getLogger("cdomail.relay")

_DB_NOW = "extract(epoch from clock_timestamp())::float8"


def upstream_key(upstream: str) -> int:
    """A 31-bit advisory-lock key for an upstream account (``user@host:port``)."""
    return zlib.crc32(upstream.encode()) & 0x7FFFFFFF


class ClusterRateLimiter:
    """At most *count* messages per *seconds* to one upstream account, over all nodes.

    *hold_seconds*: how far ahead a slot whose message is on the wire is stamped (see the
    module docstring); the ``[spool] lease``.
    """

    def __init__(self, pool: ConnectionPool, upstream: str, count: int, seconds: float,
                 clock: Clock, *, hold_seconds: float) -> None:
        self._pool, self._upstream = pool, upstream
        self._count, self._seconds, self._clock = count, seconds, clock
        self._hold = hold_seconds
        self._key = upstream_key(upstream)
        #: The task that keeps each taken batch's stamps ahead, by its first slot id.
        self._holding: dict[int, asyncio.Task[None]] = {}

    async def take(self, wanted: int) -> list[int]:
        """Wait until at least one message may go; return the slots of those that may go now."""
        while True:
            slots, wait = await asyncio.to_thread(self._try_take, wanted)
            if slots:
                self._holding[slots[0]] = asyncio.create_task(self._keep_ahead(slots))
                return slots
            # Every slot may be on the wire: a verdict now frees one a window later.
            await self._clock.sleep(min(max(wait, 0.001), self._seconds))

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
                " generate_series(1, %s) RETURNING id", (self._upstream, now + self._hold, allowed))
            return [int(row[0]) for row in cursor.fetchall()], 0.0

    async def _keep_ahead(self, slots: list[int]) -> None:
        """Push the stamps of *slots* ahead while their messages are on the wire."""
        while True:
            await self._clock.sleep(self._hold / 4)
            try:
                await asyncio.to_thread(self._push_ahead, slots)
            except SpoolError as error:  # the stamps already lie ahead; the next try may work
                log.warning("cannot keep rate-limit slots ahead: %s", error)

    def _push_ahead(self, slots: list[int]) -> None:
        with transaction(self._pool, "cannot keep rate-limit slots ahead") as cursor:
            # Only stamps still ahead: a verdict's stamp (now) is final, even if this update
            # was already on its way when the verdict came.
            cursor.execute(f"UPDATE rate_slots SET stamped_at = {_DB_NOW} + %s WHERE"
                           f" id = ANY(%s) AND stamped_at > {_DB_NOW}", (self._hold, slots))

    async def finished(self, slots: list[int]) -> None:
        """The messages of *slots* got their verdict: their window counts from now.

        The worker awaits it before its next :meth:`take` (a restamp that arrived after the
        next take would let that take count an earlier stamp and send too soon); it runs in a
        thread, so a database that does not answer never stalls the event loop (and with it
        the listeners and the connection slots' deadlines). If it fails, the stamps stay
        ahead and age out one lease and one window later: the window is kept, not overtaken.
        A delivery being cancelled (its connection slot's lease ran out, most likely because
        the database does not answer) does not wait for the restamp: its upstream connection
        must be closed first (:mod:`cdomail.relay.pg.slots`); the stamps stay ahead.
        """
        if not slots:
            return
        keeper = self._holding.pop(slots[0], None)
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            return
        await asyncio.to_thread(self._restamp, slots)

    def _restamp(self, slots: list[int]) -> None:
        with transaction(self._pool, "cannot restamp rate-limit slots") as cursor:
            cursor.execute(f"UPDATE rate_slots SET stamped_at = {_DB_NOW} WHERE id = ANY(%s)",
                           (slots,))


def _row(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    assert row is not None  # an aggregate always returns a row
    used, oldest, now = row
    return used, now if oldest is None else oldest, now
