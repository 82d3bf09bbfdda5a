"""The private PostgreSQL server fixture (cdomail.testing.postgres) and a migrated database.

Locally a missing PostgreSQL skips the tests that need it, with the reason; under ``CI=true``
it fails them (``.ci/install-interop.sh`` installs it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from cdomail.relay.config import SpoolConfig
from cdomail.testing.postgres import PrivateCluster, postgres_available
from tests.interop._programs import skip_or_fail

__all__ = ["PrivateCluster", "pg_cluster", "pg_spool_config"]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivateCluster]:
    """The session's private PostgreSQL server (skipped locally when not installed)."""
    missing = postgres_available()
    if missing is not None:
        skip_or_fail(missing)
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        skip_or_fail("psycopg is not installed: pip install 'cdomail[relay-postgres]'")
    try:
        cluster = PrivateCluster.create()
    except subprocess.CalledProcessError as error:
        pytest.fail(f"could not start a private PostgreSQL: {error.stderr!r}")
    try:
        yield cluster
    finally:
        cluster.destroy()
@pytest.fixture
def pg_spool_config(pg_cluster: PrivateCluster) -> SpoolConfig:
    """``[spool]`` for a fresh database with the current schema (migrated)."""
    from cdomail.relay.pg import migrate
    from cdomail.relay.pg._db import connect_pool

    config = SpoolConfig(url=pg_cluster.new_database(), lease_seconds=60.0)
    pool = connect_pool(config, max_size=1, application_name="test-migrate")
    try:
        migrate(pool)
    finally:
        pool.close()
    return config
