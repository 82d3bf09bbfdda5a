"""The spool's SQLite schema, versioned with ``PRAGMA user_version``."""

from __future__ import annotations

SCHEMA_VERSION = 2

# One row per message; the content is a BLOB in the same transaction as the envelope, so a
# message is either wholly in the spool or not at all (see spool.py for why not files).
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    content BLOB NOT NULL,
    size INTEGER NOT NULL,
    message_id_header TEXT,
    received_at REAL NOT NULL,
    client_address TEXT NOT NULL,
    helo TEXT,
    tls_version TEXT,
    tls_cipher TEXT,
    authenticated_user TEXT,
    bare_lf_normalised INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    held_reason TEXT,
    sending INTEGER NOT NULL DEFAULT 0  -- handed to the upstream, verdict not yet recorded
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (next_attempt_at) WHERE held_reason IS NULL;
CREATE INDEX IF NOT EXISTS messages_sending ON messages (received_at) WHERE sending = 1;
CREATE TABLE IF NOT EXISTS recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    reply TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (state, message_id);
CREATE TABLE IF NOT EXISTS attempts (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    upstream TEXT NOT NULL,
    tls_version TEXT,
    tls_cipher TEXT,
    cert_verified INTEGER,
    reply TEXT,
    error TEXT,
    outcomes TEXT NOT NULL,
    PRIMARY KEY (message_id, number)
);
CREATE TABLE IF NOT EXISTS health (
    key TEXT PRIMARY KEY,
    value_json TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Version 1 kept the messages on the wire as a list under the ``in_flight`` health key; version
# 2 flags them in their own row (:meth:`cdomail.relay.spool.Spool.mark_sending`). A spool a
# kill left with such a list keeps it as flags, so the restart still records ``unknown``.
UPGRADE_FROM_1 = (
    "ALTER TABLE messages ADD COLUMN sending INTEGER NOT NULL DEFAULT 0",
    "UPDATE messages SET sending = 1 WHERE id IN (SELECT value FROM health,"
    " json_each(health.value_json, '$.ids') WHERE health.key = 'in_flight')",
    "DELETE FROM health WHERE key = 'in_flight'",
    "CREATE INDEX messages_sending ON messages (received_at) WHERE sending = 1",
    "PRAGMA user_version = 2",
)
