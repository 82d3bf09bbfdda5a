"""The relay's durable queue: one SQLite file, ``queue.sqlite3``, under ``[spool] path``.

Durability choices (a 250 after DATA is a promise, RFC 5321 section 6.1):

- ``journal_mode=WAL`` with ``synchronous=FULL``: every commit fsyncs the write-ahead log before
  it returns. With ``synchronous=NORMAL`` a WAL database stays consistent but may lose the last
  commits on power loss, i.e. mail we already answered 250 for.
- Content is a BLOB in the same transaction as the envelope and recipients, not a separate file:
  one commit (one fsync) makes the whole message durable or leaves no trace of it, so there are
  no half-written files or orphans to sweep after a crash, and no directory fsync to forget.
  Messages are bounded by ``max_message_size`` (35 MB by default), well within SQLite's limits.

The API speaks only the types of :mod:`cdomail.relay._model`; a PostgreSQL backend can
implement the same methods. Calls are synchronous and short; the asyncio side runs them in a
thread (``asyncio.to_thread``). One connection is shared by those threads behind a lock.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, cast

from ..errors import CdoMailError
from ._model import (
    ArrivalFacts,
    AttemptRecord,
    AttemptResult,
    MessageSummary,
    QueuedMessage,
    RecipientOutcome,
    RecipientState,
)
from ._reads import QueueReads, overall_state
from ._schema import SCHEMA, SCHEMA_VERSION, UPGRADE_FROM_1

__all__ = [
    "MessageNotFound",
    "Spool",
    "SpoolError",
    "SpoolFull",
    "Submission",
    "extract_message_id",
]

SPOOL_FILENAME = "queue.sqlite3"
_NODE_KEY = "node:"
#: A node not seen for this long is shown as not alive (it heartbeats every few seconds).
_NODE_ALIVE_SECONDS = 30.0
_QUEUE_HOLD = "hold"
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class Submission(NamedTuple):
    """One message to store: the envelope, the content, and how it arrived."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes
    arrival: ArrivalFacts


class SpoolError(CdoMailError):
    """The spool could not do what was asked (the listener answers 451: nothing was kept)."""


class SpoolFull(SpoolError, OSError):
    """The disk (or the file system holding the spool) is full (the listener answers 452)."""


class MessageNotFound(SpoolError, KeyError):
    """No message with that id is in the spool."""

    def __str__(self) -> str:
        return f"no message {self.args[0]!r} in the spool"


def extract_message_id(content: bytes) -> str | None:
    """The Message-ID header of *content* (first one, unfolded), searched in the header only."""
    end = re.search(rb"\r?\n\r?\n", content)
    header = content[: end.start() + 1] if end else content
    match = _MESSAGE_ID.search(header)
    if match is None:
        return None
    value = re.sub(rb"\s+", b" ", match.group(1)).strip()
    return value.decode("utf-8", "replace") or None


