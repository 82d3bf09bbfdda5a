"""A private PostgreSQL server in a temp directory (initdb + pg_ctl), for tests and benchmarks.

Never the system cluster: its own data directory, a free loopback port and a unix socket
directory inside the temp directory. PostgreSQL refuses to run as root, so as root the
programs run as the ``postgres`` user (Debian's package creates it) through ``runuser``.
The server keeps PostgreSQL's durable defaults (``fsync``, ``synchronous_commit = on``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from cdomail.testing.ports import free_port

__all__ = ["PG_BIN", "PrivateCluster", "postgres_available"]

PG_BIN = Path(os.environ.get("CDOMAIL_PG_BIN", "/usr/lib/postgresql/15/bin"))
_names = itertools.count()


class PrivateCluster:
    """One running PostgreSQL server owned by the test session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        self.port = free_port()
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
        import psycopg  # the relay-postgres extra

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql.encode())

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)


    @classmethod
    def create(cls) -> PrivateCluster:
        """initdb and start a new server in a new temp directory (remove it with destroy)."""
        root = Path(tempfile.mkdtemp(prefix="cdomail-pg-"))
        cluster = cls(root)
        try:
            cluster.init()
            cluster.start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def postgres_available() -> str | None:
    """None when a private server can start here, else why not."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return (f"PostgreSQL is not installed ({PG_BIN}/initdb missing); run"
                " .ci/install-interop.sh (Debian: apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser (util-linux) is needed to run PostgreSQL as a non-root user"
    return None
