"""The relay's PostgreSQL queue: several ``relay run`` nodes sharing one database.

Needs the ``relay-postgres`` extra (psycopg 3 and psycopg-pool). See docs/scaling.md.
"""

from __future__ import annotations

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the install
    from ...errors import ConfigurationError

    raise ConfigurationError(
        f"[spool] url needs PostgreSQL support ({missing.name} is not installed):"
        " pip install 'cdomail[relay-postgres]'", field="url") from None

from .migrate import SCHEMA_VERSION, applied_version, check_schema, migrate
from .queue import PostgresQueue

__all__ = ["SCHEMA_VERSION", "PostgresQueue", "applied_version", "check_schema", "migrate"]
