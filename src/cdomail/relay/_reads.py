"""The queue's read side, written once for both backends (SQLite spool and PostgreSQL).

The two stores keep the same tables; they differ only in the parameter mark (``?`` for
sqlite3, ``%s`` for psycopg), in how a JSON column comes back (text from SQLite, already
decoded from PostgreSQL) and in booleans (SQLite stores 0/1). A backend sets :attr:`MARK`,
implements ``_read`` and ``_summary``, and inherits ``list`` and ``show``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from ._model import (
    ArrivalFacts,
    AttemptRecord,
    MessageDetail,
    MessageSummary,
    RecipientDetail,
    RecipientOutcome,
    RecipientState,
    RecipientStateName,
)

__all__ = ["QueueReads", "overall_state"]


def overall_state(states: Sequence[str], held_reason: str | None) -> str:
    """One word for a message: held, queued, or its recipients' final states joined by '+'."""
    if RecipientState.QUEUED in states:
        return RecipientState.HELD if held_reason is not None else RecipientState.QUEUED
    return "+".join(sorted(set(states)))


class QueueReads:
    """``list`` and ``show`` over the shared schema."""

    #: The DB-API parameter mark of the backend's driver.
    MARK = "?"

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _summary(self, message_id: str) -> MessageSummary:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.MARK)

    def list(self, state: str | None = None, limit: int = 100) -> list[MessageSummary]:
        """Messages, newest first; *state* keeps those with a recipient in that state
        (``held``: held messages)."""
        parameters: tuple[str, ...] = ()
        if state == RecipientState.HELD:
            where = "WHERE held_reason IS NOT NULL"
        elif state is not None:
            where = ("WHERE EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND"
                     " r.state = ?)")
            parameters = (state,)
        else:
            where = ""
        rows = self._read(self._sql(f"SELECT id FROM messages m {where} ORDER BY received_at"
                                    " DESC, id LIMIT ?"), (*parameters, limit))
        return [self._summary(row[0]) for row in rows]

    def show(self, message_id: str) -> MessageDetail:
        """Everything known about one message: arrival, recipients, every attempt."""
        summary = self._summary(message_id)  # raises MessageNotFound
        (header, received_at, client, helo, tls_version, tls_cipher, user, bare_lf), = self._read(
            self._sql("SELECT message_id_header, received_at, client_address, helo, tls_version,"
                      " tls_cipher, authenticated_user, bare_lf_normalised FROM messages"
                      " WHERE id = ?"), (message_id,))
        arrival = ArrivalFacts(client, helo, tls_version, tls_cipher, user, received_at,
                               bool(bare_lf))
        recipients = tuple(
            RecipientDetail(address, cast(RecipientStateName, state), reply, updated_at)
            for address, state, reply, updated_at in self._read(
                self._sql("SELECT address, state, reply, updated_at FROM recipients"
                          " WHERE message_id = ? ORDER BY position"), (message_id,)))
        attempts, outcomes = [], []
        for row in self._read(self._sql(
                "SELECT started_at, finished_at, upstream, tls_version, tls_cipher,"
                " cert_verified, reply, error, outcomes FROM attempts WHERE message_id = ?"
                " ORDER BY number"), (message_id,)):
            *fields, recorded = row
            verified = fields[5]
            fields[5] = None if verified is None else bool(verified)
            attempts.append(AttemptRecord(*fields))
            decoded = json.loads(recorded) if isinstance(recorded, str | bytes) else recorded
            outcomes.append({address: RecipientOutcome(state, reply)
                             for address, (state, reply) in decoded.items()})
        return MessageDetail(summary, header, arrival, recipients, tuple(attempts),
                             tuple(outcomes))
