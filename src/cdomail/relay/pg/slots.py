"""``[delivery] concurrency`` for the whole cluster: upstream connection slots as leased rows.

Slot *i* of an upstream account is the row (upstream, *i*) of ``connection_slots``. A node
takes a free one (no holder, or a lease the database clock says has expired) in one durable
commit that records the node, a fresh token and ``lease_expires_at``; while its upstream
connection is open the holder renews the lease; when the connection is closed it clears the
row.

Why rows with leases and not session advisory locks (the first design): an advisory lock
lives exactly as long as the database session holding it, and a PostgreSQL restart ends every
session while the nodes keep their upstream connections. After the restart the "free" slots
were taken again and the upstream saw 4 sessions with ``concurrency = 2``. A row survives the
restart, and a lease gives the holder a rule it can keep without the database:

- The holder counts its lease from the moment it *sent* the take or the renewal (the
  database stamps ``clock_timestamp() + lease`` later, never earlier), on its own monotonic
  clock, and its upstream connection is closed a safety margin before that local deadline
  unless a renewal succeeded in between. With the database down, or only this node's
  connection to it lost, the holder has closed its connection before the database would let
  anyone else take the slot.
- Another node takes the slot only after ``lease_expires_at`` by the database's clock.
- A node killed with ``kill -9`` closes nothing and renews nothing (its upstream connections
  die with the process): its slots come back one lease later.
- Takes and renewals commit durably (``synchronous_commit = on``): an asynchronous commit lost
  in a database crash would leave the database with an earlier expiry than the holder counts
  on. A release may be lost: the slot then stays taken until its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from .._model import Clock
from ..spool import SpoolError
from ._db import ConnectionPool, transaction

__all__ = ["ConnectionSlots", "SlotLost"]

log = logging.getLogger("cdomail.relay")

_DB_NOW = "extract(epoch from clock_timestamp())::float8"
#: Longest wait between two looks for a free connection slot.
_SLOT_POLL = 0.05


class SlotLost(SpoolError):
    """A connection slot's lease ran out before it could be renewed; its connection is closed."""


class ConnectionSlots:
    """At most *concurrency* connections to one upstream account, over all nodes.

    *lease_seconds*: how long a slot stays taken without renewal (``[spool] lease``: the
    longest a dead node's slot is missed); *holder*: this node's id, shown in the row.
    """

    def __init__(self, pool: ConnectionPool, upstream: str, concurrency: int, clock: Clock, *,
                 lease_seconds: float, holder: str = "") -> None:
        self._pool, self._upstream, self._concurrency = pool, upstream, concurrency
        self._clock, self._lease, self._holder = clock, lease_seconds, holder
        # A quarter of the lease is the margin between the holder's own deadline and the
        # database's expiry (time for the close itself, and a loop that runs late); renewals
        # come every quarter, so two may fail before the holder gives up.
        self._margin = lease_seconds / 4
        self._renew_every = lease_seconds / 4
        self._rows_ready = False
        #: Tokens whose release failed (the database was away): cleared at the next take.
        self._unreleased: list[str] = []

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        """Wait for a free slot and hold it until the block ends.

        The block is cancelled when the lease cannot be renewed in time (see the module
        docstring); then :class:`SlotLost` is raised once the block has ended.
        """
        token = uuid.uuid4().hex
        slot, deadline = await self._take(token)
        expiry = asyncio.timeout_at(deadline)
        try:
            async with expiry:
                renewal = asyncio.create_task(self._keep(slot, token, expiry),
                                              name=f"slot-lease-{slot}")
                try:
                    yield slot
                finally:
                    renewal.cancel()
                    await asyncio.gather(renewal, return_exceptions=True)
        except TimeoutError:
            if not expiry.expired():
                raise  # the block's own time-out, not the lease
            raise SlotLost(f"upstream connection slot {slot}: its lease could not be renewed"
                           " in time (the queue database did not answer, or had let the lease"
                           " expire); the connection was closed") from None
        finally:
            await self._release(token)

    async def _take(self, token: str) -> tuple[int, float]:
        """Take a free slot; return it and the local deadline of its lease (loop time)."""
        loop = asyncio.get_running_loop()
        while True:
            leftovers = list(self._unreleased)
            sent = loop.time()
            slot = await asyncio.to_thread(self._try_take, token, leftovers)
            self._unreleased = [other for other in self._unreleased if other not in leftovers]
            if slot is not None:
                return slot, sent + self._lease - self._margin
            await self._clock.sleep(_SLOT_POLL)

    def _try_take(self, token: str, leftovers: list[str]) -> int | None:
        with transaction(self._pool, "cannot take an upstream connection slot") as cursor:
            if leftovers:
                cursor.execute("UPDATE connection_slots SET holder = NULL, token = NULL,"
                               " lease_expires_at = NULL WHERE upstream = %s AND token ="
                               " ANY(%s)", (self._upstream, leftovers))
            if not self._rows_ready:
                cursor.execute("INSERT INTO connection_slots (upstream, slot) SELECT %s,"
                               " generate_series(0, %s - 1) ON CONFLICT DO NOTHING",
                               (self._upstream, self._concurrency))
            cursor.execute(
                f"UPDATE connection_slots SET holder = %s, token = %s, lease_expires_at = {_DB_NOW}"
                " + %s WHERE upstream = %s AND slot = (SELECT slot FROM connection_slots WHERE"
                " upstream = %s AND slot < %s AND (token IS NULL OR lease_expires_at <"
                f" {_DB_NOW}) ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot",
                (self._holder, token, self._lease, self._upstream, self._upstream,
                 self._concurrency))
            row = cursor.fetchone()
        self._rows_ready = True
        return None if row is None else int(row[0])

    async def _keep(self, slot: int, token: str, expiry: asyncio.Timeout) -> None:
        """Renew the lease until cancelled; move *expiry* to each renewal's deadline."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._renew_every)
            sent = loop.time()
            try:
                kept = await asyncio.to_thread(self._renew, token)
            except SpoolError as error:
                # The deadline stays where the last renewal put it: retried until then.
                log.warning("cannot renew the lease of upstream connection slot %d: %s",
                            slot, error)
                continue
            if expiry.expired():
                return
            if not kept:  # expired by the database's clock: never use it a moment longer
                expiry.reschedule(loop.time())
                return
            expiry.reschedule(sent + self._lease - self._margin)

    def _renew(self, token: str) -> bool:
        with transaction(self._pool, "cannot renew an upstream connection slot") as cursor:
            cursor.execute(f"UPDATE connection_slots SET lease_expires_at = {_DB_NOW} + %s"
                           f" WHERE upstream = %s AND token = %s AND lease_expires_at >="
                           f" {_DB_NOW}", (self._lease, self._upstream, token))
            return cursor.rowcount == 1

    async def _release(self, token: str) -> None:
        try:
            await asyncio.to_thread(self._clear, token)
        except SpoolError:
            self._unreleased.append(token)  # until then the lease keeps the slot taken

    def _clear(self, token: str) -> None:
        with transaction(self._pool, "cannot release an upstream connection slot",
                         durable=False) as cursor:
            cursor.execute("UPDATE connection_slots SET holder = NULL, token = NULL,"
                           " lease_expires_at = NULL WHERE upstream = %s AND token = %s",
                           (self._upstream, token))
