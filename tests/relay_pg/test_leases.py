"""Claims with leases between nodes sharing one PostgreSQL queue, and the node registry."""

from __future__ import annotations

import threading
import time
from collections import Counter

from cdomail.relay._model import RecipientOutcome
from cdomail.relay.config import SpoolConfig
from cdomail.relay.queue import NodeIdentity

from ._queues import T0, arrival, attempt, content, open_node


def _fill(config: SpoolConfig, count: int) -> list[str]:
    with open_node(config) as queue:
        return [queue.store("a@example.com", [f"r{n}@example.com"], content(n), arrival())
                for n in range(count)]


def test_a_claimed_message_is_invisible_to_the_other_nodes(pg_spool_config: SpoolConfig
                                                           ) -> None:
    ids = _fill(pg_spool_config, 3)
    with open_node(pg_spool_config) as a, open_node(pg_spool_config) as b:
        claimed_a = [m.id for m in a.due(T0 + 1, 2)]
        claimed_b = [m.id for m in b.due(T0 + 1, 10)]
        assert claimed_a == ids[:2] and claimed_b == ids[2:]
        assert b.due(T0 + 1, 10) and [m.id for m in b.due(T0 + 1, 10)] == ids[2:]  # its own
        a.record_attempt(ids[0], attempt(), {"r0@example.com": RecipientOutcome("queued")},
                         T0 + 1)
        assert [m.id for m in b.due(T0 + 1, 10)] == [ids[2], ids[0]]  # released by the record


def test_concurrent_claims_never_hand_a_message_to_two_nodes(pg_spool_config: SpoolConfig
                                                             ) -> None:
    ids = _fill(pg_spool_config, 300)
    nodes = [open_node(pg_spool_config) for _ in range(4)]
    taken: Counter[str] = Counter()
    lock = threading.Lock()

    def claim(node_index: int) -> None:
        node = nodes[node_index]
        while True:
            batch = node.due(T0 + 1, 7)
            if not batch:
                return
            with lock:
                taken.update(m.id for m in batch)
            for message in batch:
                node.record_attempt(message.id, attempt(), {
                    a: RecipientOutcome("delivered", "250 ok")
                    for a in message.recipients_pending}, None)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for node in nodes:
        node.close()
    assert set(taken) == set(ids) and max(taken.values()) == 1


def test_an_expired_lease_on_a_message_on_the_wire_is_recorded_unknown_and_redelivered(
        pg_spool_config: SpoolConfig) -> None:
    on_wire, merely_claimed = _fill(pg_spool_config, 2)
    with open_node(pg_spool_config, lease=0.5) as dead, open_node(pg_spool_config) as heir:
        dead.register_node(NodeIdentity("dead-node", "h", 1, time.time()))
        assert len(dead.due(T0 + 1, 10)) == 2
        # The worker's mark: the first message was handed to the upstream.
        dead.mark_sending([on_wire])
        assert heir.due(T0 + 1, 10) == []  # the lease holds
        time.sleep(0.7)  # the dead node stopped renewing
        taken = {m.id for m in heir.due(T0 + 1, 10)}
        assert taken == {on_wire, merely_claimed}
        record = heir.show(on_wire)
        (outcome,) = record.attempt_outcomes[0].values()
        assert outcome.state == "unknown" and "node dead-node" in (outcome.reply or "")
        assert record.attempts[0].error is not None
        assert record.recipients[0].state == "queued"  # at least once: delivered again
        assert heir.show(merely_claimed).attempts == ()  # never on the wire: no record
        assert heir.interrupted_sends() == []  # a takeover, not a restart, recovers them


def test_without_at_least_once_the_unknown_is_final(pg_spool_config: SpoolConfig) -> None:
    (mid,) = _fill(pg_spool_config, 1)
    with open_node(pg_spool_config, lease=0.3) as dead, open_node(pg_spool_config) as heir:
        heir.at_least_once = False
        dead.due(T0 + 1, 10)
        dead.mark_sending([mid])
        time.sleep(0.5)
        assert heir.due(T0 + 1, 10) == []
        assert heir.show(mid).recipients[0].state == "unknown"


def test_heartbeat_renews_the_leases_and_lists_the_node(pg_spool_config: SpoolConfig) -> None:
    _fill(pg_spool_config, 2)
    with open_node(pg_spool_config, lease=0.6) as alive, open_node(pg_spool_config) as other:
        alive.register_node(NodeIdentity("node-a", "host-a", 4242, T0, "127.0.0.1:2525"))
        assert len(alive.due(T0 + 1, 10)) == 2
        for _ in range(4):
            time.sleep(0.3)
            assert alive.heartbeat() == 2
            assert other.due(T0 + 1, 10) == []
        (node,) = other.nodes()
        assert (node.id, node.host, node.pid, node.in_flight, node.listeners, node.alive) == (
            "node-a", "host-a", 4242, 2, "127.0.0.1:2525", True)
        alive.unregister_node()  # a clean stop gives the claims back at once
        assert other.nodes() == [] and len(other.due(T0 + 1, 10)) == 2


def test_a_late_record_does_not_end_the_new_owners_claim(pg_spool_config: SpoolConfig) -> None:
    (mid,) = _fill(pg_spool_config, 1)
    with open_node(pg_spool_config, lease=0.3) as slow, open_node(pg_spool_config) as heir, \
            open_node(pg_spool_config) as third:
        slow.due(T0 + 1, 10)
        time.sleep(0.5)
        assert [m.id for m in heir.due(T0 + 1, 10)] == [mid]
        slow.record_attempt(mid, attempt(), {"r0@example.com": RecipientOutcome("queued")},
                            T0 + 1)
        assert third.due(T0 + 1, 10) == []  # still the heir's


def test_a_claim_taken_over_while_it_waited_is_not_marked_for_sending(
        pg_spool_config: SpoolConfig) -> None:
    """A slow node whose lease expired before it handed the message over must not send it:
    the heir took it over unflagged (no ``unknown`` on record) and delivers it itself."""
    waited, fresh = _fill(pg_spool_config, 2)
    with open_node(pg_spool_config, lease=0.3) as slow, open_node(pg_spool_config) as heir:
        assert [m.id for m in slow.due(T0 + 1, 1)] == [waited]
        time.sleep(0.5)  # the slow node's lease ran out while the message waited for a slot
        assert {m.id for m in heir.due(T0 + 1, 10)} == {waited, fresh}  # taken over
        assert heir.show(waited).attempts == ()  # never flagged: no unknown on record
        assert slow.mark_sending([waited]) == []  # so the slow node does not send it
        assert heir.mark_sending([waited, fresh]) == [waited, fresh]
        assert slow.interrupted_sends() == [] and sorted(heir.interrupted_sends()) == sorted(
            [waited, fresh])
