"""Three `relay run` nodes while their PostgreSQL restarts, and the cluster's connection limit.

Each node must answer 451 while the database is down (nothing kept: the sender retries), and
answer 250 again afterwards without being restarted; every message accepted before or after
reaches the upstream. The lab notes when each upstream session opened and closed, so the
cluster-wide ``[delivery] concurrency`` is checked where it matters: at the upstream. It is
checked for the deliveries before the restart only: the connection slots are advisory locks
that a database restart releases while nodes still hold their upstream connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdomail.lab import Lab
from cdomail.lab._records import SessionRecord
from cdomail.relay.config import SpoolConfig
from tests.relay._relay import RelayProcess
from tests.relay.test_crash_delivery import message_ids

from ._nodes import free_port, node_config, start_node, wait_for
from .cluster import PrivateCluster
from .test_database_outage import _send

CONCURRENCY = 2
#: The lab notes a session's end when it reads the relay's close, which can come a moment
#: after the relay released its cluster slot and another node opened a connection: overlaps
#: shorter than this are that observation delay, not a second connection in use.
CLOSE_OBSERVATION_SLACK = 0.05


@pytest.fixture
def nodes(pg_spool_config: SpoolConfig,
          tmp_path: Path) -> Iterator[tuple[list[RelayProcess], Lab]]:
    with Lab({"smtps": 0}, state_dir=tmp_path / "lab") as lab:
        assert pg_spool_config.url is not None
        started: list[RelayProcess] = []
        try:
            for number in range(3):
                config = node_config(tmp_path / f"node{number}.toml", url=pg_spool_config.url,
                                     port=free_port(), lab=lab,
                                     delivery=f"concurrency = {CONCURRENCY}")
                started.append(start_node(config))
            yield started, lab
            for node in started:
                assert node.process.poll() is None, "a node died:\n" + "".join(node.log)
                assert node.terminate() == 0
        finally:
            for node in started:
                node.close()


def _send_until_accepted(relay: RelayProcess, numbers: Iterator[int], deadline: float) -> int:
    """What a sender does with a 451: try again a little later (each try a new message
    number, so a refused try can be told apart upstream); the number that got 250."""
    for number in numbers:
        if _send(relay.port, number) == 250:
            return number
        assert time.monotonic() < deadline, "a node did not recover:\n" + "".join(relay.log)
        time.sleep(0.2)
    raise AssertionError("ran out of message numbers")


def _peak_sessions(sessions: list[SessionRecord]) -> int:
    """The most upstream sessions open at one moment, from the lab's open/close times.

    Each session counts from its opening to its observed close less the observation slack
    (never before its own opening: a session shorter than the slack still counts at its
    opening), so the peak is at least 1 whenever there was a session.
    """
    spans: list[tuple[float, float]] = []
    for session in sessions:
        assert session.closed_at is not None, "a session is still open"
        spans.append((session.opened_at,
                      max(session.opened_at, session.closed_at - CLOSE_OBSERVATION_SLACK)))
    return max((1 + sum(1 for other, (opened, closed) in enumerate(spans)
                        if other != index and opened <= start < closed)
                for index, (start, _) in enumerate(spans)), default=0)


@pytest.mark.slow
def test_three_nodes_answer_451_during_a_postgresql_restart_and_recover(
        nodes: tuple[list[RelayProcess], Lab], pg_cluster: PrivateCluster) -> None:
    relays, lab = nodes
    before = 60  # enough queued at once that every node wants all its connections
    assert [_send(relays[n % 3].port, n) for n in range(before)] == [250] * before
    wanted = {f"<outage-{n}@legacy.test>" for n in range(before)}
    wait_for(lambda: wanted <= set(message_ids(lab.messages)), 120, "delivery before")
    assert lab.wait_sessions_closed(30)
    peak = _peak_sessions(lab.sessions)
    assert 1 <= peak <= CONCURRENCY, [(s.opened_at, s.closed_at) for s in lab.sessions]
    pg_cluster.stop("fast")
    try:
        during = [_send(relay.port, before + n) for n, relay in enumerate(relays)]
    finally:
        pg_cluster.start()
    assert during == [451, 451, 451]  # each node refuses while it cannot commit
    accepted = set(range(before))
    numbers = iter(range(before + len(relays), 10_000))
    deadline = time.monotonic() + 60
    for extra in range(33):  # the first three: every node recovers on its own, none restarted
        relay = relays[extra % 3]
        accepted.add(_send_until_accepted(relay, numbers, deadline))
    wanted = {f"<outage-{n}@legacy.test>" for n in accepted}
    wait_for(lambda: wanted <= set(message_ids(lab.messages)), 120, "delivery of all accepted")
    refused = {f"<outage-{n}@legacy.test>" for n in range(before, max(accepted))} - wanted
    assert not refused & set(message_ids(lab.messages))  # a 451 kept nothing
    print(f"upstream peak before the restart={peak}; 451 answers after it={len(refused)}")
