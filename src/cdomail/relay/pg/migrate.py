"""``cdomail relay migrate``: bring the PostgreSQL queue's schema to this cdomail's version."""

from __future__ import annotations

import psycopg

from ..spool import SpoolError
from ._db import ConnectionPool, transaction, translate
from ._migrations import CREATE_MIGRATIONS_TABLE, MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "applied_version", "check_schema", "migrate"]

# pg_advisory_xact_lock key: "cdomail migrate" (any constant; only this code takes it).
_MIGRATE_LOCK = 0x63646F6D6967


def applied_version(pool: ConnectionPool) -> int:
    """The highest migration applied (0: an empty database)."""
    with transaction(pool, "cannot read the queue's schema version") as cursor:
        cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = cursor.fetchone()
        if row is None or not row[0]:
            return 0
        cursor.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        row = cursor.fetchone()
        return 0 if row is None else int(row[0])


def check_schema(pool: ConnectionPool) -> None:
    """Refuse a database whose schema is not exactly this cdomail's, saying what to do."""
    version = applied_version(pool)
    if version < SCHEMA_VERSION:
        raise SpoolError(
            f"the PostgreSQL queue has schema version {version}, older than this cdomail"
            f" ({SCHEMA_VERSION}): run `cdomail relay migrate --config FILE` first")
    if version > SCHEMA_VERSION:
        raise SpoolError(
            f"the PostgreSQL queue has schema version {version}, newer than this cdomail"
            f" ({SCHEMA_VERSION}); upgrade cdomail on this node")


def migrate(pool: ConnectionPool, *, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing steps up to *target*; return the versions applied now.

    Each step and its ``schema_migrations`` row commit together (PostgreSQL DDL is
    transactional), so a failure leaves the previous version intact.
    """
    applied: list[int] = []
    for version, description, sql in MIGRATIONS:
        if version > target:
            break
        with transaction(pool, f"cannot apply migration {version}") as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            cursor.execute(CREATE_MIGRATIONS_TABLE)
            cursor.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
            if cursor.fetchone() is not None:
                continue
            try:
                cursor.execute(sql.encode())  # several statements: no parameters
            except psycopg.Error as error:
                raise translate(error, f"migration {version} ({description}) failed") from error
            cursor.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                           (version, description))
            applied.append(version)
    return applied
