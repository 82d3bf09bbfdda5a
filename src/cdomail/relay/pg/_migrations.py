"""The PostgreSQL queue's schema, as numbered migrations recorded in ``schema_migrations``.

``cdomail relay migrate --config relay.toml`` applies the missing steps, each in its own
transaction together with its ``schema_migrations`` row, under an advisory lock (two nodes
migrating at once wait for each other instead of failing). ``relay run`` and the admin
commands never migrate: they refuse a schema older (or newer) than this cdomail with a message
saying what to run.

A step is never edited once released; a change is a new step.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# Step 1: the single-machine spool's tables (see cdomail.relay._schema), in PostgreSQL types.
# Content is bytea in the same row and transaction as the envelope: one commit makes the whole
# message durable (docs/scaling.md says why not object storage, for max_message_size).
_STEP_1 = """
CREATE TABLE messages (
    id text PRIMARY KEY,
    sender text NOT NULL,
    content bytea NOT NULL,
    size integer NOT NULL,
    message_id_header text,
    received_at double precision NOT NULL,
    client_address text NOT NULL,
    helo text,
    tls_version text,
    tls_cipher text,
    authenticated_user text,
    bare_lf_normalised boolean NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at double precision,
    held_reason text
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE held_reason IS NULL;
CREATE INDEX messages_received ON messages (received_at);
CREATE TABLE recipients (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position integer NOT NULL,
    address text NOT NULL,
    state text NOT NULL,
    reply text,
    updated_at double precision NOT NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX recipients_state ON recipients (state, message_id);
CREATE TABLE attempts (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number integer NOT NULL,
    started_at double precision NOT NULL,
    finished_at double precision NOT NULL,
    upstream text NOT NULL,
    tls_version text,
    tls_cipher text,
    cert_verified boolean,
    reply text,
    error text,
    outcomes jsonb NOT NULL,
    PRIMARY KEY (message_id, number)
);
CREATE TABLE health (
    key text PRIMARY KEY,
    value_json text NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE queue_state (
    key text PRIMARY KEY,
    value text NOT NULL
);
"""

# Step 2: several nodes. Claims with leases on messages; the node registry; the cluster-wide
# per-upstream rate window; the shared OAuth2 token (one refresh for the cluster).
_STEP_2 = """
ALTER TABLE messages
    ADD COLUMN lease_owner text,
    ADD COLUMN lease_expires_at double precision,
    ADD COLUMN sending boolean NOT NULL DEFAULT false;
CREATE INDEX messages_leased ON messages (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX messages_lease_expiry ON messages (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
CREATE TABLE nodes (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at double precision NOT NULL,
    last_seen double precision NOT NULL,
    in_flight integer NOT NULL DEFAULT 0,
    listeners text NOT NULL DEFAULT ''
);
CREATE TABLE rate_slots (
    id bigserial PRIMARY KEY,
    upstream text NOT NULL,
    stamped_at double precision NOT NULL
);
CREATE INDEX rate_slots_window ON rate_slots (upstream, stamped_at);
CREATE TABLE oauth2_tokens (
    token_url text NOT NULL,
    client_id text NOT NULL,
    access_token text,
    expires_at double precision,
    refresh_at double precision,
    refresh_token text,
    updated_at double precision NOT NULL,
    PRIMARY KEY (token_url, client_id)
);
"""

# Step 3: the cluster's upstream connection slots as rows with a lease (they replace session
# advisory locks, which a database restart released under connections still open; see
# cdomail.relay.pg.slots). A row per (upstream account, slot number), made on first use.
_STEP_3 = """
CREATE TABLE connection_slots (
    upstream text NOT NULL,
    slot integer NOT NULL,
    holder text,
    token text,
    lease_expires_at double precision,
    PRIMARY KEY (upstream, slot)
);
"""

#: (version, what it does, SQL), in order. The newest version is the one this code needs.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (1, "messages, recipients, attempts, health, queue_state", _STEP_1),
    (2, "leases, node registry, cluster rate window, shared OAuth2 token", _STEP_2),
    (3, "upstream connection slots with leases", _STEP_3),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]

CREATE_MIGRATIONS_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
