"""The relay's queue in PostgreSQL, shared by every ``relay run`` node (``[spool] url``).

Same API and the same meaning as the SQLite spool (one parametrised test suite holds both to
it), plus what several nodes need (see :mod:`cdomail.relay.queue`):

- :meth:`PostgresQueue.due` claims: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks messages no
  live node holds, and sets ``lease_owner`` / ``lease_expires_at`` (database clock, so nodes'
  clocks need not agree). A node sees again what it holds itself, as the SQLite spool does.
- :meth:`PostgresQueue.mark_sending` (the messages handed to a connection) sets the
  ``sending`` flag of this node's claims; :meth:`record_attempt` clears it. When a lease
  expires (its node died or lost the database for a whole lease time), the next claim takes
  the message over: a message that was ``sending`` gets an ``unknown`` attempt recorded (the
  upstream may have it) and, with ``at_least_once``, is delivered again; one that was not is
  simply released.
- :meth:`heartbeat` renews the node's leases and its row in ``nodes``.

Which commits wait for the disk: a store (the 250 depends on it) and the ``sending`` flags
(they decide whether a takeover records ``unknown``). Claims, attempt records, heartbeats and
health facts commit without waiting (``synchronous_commit = off`` for that transaction): if
the database server crashes and loses one, the message is still claimed-and-``sending`` (or
simply unclaimed) as of the last durable commit, so the takeover records ``unknown`` and
delivers again: a duplicate is still on record, never a silent one, and nothing is lost.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import psycopg

from .._model import (
    ArrivalFacts,
    AttemptRecord,
    AttemptResult,
    MessageSummary,
    QueuedMessage,
    RecipientOutcome,
    RecipientState,
)
from .._reads import QueueReads, overall_state
from ..config import SpoolConfig
from ..queue import NodeIdentity, NodeInfo
from ..spool import (
    MessageNotFound,
    SpoolError,
    Submission,
    extract_message_id,
    insert_attempt,
    record_outcomes,
)
from ._db import ConnectionPool, connect_pool, transaction
from .migrate import check_schema

__all__ = ["PostgresQueue"]

_QUEUE_HOLD = "hold"
_DB_NOW = "extract(epoch from clock_timestamp())::float8"
#: Expired leases looked at per claim (the rest wait for the next one).
_TAKEOVER_BATCH = 200
#: Node rows not seen for this long are dropped from the registry.
_FORGET_NODE_AFTER = 86400.0
_TAKEN_OVER = ("status unknown: node {owner} stopped renewing its lease after handing the"
               " message to the upstream and before recording the verdict")


class PostgresQueue(QueueReads):
    """The shared queue. Open with :meth:`open`; :meth:`close` when done."""

    MARK = "%s"  # psycopg's parameter mark (QueueReads writes its SQL with "?")

    def __init__(self, pool: ConnectionPool, *, lease_seconds: float, at_least_once: bool,
                 upstream: str = "") -> None:
        self._pool = pool
        self.lease_seconds = lease_seconds
        self.at_least_once = at_least_once
        self.upstream = upstream
        # The claim owner: a per-instance id until `relay run` registers its node.
        self.owner = f"anonymous-{uuid.uuid4().hex[:12]}"
        self._node: NodeIdentity | None = None

    @classmethod
    def open(cls, spool: SpoolConfig, *, at_least_once: bool = True, upstream: str = "",
             pool_size: int = 8) -> PostgresQueue:
        """Connect to ``[spool] url`` and check its schema (``relay migrate`` makes it)."""
        pool = connect_pool(spool, max_size=pool_size, application_name="cdomail-relay")
        try:
            check_schema(pool)
            with transaction(pool, "cannot read the server's settings") as cursor:
                cursor.execute("SHOW synchronous_commit")
                setting = cast(tuple[str], cursor.fetchone())[0]
        except BaseException:
            pool.close()
            raise
        if setting == "off":
            pool.close()
            raise SpoolError("the queue database has synchronous_commit = off: a crash could"
                             " lose mail already answered 250; set it to on (the default)")
        return cls(pool, lease_seconds=spool.lease_seconds, at_least_once=at_least_once,
                   upstream=upstream)

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (the cluster limits and the token store share it)."""
        return self._pool

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
              ) -> list[tuple[Any, ...]]:
        with transaction(self._pool, "cannot read the queue") as cursor:
            cursor.execute(sql.encode(), parameters)
            return cursor.fetchall()

    # -- intake ----------------------------------------------------------------------------

    def store(self, sender: str, recipients: Sequence[str], content: bytes,
              arrival: ArrivalFacts) -> str:
        """Store one message; when this returns, PostgreSQL committed it (the 250 may go)."""
        with transaction(self._pool, "cannot store the message") as cursor:
            return _insert_many(cursor, [Submission(sender, tuple(recipients), content,
                                                    arrival)])[0]

    def store_many(self, submissions: Sequence[Submission]) -> list[str | SpoolError]:
        """Several messages in one commit; on failure each is tried alone (as the spool)."""
        try:
            with transaction(self._pool, "cannot store the messages") as cursor:
                return list(_insert_many(cursor, submissions))
        except SpoolError:
            if len(submissions) == 1:
                raise
        results: list[str | SpoolError] = []
        for submission in submissions:
            try:
                results.append(self.store(*submission))
            except SpoolError as error:
                results.append(error)
        return results

    # -- delivery: claims --------------------------------------------------------------------

    def due(self, now: float, limit: int) -> list[QueuedMessage]:
        """Claim up to *limit* due messages for this node (expired leases taken over first)."""
        if self.queue_hold() is not None:
            return []
        with transaction(self._pool, "cannot claim due messages", durable=False) as cursor:
            self._take_over_expired(cursor, now)
            cursor.execute(
                "SELECT id, sender, content, message_id_header, received_at, attempts"
                " FROM messages m WHERE held_reason IS NULL AND next_attempt_at <= %s"
                f" AND (lease_owner IS NULL OR lease_owner = %s OR lease_expires_at < {_DB_NOW})"
                " AND EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND"
                " r.state = 'queued') ORDER BY next_attempt_at, received_at LIMIT %s"
                " FOR UPDATE SKIP LOCKED", (now, self.owner, limit))
            rows = cursor.fetchall()
            if not rows:
                return []
            ids = [row[0] for row in rows]
            cursor.execute(f"UPDATE messages SET lease_owner = %s, lease_expires_at = {_DB_NOW}"
                           " + %s WHERE id = ANY(%s)", (self.owner, self.lease_seconds, ids))
            cursor.execute("SELECT message_id, address FROM recipients WHERE message_id ="
                           " ANY(%s) AND state = 'queued' ORDER BY message_id, position", (ids,))
            pending: dict[str, list[str]] = {}
            for message_id, address in cursor.fetchall():
                pending.setdefault(message_id, []).append(address)
        return [QueuedMessage(mid, sender, tuple(pending.get(mid, ())), bytes(content), header,
                              received_at, attempts)
                for mid, sender, content, header, received_at, attempts in rows]

    def _take_over_expired(self, cursor: psycopg.Cursor[Any], now: float) -> None:
        cursor.execute(
            f"SELECT id, lease_owner, sending FROM messages WHERE lease_expires_at < {_DB_NOW}"
            " AND lease_owner <> %s ORDER BY lease_expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (self.owner, _TAKEOVER_BATCH))
        for message_id, owner, sending in cursor.fetchall():
            if sending:
                self._record_unknown(cursor, message_id, owner, now)
            cursor.execute("UPDATE messages SET lease_owner = NULL, lease_expires_at = NULL,"
                           " sending = false WHERE id = %s", (message_id,))

    def _record_unknown(self, cursor: psycopg.Cursor[Any], message_id: str, owner: str,
                        now: float) -> None:
        cursor.execute("SELECT address FROM recipients WHERE message_id = %s AND state ="
                       " 'queued'", (message_id,))
        pending = [row[0] for row in cursor.fetchall()]
        if not pending:
            return
        reason = _TAKEN_OVER.format(owner=owner)
        attempt = AttemptRecord(started_at=now, finished_at=now,
                                upstream=self.upstream or "upstream", error=reason)
        outcome = RecipientOutcome(RecipientState.UNKNOWN, reason)
        _record(cursor, message_id, attempt, dict.fromkeys(pending, outcome),
                now if self.at_least_once else None)

    def record_attempt(self, message_id: str, attempt: AttemptRecord,
                       outcomes: Mapping[str, RecipientOutcome],
                       next_attempt_at: float | None) -> None:
        """Record one attempt (as the SQLite spool does) and end this node's claim on it."""
        with transaction(self._pool, "cannot record the delivery attempt",
                         durable=False) as cursor:
            _require(cursor, message_id)
            self._record_and_release(cursor, message_id, attempt, outcomes, next_attempt_at)

    def record_attempts(self, results: Sequence[AttemptResult]) -> list[str]:
        """Several attempts (one upstream connection's verdicts) in one commit; a message no
        longer in the queue (deleted meanwhile) is skipped and its id returned.

        One commit instead of one per message is as truthful: until it commits, every one of
        these messages is still flagged ``sending`` (durably, before it went), so a crash
        before the commit has each of them recorded ``unknown`` and delivered again (a
        duplicate on record), never a verdict lost or a delivery taken for a failure.
        """
        if not results:
            return []
        with transaction(self._pool, "cannot record the delivery attempts",
                         durable=False) as cursor:
            cursor.execute("SELECT id FROM messages WHERE id = ANY(%s)",
                           ([result.message_id for result in results],))
            present = {row[0] for row in cursor.fetchall()}
            for result in results:
                if result.message_id in present:
                    self._record_and_release(cursor, result.message_id, result.attempt,
                                             result.outcomes, result.next_attempt_at)
        return [result.message_id for result in results if result.message_id not in present]

    def _record_and_release(self, cursor: psycopg.Cursor[Any], message_id: str,
                            attempt: AttemptRecord, outcomes: Mapping[str, RecipientOutcome],
                            next_attempt_at: float | None) -> None:
        _record(cursor, message_id, attempt, outcomes, next_attempt_at)
        cursor.execute("UPDATE messages SET lease_owner = NULL, lease_expires_at = NULL,"
                       " sending = false WHERE id = %s AND lease_owner = %s",
                       (message_id, self.owner))

    def mark_sending(self, message_ids: Sequence[str]) -> list[str]:
        """These claims are being handed to the upstream now: a takeover records ``unknown``.

        Durable (the takeover's judgement depends on it); :meth:`record_attempt` ends it.
        Returns the ids still claimed by this node, the only ones it may send: a claim whose
        lease expired while it waited here (another node took it over, unflagged, and may
        be delivering it) is no longer this node's to send.
        """
        if not message_ids:
            return []
        with transaction(self._pool, "cannot mark the messages being sent") as cursor:
            cursor.execute("UPDATE messages SET sending = true WHERE id = ANY(%s) AND"
                           " lease_owner = %s RETURNING id", (list(message_ids), self.owner))
            marked = {row[0] for row in cursor.fetchall()}
        return [message_id for message_id in message_ids if message_id in marked]

    def interrupted_sends(self) -> list[str]:
        """This node's claims still flagged ``sending``, when its delivery worker (re)starts.

        A restarted process is a new node and holds nothing: what its previous run left on
        the wire is recorded ``unknown`` by whichever node takes the expired claims over. A
        worker restarted inside a running node (the queue failed under it, or a connection
        slot's lease ran out and cut a connection) finds here the messages it had handed to
        the upstream without a verdict recorded; the worker records them ``unknown`` before
        claiming anything (otherwise its next claim would send them again without a word).
        """
        rows = self._read("SELECT id FROM messages WHERE lease_owner = %s AND sending ORDER BY"
                          " id", (self.owner,))
        return [row[0] for row in rows]

    # -- nodes -----------------------------------------------------------------------------

    def register_node(self, node: NodeIdentity) -> None:
        """From now on this queue claims as *node*, and :meth:`heartbeat` keeps it listed."""
        self._node = node
        self.owner = node.id
        self.heartbeat()

    def heartbeat(self) -> int:
        """Renew this node's leases and registry row; return how many messages it holds."""
        with transaction(self._pool, "cannot renew the node's leases", durable=False) as cursor:
            cursor.execute(f"UPDATE messages SET lease_expires_at = {_DB_NOW} + %s WHERE"
                           " lease_owner = %s", (self.lease_seconds, self.owner))
            held = cursor.rowcount
            node = self._node
            if node is not None:
                cursor.execute(
                    "INSERT INTO nodes (id, host, pid, started_at, last_seen, in_flight,"
                    f" listeners) VALUES (%s, %s, %s, %s, {_DB_NOW}, %s, %s) ON CONFLICT (id)"
                    " DO UPDATE SET last_seen = excluded.last_seen, in_flight ="
                    " excluded.in_flight",
                    (node.id, node.host, node.pid, node.started_at, held, node.listeners))
                cursor.execute(f"DELETE FROM nodes WHERE last_seen < {_DB_NOW} - %s",
                               (_FORGET_NODE_AFTER,))
        return held

    def unregister_node(self) -> None:
        """A clean stop: give back the claims (not ``sending``: none is on the wire now)."""
        with transaction(self._pool, "cannot unregister the node") as cursor:
            cursor.execute("UPDATE messages SET lease_owner = NULL, lease_expires_at = NULL"
                           " WHERE lease_owner = %s AND NOT sending", (self.owner,))
            cursor.execute("DELETE FROM nodes WHERE id = %s", (self.owner,))
        self._node = None

    def nodes(self) -> list[NodeInfo]:
        """Every node seen in the last day; ``alive``: seen within one lease time."""
        return [NodeInfo(node_id, host, pid, started, seen, in_flight, listeners,
                         bool(alive))
                for node_id, host, pid, started, seen, in_flight, listeners, alive in self._read(
                    "SELECT id, host, pid, started_at, last_seen, in_flight, listeners,"
                    f" last_seen > {_DB_NOW} - %s FROM nodes ORDER BY started_at, id",
                    (self.lease_seconds,))]

    # -- administration --------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Recipients by state; queued recipients of held messages count as ``held``."""
        counts = dict.fromkeys((RecipientState.QUEUED, RecipientState.HELD,
                                RecipientState.DELIVERED, RecipientState.BOUNCED,
                                RecipientState.EXPIRED, RecipientState.UNKNOWN), 0)
        for state, held, number in self._read(
                "SELECT r.state, m.held_reason IS NOT NULL, count(*) FROM recipients r JOIN"
                " messages m ON m.id = r.message_id GROUP BY r.state, 2"):
            key = RecipientState.HELD if held and state == RecipientState.QUEUED else state
            counts[key] = counts.get(key, 0) + number
        return counts

    def oldest_queued_age(self, now: float) -> float | None:
        rows = self._read("SELECT min(received_at) FROM messages m WHERE EXISTS (SELECT 1 FROM"
                          " recipients r WHERE r.message_id = m.id AND r.state = 'queued')")
        oldest = rows[0][0]
        return None if oldest is None else max(0.0, now - oldest)

    def content(self, message_id: str) -> bytes:
        rows = self._read("SELECT content FROM messages WHERE id = %s", (message_id,))
        if not rows:
            raise MessageNotFound(message_id)
        return bytes(rows[0][0])

    def retry(self, message_id: str, *, now: float | None = None) -> None:
        with transaction(self._pool, "cannot schedule the retry") as cursor:
            _require(cursor, message_id)
            cursor.execute("UPDATE messages SET next_attempt_at = %s WHERE id = %s",
                           (time.time() if now is None else now, message_id))

    def retry_all(self, *, now: float | None = None) -> int:
        with transaction(self._pool, "cannot schedule the retries") as cursor:
            cursor.execute(
                "UPDATE messages SET next_attempt_at = %s WHERE EXISTS (SELECT 1 FROM recipients"
                " r WHERE r.message_id = messages.id AND r.state = 'queued')",
                (time.time() if now is None else now,))
            return cursor.rowcount

    def hold(self, message_id: str, reason: str) -> None:
        self._set_held(message_id, reason or "held by an administrator")

    def release(self, message_id: str) -> None:
        self._set_held(message_id, None)

    def _set_held(self, message_id: str, reason: str | None) -> None:
        with transaction(self._pool, "cannot change the hold") as cursor:
            _require(cursor, message_id)
            cursor.execute("UPDATE messages SET held_reason = %s WHERE id = %s",
                           (reason, message_id))

    def hold_all(self, reason: str) -> None:
        with transaction(self._pool, "cannot hold the queue") as cursor:
            cursor.execute("INSERT INTO queue_state VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
                           " SET value = excluded.value", (_QUEUE_HOLD, reason or "queue held"))

    def release_all(self) -> None:
        with transaction(self._pool, "cannot release the queue") as cursor:
            cursor.execute("DELETE FROM queue_state WHERE key = %s", (_QUEUE_HOLD,))

    def queue_hold(self) -> str | None:
        rows = self._read("SELECT value FROM queue_state WHERE key = %s", (_QUEUE_HOLD,))
        return str(rows[0][0]) if rows else None

    def delete(self, message_id: str) -> None:
        with transaction(self._pool, "cannot delete the message") as cursor:
            _require(cursor, message_id)
            cursor.execute("DELETE FROM messages WHERE id = %s", (message_id,))

    def set_health(self, key: str, value_json: str, *, now: float | None = None) -> None:
        """Record a health fact (upstream reachability, token state, last error) as JSON."""
        json.loads(value_json)  # refuse what status could not show
        with transaction(self._pool, "cannot record health", durable=False) as cursor:
            cursor.execute("INSERT INTO health VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE"
                           " SET value_json = excluded.value_json, updated_at ="
                           " excluded.updated_at",
                           (key, value_json, time.time() if now is None else now))

    def health(self) -> dict[str, Any]:
        return {key: {"value": json.loads(value), "updated_at": updated_at}
                for key, value, updated_at in self._read(
                    "SELECT key, value_json, updated_at FROM health ORDER BY key")}

    def _summary(self, message_id: str) -> MessageSummary:
        rows = self._read("SELECT id, sender, received_at, attempts, next_attempt_at, size,"
                          " held_reason, (SELECT array_agg(state) FROM recipients WHERE"
                          " message_id = m.id) FROM messages m WHERE id = %s", (message_id,))
        if not rows:
            raise MessageNotFound(message_id)
        mid, sender, received_at, attempts, next_at, size, held, states = rows[0]
        states = states or []
        return MessageSummary(mid, sender, len(states), overall_state(states, held), received_at,
                              attempts, next_at, size, held)


def _insert_many(cursor: psycopg.Cursor[Any], submissions: Sequence[Submission]) -> list[str]:
    """Insert the messages and their recipients (two pipelined statements for the batch)."""
    if any(not submission.recipients for submission in submissions):
        raise SpoolError("a message needs at least one recipient")
    ids = [uuid.uuid4().hex for _ in submissions]
    cursor.executemany(
        "INSERT INTO messages (id, sender, content, size, message_id_header, received_at,"
        " client_address, helo, tls_version, tls_cipher, authenticated_user,"
        " bare_lf_normalised, next_attempt_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        [(message_id, sender, content, len(content), extract_message_id(content),
          arrival.received_at, arrival.client_address, arrival.helo, arrival.tls_version,
          arrival.tls_cipher, arrival.authenticated_user, arrival.bare_lf_normalised,
          arrival.received_at)
         for message_id, (sender, _, content, arrival) in zip(ids, submissions, strict=True)])
    cursor.executemany(
        "INSERT INTO recipients VALUES (%s, %s, %s, %s, NULL, %s)",
        [(message_id, position, address, RecipientState.QUEUED, submission.arrival.received_at)
         for message_id, submission in zip(ids, submissions, strict=True)
         for position, address in enumerate(submission.recipients)])
    return ids


def _record(cursor: psycopg.Cursor[Any], message_id: str, attempt: AttemptRecord,
            outcomes: Mapping[str, RecipientOutcome], next_attempt_at: float | None) -> None:
    """The SQLite spool's record_attempt: the same statements (spool.py), with the attempt
    number taken by the UPDATE itself (the row stays locked until the commit)."""
    record_outcomes(cursor, "%s", message_id, attempt, outcomes, next_attempt_at)
    cursor.execute("UPDATE messages SET attempts = attempts + 1, next_attempt_at = %s WHERE id"
                   " = %s RETURNING attempts", (next_attempt_at, message_id))
    number = cast(tuple[int], cursor.fetchone())[0]
    insert_attempt(cursor, "%s", message_id, number, attempt, outcomes, attempt.cert_verified)


def _require(cursor: psycopg.Cursor[Any], message_id: str) -> None:
    cursor.execute("SELECT 1 FROM messages WHERE id = %s", (message_id,))
    if cursor.fetchone() is None:
        raise MessageNotFound(message_id)
