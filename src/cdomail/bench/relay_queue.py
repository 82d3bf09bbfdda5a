"""``python -m cdomail.bench.relay_queue``: the relay's two queue backends side by side.

In one run, on loopback: ``smtp-source`` -> ``cdomail relay run`` -> ``smtp-sink`` for

* one node on the SQLite spool (``[spool] path``),
* one node on a PostgreSQL queue (a private server started here: initdb + pg_ctl, durable
  defaults), and
* three nodes sharing that PostgreSQL queue (the messages split over their three listeners),

and prints the accept rate (messages / time until smtp-source had every 250), the end-to-end
rate (messages / time until the sink counted every one: the delivery rate the whole pipeline
sustains) and, for PostgreSQL, the database transactions committed per message. docs/scaling.md
keeps the numbers of one run. Needs Postfix's ``smtp-source``/``smtp-sink`` and PostgreSQL 15.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from cdomail.bench._contestants import Endpoint, make_messages, run_smtp_source
from cdomail.bench._sink import PostfixToolMissing, SmtpSink
from cdomail.bench.relay import relay_node

__all__ = ["QueueMeasurement", "main"]



@dataclass
class QueueMeasurement:
    name: str
    messages: int
    intake_seconds: float = 0.0
    seconds: float = 0.0
    commits: int | None = None
    wal_syncs: int | None = None
    error: str | None = None

    def line(self) -> str:
        if self.error is not None:
            return f"{self.name:<26} {self.messages:>8}  did not run: {self.error}"
        commits = "-" if self.commits is None else f"{self.commits / self.messages:.2f}"
        syncs = "-" if self.wal_syncs is None else f"{self.wal_syncs / self.messages:.3f}"
        return (f"{self.name:<26} {self.messages:>8} {self.messages / self.intake_seconds:>10.0f}"
                f" {self.messages / self.seconds:>12.0f} {commits:>15} {syncs:>15}")

def _config(path: Path, spool: str, sink: SmtpSink, concurrency: int) -> Path:
    path.write_text(
        f'[[listen]]\naddress = "127.0.0.1:0"\n\n[spool]\n{spool}\n\n'
        f'[upstream]\nhost = "{sink.host}"\nport = {sink.port}\ntls = "none"\n'
        f"allow_plaintext = true\n\n[delivery]\nconcurrency = {concurrency}\n")
    return path


def _run(sink: SmtpSink, entries: Sequence[Endpoint], count: int, sessions: int,
         timeout: float) -> tuple[float, float]:
    """smtp-source into every entry at once (count split evenly); (intake s, end-to-end s)."""
    before = sink.messages_received()
    share = count // len(entries)
    intakes: list[float] = []
    start = time.perf_counter()
    threads = [threading.Thread(target=lambda e=entry: intakes.append(
        run_smtp_source(e, make_messages(1) * share, sessions))) for entry in entries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    intake = time.perf_counter() - start
    if len(intakes) != len(entries):
        raise RuntimeError("smtp-source failed")
    reached = sink.wait_for_messages(before + share * len(entries), timeout=timeout)
    if reached < before + share * len(entries):
        raise RuntimeError(f"the sink got {reached - before} of {share * len(entries)}")
    return intake, time.perf_counter() - start


def _counters(url: str) -> tuple[int, int]:
    """(transactions committed in this database, WAL fsyncs of the whole server)."""
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname"
                                 " = current_database()), (SELECT wal_sync FROM pg_stat_wal)"
                                 ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _measure(name: str, configs: Sequence[Path], sink: SmtpSink, count: int, sessions: int,
             timeout: float, url: str | None) -> QueueMeasurement:
    result = QueueMeasurement(name, count - count % len(configs))
    try:
        with ExitStack() as nodes:
            entries = [nodes.enter_context(relay_node(config)) for config in configs]
            time.sleep(1.0)  # let the nodes settle (first heartbeat, pools filled)
            before = None if url is None else _counters(url)
            result.intake_seconds, result.seconds = _run(sink, entries, count, sessions,
                                                         timeout)
            if url is not None and before is not None:
                # pg_stat_database lags by up to PGSTAT_MIN_INTERVAL (1 s) in PostgreSQL 15.
                time.sleep(1.5)
                after = _counters(url)
                result.commits, result.wal_syncs = after[0] - before[0], after[1] - before[1]
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        result.error = str(error)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdomail.bench.relay_queue",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000, help="messages per setup (3000)")
    parser.add_argument("--sessions", type=int, default=8,
                        help="smtp-source sessions per node (8)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="upstream connections, cluster-wide (4)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    from cdomail.relay.pg import migrate
    from cdomail.relay.pg._db import connect_pool
    from cdomail.testing.postgres import PrivateCluster, postgres_available

    missing = postgres_available()
    if missing is not None:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    try:
        sink = SmtpSink()
        sink.start()
    except PostfixToolMissing as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return 1
    cluster = PrivateCluster.create()
    results: list[QueueMeasurement] = []
    try:
        with tempfile.TemporaryDirectory(prefix="cdomail-bench-queue-") as tmp:
            work = Path(tmp)
            results.append(_measure("SQLite, 1 node", [_config(
                work / "sqlite.toml", f'path = "{work / "spool"}"', sink, args.concurrency)],
                sink, args.messages, args.sessions, args.timeout, None))
            for nodes in (1, 3):
                url = cluster.new_database()
                from cdomail.relay.config import SpoolConfig

                pool = connect_pool(SpoolConfig(url=url), max_size=1, application_name="bench")
                try:
                    migrate(pool)
                finally:
                    pool.close()
                configs = [_config(work / f"pg{nodes}-{n}.toml", f'url = "{url}"', sink,
                                   args.concurrency) for n in range(nodes)]
                results.append(_measure(f"PostgreSQL, {nodes} node(s)", configs, sink,
                                        args.messages, args.sessions, args.timeout, url))
    finally:
        sink.stop()
        cluster.destroy()
    print(f"relay queue backends: smtp-source ({args.sessions} sessions per node) -> relay"
          f" ({args.concurrency} upstream connections, cluster-wide) -> smtp-sink, loopback,"
          " durable commits\n")
    print(f"{'setup':<26} {'messages':>8} {'accept/s':>10} {'end-to-end/s':>12}"
          f" {'commits/message':>15} {'WAL fsyncs/msg':>15}")
    for result in results:
        print(result.line())
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