class Spool(QueueReads):
    """The durable queue. Open it with :meth:`Spool.open`; close it with :meth:`close`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path
        self._node: Any = None  # the NodeIdentity of `relay run`, once registered

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Spool:
        """Open (creating if needed) the spool in directory *path*."""
        directory = Path(path)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(directory / SPOOL_FILENAME, timeout=10.0,
                                         isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise _translate(error, f"cannot open the spool in {directory}") from error
        try:
            _prepare(connection)
            _fsync_directory(directory)  # the database file's own directory entry
        except (OSError, sqlite3.Error) as error:
            connection.close()
            raise _translate(error, f"cannot open the spool in {directory}") from error
        return cls(connection, directory)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except (OSError, sqlite3.Error) as error:
                raise _translate(error, what) from error

    def _rollback(self) -> None:
        # SQLite may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR).
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection is broken; nothing was committed either way

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return cast(list[tuple[Any, ...]], self._db.execute(sql, parameters).fetchall())
            except sqlite3.Error as error:
                raise _translate(error, "cannot read the spool") from error

    # -- intake ----------------------------------------------------------------------------

    def store(self, sender: str, recipients: Sequence[str], content: bytes,
              arrival: ArrivalFacts) -> str:
        """Store one message; when this returns, it is on disk (the 250 may be sent)."""
        submission = Submission(sender, tuple(recipients), content, arrival)
        with self._transaction("cannot store the message") as db:
            return _insert(db, submission)

    def store_many(self, submissions: Sequence[Submission]) -> list[str | SpoolError]:
        """Store several messages with one commit (group commit: one fsync for all).

        Returns, in order, each message's id or the error that kept it out. When the shared
        transaction fails, each message is tried alone, so one message that does not fit (or
        breaks a constraint) cannot cost the others their place.
        """
        try:
            with self._transaction("cannot store the messages") as db:
                return [_insert(db, submission) for submission in submissions]
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

    # -- delivery --------------------------------------------------------------------------

    def due(self, now: float, limit: int) -> list[QueuedMessage]:
        """Up to *limit* messages with queued recipients whose next attempt is due, oldest first.

        Nothing is due while the whole queue is on hold (:meth:`hold_all`).
        """
        if self.queue_hold() is not None:
            return []
        rows = self._read(
            "SELECT id, sender, content, message_id_header, received_at, attempts FROM messages m"
            " WHERE held_reason IS NULL AND next_attempt_at <= ? AND EXISTS (SELECT 1 FROM"
            " recipients r WHERE r.message_id = m.id AND r.state = 'queued')"
            " ORDER BY next_attempt_at, received_at LIMIT ?", (now, limit))
        due = []
        for message_id, sender, content, header, received_at, attempts in rows:
            pending = self._read("SELECT address FROM recipients WHERE message_id = ? AND"
                                 " state = 'queued' ORDER BY position", (message_id,))
            due.append(QueuedMessage(message_id, sender, tuple(r[0] for r in pending),
                                     bytes(content), header, received_at, attempts))
        return due

    def record_attempt(self, message_id: str, attempt: AttemptRecord,
                       outcomes: Mapping[str, RecipientOutcome],
                       next_attempt_at: float | None) -> None:
        """Record one delivery attempt and what it meant for each recipient it concerned.

        ``outcomes`` maps recipient addresses to their new state; ``unknown`` (status unknown
        after the final dot) keeps the recipient queued when *next_attempt_at* is given (an
        at-least-once retry) and is final otherwise. Any recipient left queued needs a
        *next_attempt_at*. The attempt keeps every outcome, so ``show`` tells what happened.
        """
        with self._transaction("cannot record the delivery attempt") as db:
            self._require(db, message_id)
            self._record(db, message_id, attempt, outcomes, next_attempt_at)

    def record_attempts(self, results: Sequence[AttemptResult]) -> list[str]:
        """Record several attempts (one upstream connection's verdicts) in one commit.

        Each means what :meth:`record_attempt` means. A message no longer in the spool (an
        administrator deleted it meanwhile) is skipped; the skipped ids are returned.
        """
        gone: list[str] = []
        with self._transaction("cannot record the delivery attempts") as db:
            for result in results:
                if db.execute("SELECT 1 FROM messages WHERE id = ?",
                              (result.message_id,)).fetchone() is None:
                    gone.append(result.message_id)
                    continue
                self._record(db, result.message_id, result.attempt, result.outcomes,
                             result.next_attempt_at)
        return gone

    @staticmethod
    def _record(db: sqlite3.Connection, message_id: str, attempt: AttemptRecord,
                outcomes: Mapping[str, RecipientOutcome], next_attempt_at: float | None
                ) -> None:
        record_outcomes(db, "?", message_id, attempt, outcomes, next_attempt_at)
        number = db.execute("SELECT attempts + 1 FROM messages WHERE id = ?",
                            (message_id,)).fetchone()[0]
        insert_attempt(db, "?", message_id, number, attempt, outcomes,
                       _optional_int(attempt.cert_verified))
        db.execute("UPDATE messages SET attempts = ?, next_attempt_at = ?, sending = 0 WHERE"
                   " id = ?", (number, next_attempt_at, message_id))

    def mark_sending(self, message_ids: Sequence[str]) -> builtins.list[str]:
        """These messages are being handed to the upstream now (durable before a byte goes).

        :meth:`record_attempt` ends it. A message still flagged when the relay starts was on
        the wire when the last run died: :meth:`interrupted_sends` names it. Returns the ids
        marked (those still in the spool), the ones the worker may send.
        """
        marked: builtins.list[str] = []
        if not message_ids:
            return marked
        with self._transaction("cannot mark the messages being sent") as db:
            for message_id in message_ids:
                if db.execute("UPDATE messages SET sending = 1 WHERE id = ?",
                              (message_id,)).rowcount:
                    marked.append(message_id)
        return marked

    def interrupted_sends(self) -> builtins.list[str]:
        """Messages the last run handed to the upstream without recording a verdict (one
        node per SQLite spool: every flag left is that node's)."""
        return [row[0] for row in self._read(
            "SELECT id FROM messages WHERE sending = 1 ORDER BY received_at")]

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
        """Seconds since the oldest message with a queued recipient arrived (None: none)."""
        rows = self._read("SELECT min(received_at) FROM messages m WHERE EXISTS (SELECT 1 FROM"
                          " recipients r WHERE r.message_id = m.id AND r.state = 'queued')")
        oldest = rows[0][0]
        return None if oldest is None else max(0.0, now - oldest)

    def content(self, message_id: str) -> bytes:
        """The stored message as received (after bare-LF normalisation)."""
        rows = self._read("SELECT content FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise MessageNotFound(message_id)
        return bytes(rows[0][0])

    def retry(self, message_id: str, *, now: float | None = None) -> None:
        """Make the message due now (its held flag, if any, stays: release it separately)."""
        with self._transaction("cannot schedule the retry") as db:
            self._require(db, message_id)
            db.execute("UPDATE messages SET next_attempt_at = ? WHERE id = ?",
                       (time.time() if now is None else now, message_id))

    def retry_all(self, *, now: float | None = None) -> int:
        """Make every message with queued recipients due now; return how many."""
        with self._transaction("cannot schedule the retries") as db:
            return db.execute(
                "UPDATE messages SET next_attempt_at = ? WHERE EXISTS (SELECT 1 FROM recipients r"
                " WHERE r.message_id = messages.id AND r.state = 'queued')",
                (time.time() if now is None else now,)).rowcount

    def hold(self, message_id: str, reason: str) -> None:
        """Keep the message from delivery until :meth:`release`; *reason* is shown to admins."""
        self._set_held(message_id, reason or "held by an administrator")

    def release(self, message_id: str) -> None:
        self._set_held(message_id, None)

    def _set_held(self, message_id: str, reason: str | None) -> None:
        with self._transaction("cannot change the hold") as db:
            self._require(db, message_id)
            db.execute("UPDATE messages SET held_reason = ? WHERE id = ?", (reason, message_id))

    def hold_all(self, reason: str) -> None:
        """Put the whole queue on hold (the relay's own credentials were refused, say)."""
        with self._transaction("cannot hold the queue") as db:
            db.execute("INSERT OR REPLACE INTO queue_state VALUES (?, ?)",
                       (_QUEUE_HOLD, reason or "queue held"))

    def release_all(self) -> None:
        with self._transaction("cannot release the queue") as db:
            db.execute("DELETE FROM queue_state WHERE key = ?", (_QUEUE_HOLD,))

    def queue_hold(self) -> str | None:
        """The reason the whole queue is on hold, or None."""
        rows = self._read("SELECT value FROM queue_state WHERE key = ?", (_QUEUE_HOLD,))
        return str(rows[0][0]) if rows else None

    def delete(self, message_id: str) -> None:
        """Remove the message and its history for good."""
        with self._transaction("cannot delete the message") as db:
            self._require(db, message_id)
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def set_health(self, key: str, value_json: str, *, now: float | None = None) -> None:
        """Record a health fact (upstream reachability, token state, last error) as JSON."""
        json.loads(value_json)  # refuse what status could not show
        with self._transaction("cannot record health") as db:
            db.execute("INSERT OR REPLACE INTO health VALUES (?, ?, ?)",
                       (key, value_json, time.time() if now is None else now))

    def health(self) -> dict[str, Any]:
        """Every health fact: ``{key: {"value": ..., "updated_at": seconds}}``."""
        return {key: {"value": json.loads(value), "updated_at": updated_at}
                for key, value, updated_at in self._read(
                    "SELECT key, value_json, updated_at FROM health WHERE key NOT LIKE ?"
                    " ORDER BY key", (_NODE_KEY + "%",))}

    # -- the node (one: a SQLite spool belongs to one machine) -------------------------------

    def register_node(self, node: Any) -> None:
        """Note the running ``relay run`` (a :class:`cdomail.relay.queue.NodeIdentity`)."""
        self._node = node
        with self._transaction("cannot register the node") as db:
            db.execute("DELETE FROM health WHERE key LIKE ?", (_NODE_KEY + "%",))
        self.heartbeat()

    def heartbeat(self) -> int:
        """Record that the node is alive; return its in-flight count (claims need no renewal:
        one node, and a restart recovers its own in-flight messages)."""
        if self._node is None:
            return 0
        in_flight = int(self._read("SELECT count(*) FROM messages WHERE sending = 1")[0][0])
        node = self._node
        self.set_health(_NODE_KEY + node.id, json.dumps({
            "host": node.host, "pid": node.pid, "started_at": node.started_at,
            "in_flight": in_flight, "listeners": node.listeners}))
        return in_flight

    def unregister_node(self) -> None:
        if self._node is not None:
            with self._transaction("cannot unregister the node") as db:
                db.execute("DELETE FROM health WHERE key = ?", (_NODE_KEY + self._node.id,))
            self._node = None

    def nodes(self) -> builtins.list[Any]:
        """The running node, if any (:class:`cdomail.relay.queue.NodeInfo`)."""
        from .queue import NodeInfo  # queue.py imports this module

        now = time.time()
        found = []
        for key, value, updated_at in self._read(
                "SELECT key, value_json, updated_at FROM health WHERE key LIKE ?",
                (_NODE_KEY + "%",)):
            facts = json.loads(value)
            found.append(NodeInfo(key[len(_NODE_KEY):], facts["host"], facts["pid"],
                                  facts["started_at"], updated_at, facts["in_flight"],
                                  facts["listeners"], now - updated_at < _NODE_ALIVE_SECONDS))
        return found

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _require(db: sqlite3.Connection, message_id: str) -> None:
        if db.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
            raise MessageNotFound(message_id)

    def _summary(self, message_id: str) -> MessageSummary:
        rows = self._read("SELECT id, sender, received_at, attempts, next_attempt_at, size,"
                          " held_reason FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise MessageNotFound(message_id)
        mid, sender, received_at, attempts, next_at, size, held = rows[0]
        states = [row[0] for row in self._read(
            "SELECT state FROM recipients WHERE message_id = ?", (message_id,))]
        return MessageSummary(mid, sender, len(states), overall_state(states, held), received_at,
                              attempts, next_at, size, held)


def _insert(db: sqlite3.Connection, submission: Submission) -> str:
    sender, recipients, content, arrival = submission
    if not recipients:
        raise SpoolError("a message needs at least one recipient")
    message_id = uuid.uuid4().hex
    db.execute("INSERT INTO messages (id, sender, content, size, message_id_header, received_at,"
               " client_address, helo, tls_version, tls_cipher, authenticated_user,"
               " bare_lf_normalised, next_attempt_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                   message_id, sender, content, len(content), extract_message_id(content),
                   arrival.received_at, arrival.client_address, arrival.helo,
                   arrival.tls_version, arrival.tls_cipher, arrival.authenticated_user,
                   int(arrival.bare_lf_normalised), arrival.received_at))
    db.executemany("INSERT INTO recipients VALUES (?,?,?,?,NULL,?)", [
        (message_id, position, address, RecipientState.QUEUED, arrival.received_at)
        for position, address in enumerate(recipients)])
    return message_id


# -- the write side shared with the PostgreSQL queue (relay/pg/queue.py) --------------------
# Same tables on both backends; they differ in the driver's parameter mark ("?" / "%s"),
# in booleans (SQLite: 0/1) and in how the attempt number is taken.


def record_outcomes(db: Any, mark: str, message_id: str, attempt: AttemptRecord,
                    outcomes: Mapping[str, RecipientOutcome], next_attempt_at: float | None
                    ) -> None:
    """Each recipient's verdict of one attempt (``db``: an sqlite3 connection or a psycopg
    cursor). An ``unknown`` with a next attempt stays queued: it will be tried again."""
    update = ("UPDATE recipients SET state = ?, reply = ?, updated_at = ? WHERE"
              " message_id = ? AND address = ? AND state = 'queued'").replace("?", mark)
    for address, outcome in outcomes.items():
        state = outcome.state
        if state == RecipientState.UNKNOWN and next_attempt_at is not None:
            state = RecipientState.QUEUED
        db.execute(update, (state, outcome.reply, attempt.finished_at, message_id, address))
    still_queued = db.execute(
        "SELECT count(*) FROM recipients WHERE message_id = ? AND state = 'queued'".replace(
            "?", mark), (message_id,)).fetchone()[0]
    if still_queued and next_attempt_at is None:
        raise SpoolError(f"message {message_id}: {still_queued} recipient(s) stay queued"
                         " but no next attempt time was given")


def insert_attempt(db: Any, mark: str, message_id: str, number: int, attempt: AttemptRecord,
                   outcomes: Mapping[str, RecipientOutcome], cert_verified: object) -> None:
    """The attempt's row (``cert_verified`` as the backend stores a boolean)."""
    db.execute(f"INSERT INTO attempts VALUES ({','.join([mark] * 11)})", (
        message_id, number, attempt.started_at, attempt.finished_at, attempt.upstream,
        attempt.tls_version, attempt.tls_cipher, cert_verified, attempt.reply, attempt.error,
        json.dumps({a: [o.state, o.reply] for a, o in outcomes.items()})))


def _optional_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _prepare(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA busy_timeout = 10000")
    # WAL lets `relay status` read while the relay writes; FULL makes each commit durable.
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise SpoolError(f"the spool's file system does not support SQLite WAL mode ({mode})")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SpoolError(f"the spool has schema version {version}, newer than this cdomail"
                         f" ({SCHEMA_VERSION}); upgrade cdomail")
    if version == 0:
        # IF NOT EXISTS: two processes opening a new spool at once both succeed.
        connection.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
    elif version == 1:
        _upgrade_from_1(connection)


def _upgrade_from_1(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have upgraded it while this one waited for the lock.
        if connection.execute("PRAGMA user_version").fetchone()[0] == 1:
            for statement in UPGRADE_FROM_1:
                connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _translate(error: BaseException, what: str) -> SpoolError:
    if isinstance(error, SpoolError):
        return error
    full = (isinstance(error, sqlite3.Error)
            and getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL) or (
        isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT))
    if full:
        return SpoolFull(errno.ENOSPC, f"{what}: the spool's disk is full")
    return SpoolError(f"{what}: {error}")
