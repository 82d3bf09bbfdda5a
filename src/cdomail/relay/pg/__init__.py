"""The relay's PostgreSQL queue: several ``relay run`` nodes sharing one database.

Needs the ``relay-postgres`` extra (psycopg 3 and psycopg-pool). See docs/scaling.md.
"""

from __future__ import annotations

from ..._extras import require

require("relay-postgres", "psycopg", "psycopg_pool", part="relay's PostgreSQL queue")

from .migrate import SCHEMA_VERSION, applied_version, check_schema, migrate  # noqa: E402
from .queue import PostgresQueue  # noqa: E402

__all__ = ["SCHEMA_VERSION", "PostgresQueue", "applied_version", "check_schema", "migrate"]
