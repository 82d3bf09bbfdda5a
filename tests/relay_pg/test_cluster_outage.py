"""Three `relay run` nodes while their PostgreSQL restarts, and the cluster's connection limit.

Each node must answer 451 while the database is down (nothing kept: the sender retries), and
answer 250 again afterwards without being restarted; every message accepted before or after
reaches the upstream. The database goes down while the nodes are delivering (the lab answers
slowly, so upstream sessions are open at that moment). A forwarder at the upstream's door
(``tests/_forwarder.py``) notes when each relay connection opened and ended, so the
cluster-wide ``[delivery] concurrency`` is checked where it matters, at the upstream, before,
during and after the restart; and once the queue has drained, no connection may stay open.

Two lease times: with ``2s`` the outage outlasts the slot leases, so the holders must close
their upstream connections before anyone else may take the slots; with ``30s`` the holders
keep their connections through the restart and renew their leases afterwards, while the other
nodes must still wait for a slot.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cdomail.lab import Lab
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg import PostgresQueue
from cdomail.testing.ports import free_port
from tests._forwarder import Forwarder, forwarder
from tests.relay._relay import RelayProcess
from tests.relay.test_crash_delivery import message_ids

from ._nodes import DRAINED_CLOSE_WAIT, node_config, peak_sessions, start_node, wait_for
from .cluster import PrivateCluster
from .test_database_outage import _send

CONCURRENCY = 2
#: The lab's delay before each reply: a chunk of messages handed to one upstream connection
#: takes several seconds, so connections are open and busy while the database is down.
UPSTREAM_LATENCY_MS = 100


@pytest.fixture(params=["2s", "30s"], ids=["lease-shorter-than-outage", "lease-outlasts-it"])
def nodes(request: pytest.FixtureRequest, pg_spool_config: SpoolConfig,
          tmp_path: Path) -> Iterator[tuple[list[RelayProcess], Lab, Forwarder]]:
    with Lab({"smtps": 0}, state_dir=tmp_path / "lab", latency_ms=UPSTREAM_LATENCY_MS) as lab, \
            forwarder((lab.host, lab.port("smtps"))) as door:
        assert pg_spool_config.url is not None
        started: list[RelayProcess] = []
        try:
            for number in range(3):
                config = node_config(tmp_path / f"node{number}.toml", url=pg_spool_config.url,
                                     port=free_port(), lab=lab, door=door,
                                     lease=request.param,
                                     delivery=f"concurrency = {CONCURRENCY}")
                started.append(start_node(config))
            yield started, lab, door
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


def _describe(door: Forwarder, restart: tuple[float, float], relays: list[RelayProcess]) -> str:
    return f"restart at {restart}; connections: " + ", ".join(
        f"{s.opened_at:.2f}-{'open' if s.closed_at is None else f'{s.closed_at:.2f}'}"
        for s in door.connections) + "".join(
        f"\n--- node {n} ---\n" + "".join(relay.log[-40:]) for n, relay in enumerate(relays))


@pytest.mark.slow
def test_three_nodes_answer_451_during_a_postgresql_restart_and_recover(
        nodes: tuple[list[RelayProcess], Lab, Forwarder], pg_cluster: PrivateCluster,
        pg_spool_config: SpoolConfig) -> None:
    relays, lab, door = nodes
    before = 60  # enough queued at once that every node wants all its connections
    assert [_send(relays[n % 3].port, n) for n in range(before)] == [250] * before
    # The restart comes while deliveries are under way: upstream sessions are open.
    wait_for(lambda: door.open_connections() >= 1 and len(lab.messages) >= 5, 60,
             "deliveries under way")
    assert len(set(message_ids(lab.messages))) < before, "delivered before the restart"
    stopped_at = time.monotonic()
    pg_cluster.stop("fast")
    try:  # the three senders at once: the database is down no longer than one refusal takes
        with ThreadPoolExecutor(len(relays)) as senders:
            during = list(senders.map(_send, [relay.port for relay in relays],
                                      range(before, before + len(relays))))
    finally:
        pg_cluster.start()
    restart = (stopped_at, time.monotonic())
    assert during == [451, 451, 451]  # each node refuses while it cannot commit
    accepted = set(range(before))
    numbers = iter(range(before + len(relays), 10_000))
    deadline = time.monotonic() + 60
    for extra in range(33):  # the first three: every node recovers on its own, none restarted
        relay = relays[extra % 3]
        accepted.add(_send_until_accepted(relay, numbers, deadline))
    wanted = {f"<outage-{n}@legacy.test>" for n in accepted}
    wait_for(lambda: wanted <= set(message_ids(lab.messages)), 180, "delivery of all accepted")
    with PostgresQueue.open(pg_spool_config) as queue:
        wait_for(lambda: queue.counts()["queued"] == 0, 120, "a drained queue")
        records = {d.message_id_header: d for d in
                   (queue.show(s.id) for s in queue.list(limit=10_000))}
    unknown_recorded = {mid for mid, d in records.items() if any(
        o.state == "unknown" for outcomes in d.attempt_outcomes for o in outcomes.values())}
    duplicated = {mid for mid, n in message_ids(lab.messages).items() if n > 1}
    assert duplicated <= unknown_recorded  # a connection cut mid-send is on record
    # Drained: every upstream connection is closed within a bounded wait, none left open.
    closed = door.wait_closed(DRAINED_CLOSE_WAIT) and lab.wait_sessions_closed(DRAINED_CLOSE_WAIT)
    peak = peak_sessions(door.connections, time.monotonic())
    assert closed and 1 <= peak <= CONCURRENCY, (
        f"peak {peak}, connections left open after the queue drained: {not closed}; "
        + _describe(door, restart, relays))
    refused = {f"<outage-{n}@legacy.test>" for n in range(before, max(accepted))} - wanted
    assert not refused & set(message_ids(lab.messages))  # a 451 kept nothing
    print(f"upstream peak={peak} over {len(door.connections)} connections;"
          f" duplicated={len(duplicated)} unknown-recorded={len(unknown_recorded)};"
          f" database down {restart[1] - restart[0]:.1f} s; 451 answers after it={len(refused)}")
