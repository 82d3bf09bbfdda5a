"""Schema migrations: from an empty database, from the previous schema, and refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from cdomail.cli import main
from cdomail.relay._model import SystemClock
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg import SCHEMA_VERSION, PostgresQueue
from cdomail.relay.pg.slots import ConnectionSlots
from cdomail.relay.spool import SpoolError

from ._queues import T0, arrival, attempt, content, migrate_to
from .cluster import PrivateCluster


@pytest.fixture
def empty(pg_cluster: PrivateCluster) -> SpoolConfig:
    return SpoolConfig(url=pg_cluster.new_database())


def test_from_an_empty_database_every_step_once(empty: SpoolConfig) -> None:
    assert migrate_to(empty) == [1, 2, 3] and SCHEMA_VERSION == 3
    assert migrate_to(empty) == []  # idempotent
    assert empty.url is not None
    with psycopg.connect(empty.url) as connection:
        rows = connection.execute("SELECT version, description FROM schema_migrations ORDER BY"
                                  " version").fetchall()
    assert [version for version, _ in rows] == [1, 2, 3] and all(text for _, text in rows)
    with PostgresQueue.open(empty) as queue:
        mid = queue.store("a@example.com", ["b@example.com"], content(1), arrival())
        assert queue.content(mid) == content(1)


def test_from_the_first_schema_keeps_the_queued_mail(empty: SpoolConfig) -> None:
    assert migrate_to(empty, target=1) == [1]
    assert empty.url is not None
    # Mail queued by a version-1 relay (the single-node columns only).
    with psycopg.connect(empty.url) as connection:
        connection.execute(
            "INSERT INTO messages (id, sender, content, size, received_at, client_address,"
            " bare_lf_normalised, next_attempt_at) VALUES ('old1', 'a@example.com', %s, 10, %s,"
            " '10.0.0.1', false, %s)", (content(7), T0, T0))
        connection.execute("INSERT INTO recipients VALUES ('old1', 0, 'x@example.com', 'queued',"
                           " NULL, %s)", (T0,))
    with pytest.raises(SpoolError, match=r"schema version 1, older .* relay migrate"):
        PostgresQueue.open(empty)
    assert migrate_to(empty) == [2, 3]
    with PostgresQueue.open(empty) as queue:
        (due,) = queue.due(T0 + 1, 10)
        assert due.id == "old1" and due.recipients_pending == ("x@example.com",)
        queue.record_attempt("old1", attempt(), {}, T0 + 60)
        assert queue.show("old1").summary.attempts == 1


def test_from_the_previous_schema_keeps_claims_and_gains_leased_connection_slots(
        empty: SpoolConfig) -> None:
    assert migrate_to(empty, target=2) == [1, 2]
    with psycopg.connect(empty.url or "") as connection:  # a message a version-2 node claimed
        connection.execute(
            "INSERT INTO messages (id, sender, content, size, received_at, client_address,"
            " bare_lf_normalised, next_attempt_at, lease_owner, lease_expires_at, sending)"
            " VALUES ('old2', 'a@example.com', %s, 10, %s, '10.0.0.1', false, %s, 'old-node',"
            " 1, true)", (content(8), T0, T0))
        connection.execute("INSERT INTO recipients VALUES ('old2', 0, 'y@example.com', 'queued',"
                           " NULL, %s)", (T0,))
    with pytest.raises(SpoolError, match=r"schema version 2, older .* relay migrate"):
        PostgresQueue.open(empty)
    assert migrate_to(empty) == [3]
    with PostgresQueue.open(empty) as queue:
        (due,) = queue.due(T0 + 1, 10)  # the old node's expired claim, taken over
        assert due.id == "old2" and queue.show("old2").recipients[0].state == "queued"
        slots = ConnectionSlots(queue.pool, "u@h:25", 1, SystemClock(), lease_seconds=5.0)

        async def take() -> int:
            async with slots.hold() as slot:
                return slot

        assert asyncio.run(take()) == 0


def test_an_empty_or_newer_schema_is_refused_with_what_to_do(empty: SpoolConfig) -> None:
    with pytest.raises(SpoolError, match=r"schema version 0, older .* relay migrate"):
        PostgresQueue.open(empty)
    migrate_to(empty)
    assert empty.url is not None
    with psycopg.connect(empty.url) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (99, 'from the future')")
    with pytest.raises(SpoolError, match="schema version 99, newer than this cdomail"):
        PostgresQueue.open(empty)


def test_synchronous_commit_off_is_refused(empty: SpoolConfig,
                                           pg_cluster: PrivateCluster) -> None:
    migrate_to(empty)
    with PostgresQueue.open(empty) as queue, queue.pool.connection() as connection:
        assert connection.execute("SHOW synchronous_commit").fetchone() == ("on",)
    database = (empty.url or "").rsplit("/", 1)[1]
    pg_cluster.execute(f"ALTER DATABASE {database} SET synchronous_commit = off")
    with pytest.raises(SpoolError, match="synchronous_commit = off"):
        PostgresQueue.open(empty)


def test_relay_migrate_command(empty: SpoolConfig, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(f'[[listen]]\naddress = "127.0.0.1:0"\n\n[spool]\nurl = "{empty.url}"\n\n'
                      '[upstream]\nhost = "127.0.0.1"\nport = 9\n')
    assert main(["relay", "status", "--config", str(config)]) == 1
    assert "relay migrate" in capsys.readouterr().err
    assert main(["relay", "migrate", "--config", str(config)]) == 0
    assert "applied migration(s) 1, 2, 3" in capsys.readouterr().out
    assert main(["relay", "migrate", "--config", str(config)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["relay", "status", "--config", str(config)]) == 0
    assert "nodes: none running" in capsys.readouterr().out


def test_an_inline_password_in_the_url_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[[listen]]\naddress = "127.0.0.1:0"\n\n[spool]\n'
                      'url = "postgresql://relay:hunter2@db.example/mail"\n\n'
                      '[upstream]\nhost = "127.0.0.1"\nport = 9\n')
    assert main(["relay", "migrate", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "holds a password" in error and "hunter2" not in error
