"""Run a real relay for a test: in a thread (in-process) or as `cdomail relay run` (subprocess)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trustme

from cdomail.relay.config import RelayConfig, SpoolConfig, parse_config
from cdomail.relay.queue import Queue, open_queue
from cdomail.relay.service import run_relay

UPSTREAM = """
[upstream]
host = "127.0.0.1"
port = 9
tls = "starttls"
"""


def spool_table(spool: Path | SpoolConfig) -> str:
    """The ``[spool]`` table for a SQLite directory or either backend's ``SpoolConfig``."""
    if isinstance(spool, SpoolConfig) and spool.url is not None:
        return f'[spool]\nurl = "{spool.url}"\n'
    path = spool.path if isinstance(spool, SpoolConfig) else spool
    return f'[spool]\npath = "{path}"\n'


def relay_toml(spool: Path | SpoolConfig, *listeners: str) -> str:
    """A relay.toml with these ``[[listen]]`` bodies, a spool (a SQLite directory, or the
    ``backend`` fixture's config), and an unused upstream."""
    tables = "".join(f"[[listen]]\n{body.strip()}\n\n" for body in listeners)
    return f"{tables}{spool_table(spool)}{UPSTREAM}"


def refuse_recipient(queue: Any, address: str) -> None:
    """Make the queue's own database refuse to store *address* (a real trigger, so the
    failure is the engine's own error, on either backend)."""
    if hasattr(queue, "_db"):  # the SQLite spool
        queue._db.execute("CREATE TRIGGER refuse BEFORE INSERT ON recipients WHEN"
                          f" NEW.address = '{address}' BEGIN SELECT RAISE(ABORT,"
                          " 'injected'); END")
        return
    with queue.pool.connection() as connection:
        connection.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF"
            f" NEW.address = '{address}' THEN RAISE EXCEPTION 'injected'; END IF;"
            " RETURN NEW; END $$")
        connection.execute("CREATE TRIGGER refuse BEFORE INSERT ON recipients"
                           " FOR EACH ROW EXECUTE FUNCTION refuse()")


def refuse_writes(queue: Any, table: str, *, events: tuple[str, ...] = ("INSERT", "UPDATE"),
                  column: str | None = None) -> Callable[[], None]:
    """Make the queue's own database refuse every write of *events* to *table* (an UPDATE
    only when it sets *column*, if given): a real trigger, so the queue fails under the
    delivery worker with the engine's own error. Returns what lifts the refusal."""
    only = f" OF {column}" if column else ""
    if hasattr(queue, "_db"):  # the SQLite spool
        names = [f"refuse_{table}_{event.lower()}" for event in events]
        for name, event in zip(names, events, strict=True):
            queue._db.execute(f"CREATE TRIGGER {name} BEFORE {event}"
                              f"{only if event == 'UPDATE' else ''} ON {table}"
                              " BEGIN SELECT RAISE(ABORT, 'injected'); END")

        def lift_sqlite() -> None:
            for name in names:
                queue._db.execute(f"DROP TRIGGER {name}")
        return lift_sqlite
    when = " OR ".join(event + (only if event == "UPDATE" else "") for event in events)
    with queue.pool.connection() as connection:
        connection.execute(f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql"
                           " AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$")
        connection.execute(f"CREATE TRIGGER refuse_{table} BEFORE {when} ON {table}"
                           f" FOR EACH ROW EXECUTE FUNCTION refuse_{table}()")

    def lift_postgresql() -> None:
        with queue.pool.connection() as connection:
            connection.execute(f"DROP TRIGGER refuse_{table} ON {table}")
            connection.execute(f"DROP FUNCTION refuse_{table}()")
    return lift_postgresql


class Certificates:
    """A private CA and a server certificate for localhost/127.0.0.1, as files."""

    def __init__(self, directory: Path) -> None:
        ca = trustme.CA()
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "cert.pem"
        self.key_path = directory / "key.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        issued = ca.issue_cert("localhost", "127.0.0.1", "::1")
        issued.cert_chain_pems[0].write_to_path(str(self.cert_path))
        for extra in issued.cert_chain_pems[1:]:
            extra.write_to_path(str(self.cert_path), append=True)
        issued.private_key_pem.write_to_path(str(self.key_path))

    def tls_lines(self, mode: str) -> str:
        return f'tls = "{mode}"\ncert = "{self.cert_path}"\nkey = "{self.key_path}"\n'


class RelayThread:
    """``run_relay`` on its own event loop in a thread; ``ports`` once it accepts."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.addresses: tuple[tuple[str, int], ...] = ()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="relay", daemon=True)
        # The relay's own queue connection (tests inject real SQLite limits into it).
        self.own_spool: Any = open_queue(config.spool)

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(addresses: tuple[tuple[str, int], ...]) -> None:
            self.addresses = addresses
            self._ready.set()

        await run_relay(self.config, stop=self._stop, on_ready=ready, spool=self.own_spool)

    def start(self) -> RelayThread:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"relay did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "relay thread did not stop"
        self.own_spool.close()
        if self._error is not None:
            raise self._error

    def spool(self) -> Queue:
        """A second connection to the relay's queue (what `relay status` would see)."""
        return open_queue(self.config.spool)


@contextmanager
def running_relay(text: str) -> Iterator[RelayThread]:
    relay = RelayThread(parse_config(text)).start()
    try:
        yield relay
    finally:
        relay.stop()


class RelayProcess:
    """`cdomail relay run --config FILE` as a child process; ``port`` from its ready line."""

    def __init__(self, config_path: Path, *, env: dict[str, str] | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        self.config_path = config_path
        command = [*prefix, sys.executable, "-m", "cdomail", "relay", "run", "--config",
                   str(config_path)]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})
        self.log: list[str] = []
        self._drainer: threading.Thread | None = None
        try:
            self.port = self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> int:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            found = re.search(r"ready: accepting on \S+:(\d+)", line)
            if found:
                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return int(found.group(1))
        raise RuntimeError("relay exited before it was ready:\n" + "".join(self.log))

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def close(self) -> None:
        """Kill the relay if it still runs and release the pipe."""
        if self.process.poll() is None:
            self.kill()
        self.process.wait(30)
        if self._drainer is not None:
            self._drainer.join(10)
        assert self.process.stderr is not None
        self.process.stderr.close()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
