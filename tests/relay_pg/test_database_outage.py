"""A relay node while its PostgreSQL goes away: 451 meanwhile, recovery without a restart."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cdomail.lab import Lab
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg import PostgresQueue
from cdomail.testing.ports import free_port
from tests.relay._relay import RelayProcess
from tests.relay.test_crash_delivery import message_ids

from ._nodes import node_config, start_node, wait_for
from .cluster import PrivateCluster


@pytest.fixture
def node(pg_spool_config: SpoolConfig, tmp_path: Path) -> Iterator[tuple[RelayProcess, Lab]]:
    with Lab({"smtps": 0}, state_dir=tmp_path / "lab") as lab:
        assert pg_spool_config.url is not None
        config = node_config(tmp_path / "relay.toml", url=pg_spool_config.url, port=free_port(),
                             lab=lab)
        relay = start_node(config)
        try:
            yield relay, lab
            assert relay.process.poll() is None, "the node died:\n" + "".join(relay.log)
            assert relay.terminate() == 0
        finally:
            relay.close()


def _send(port: int, number: int) -> int:
    """The final reply code for one message (the DATA reply, or an earlier refusal)."""
    body = f"Message-ID: <outage-{number}@legacy.test>\r\nSubject: x\r\n\r\nbody\r\n"
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("app@legacy.test", ["a@example.test"], body)
    except smtplib.SMTPResponseException as refused:
        return refused.smtp_code
    except smtplib.SMTPRecipientsRefused as refused:
        return next(iter(refused.recipients.values()))[0]
    return 250


@pytest.mark.slow
def test_postgresql_restart_answers_451_then_recovers_without_a_node_restart(
        node: tuple[RelayProcess, Lab], pg_cluster: PrivateCluster) -> None:
    relay, lab = node
    assert [_send(relay.port, n) for n in range(3)] == [250, 250, 250]
    pg_cluster.stop("fast")
    try:
        assert _send(relay.port, 3) == 451  # nothing kept: the sender keeps it and retries
    finally:
        pg_cluster.start()
    accepted = {0, 1, 2}
    deadline = time.monotonic() + 60
    number = 4
    while len(accepted) < 6:
        assert time.monotonic() < deadline, "the node did not recover"
        if _send(relay.port, number) == 250:
            accepted.add(number)
        number += 1
    wanted = {f"<outage-{n}@legacy.test>" for n in accepted}
    wait_for(lambda: wanted <= set(message_ids(lab.messages)), 60, "delivery after the restart")
    assert "<outage-3@legacy.test>" not in message_ids(lab.messages)


def test_lost_database_connections_are_replaced(node: tuple[RelayProcess, Lab],
                                                pg_spool_config: SpoolConfig) -> None:
    relay, lab = node
    assert _send(relay.port, 0) == 250
    assert pg_spool_config.url is not None
    with psycopg.connect(pg_spool_config.url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                               " WHERE application_name = 'cdomail-relay'").fetchone()
    assert killed is not None and killed[0] >= 1
    # Pooled connections are checked before use: the next messages get fresh ones.
    assert [_send(relay.port, n) for n in range(1, 6)] == [250] * 5
    wanted = {f"<outage-{n}@legacy.test>" for n in range(6)}
    wait_for(lambda: wanted <= set(message_ids(lab.messages)), 60, "delivery")
    with PostgresQueue.open(pg_spool_config) as queue:
        (seen,) = queue.nodes()
        assert seen.alive and seen.pid == relay.process.pid
    status = subprocess.run([sys.executable, "-m", "cdomail", "relay", "status", "--config",
                             str(relay.config_path)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "nodes: 1 alive of 1" in status and f"pid {relay.process.pid} alive" in status
