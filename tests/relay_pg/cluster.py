"""A private PostgreSQL cluster for the tests: initdb + pg_ctl in a temp directory.

Never the system cluster: its own data directory, a free loopback port and a unix socket
directory inside the temp directory. PostgreSQL refuses to run as root, so as root the
programs run as the ``postgres`` user (Debian's package creates it) through ``runuser``.
Locally a missing PostgreSQL skips the tests that need it, with the reason; under ``CI=true``
it fails them (``.ci/install-interop.sh`` installs it).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdomail.relay.config import SpoolConfig
from tests.interop._programs import skip_or_fail

__all__ = ["PrivateCluster", "pg_cluster", "pg_spool_config"]

PG_BIN = Path(os.environ.get("CDOMAIL_PG_BIN", "/usr/lib/postgresql/15/bin"))
_names = itertools.count()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """One running PostgreSQL server owned by the test session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
        self.sockets.mkdir()
        if self._as_user:
            os.chown(self.sockets, pwd.getpwnam("postgres").pw_uid, -1)

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run([*self._as_user, str(PG_BIN / program), *arguments], check=True,
                       capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "cdomail", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets}"
                   " -c max_connections=300 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://cdomail@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql.encode())

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivateCluster]:
    """The session's private PostgreSQL server (skipped locally when not installed)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        skip_or_fail(f"PostgreSQL is not installed ({PG_BIN}/initdb missing); run"
                     " .ci/install-interop.sh (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        skip_or_fail("psycopg is not installed: pip install 'cdomail[relay-postgres]'")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        skip_or_fail("runuser (util-linux) is needed to run PostgreSQL as a non-root user")
    root = Path(tempfile.mkdtemp(prefix="cdomail-pg-"))
    cluster = PrivateCluster(root)
    try:
        cluster.init()
        cluster.start()
    except subprocess.CalledProcessError as error:
        log = cluster.log.read_text(errors="replace") if cluster.log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start a private PostgreSQL: {error.stderr!r} {log}")
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


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
