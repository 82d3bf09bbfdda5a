"""Cluster-wide per-upstream limits: the rate window and the connection slots in PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from cdomail.relay._model import SystemClock
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg.limits import ClusterRateLimiter, ConnectionSlots

from ._queues import open_node

ACCOUNT = "relay@smtp.example:587"


def test_the_rate_window_holds_across_nodes(pg_spool_config: SpoolConfig) -> None:
    count, seconds = 5, 0.5
    nodes = [open_node(pg_spool_config) for _ in range(3)]
    sent: list[float] = []

    async def node_sends(index: int) -> None:
        limiter = ClusterRateLimiter(nodes[index].pool, ACCOUNT, count, seconds, SystemClock())
        for _ in range(5):
            slots = await limiter.take(3)
            sent.extend(time.monotonic() for _ in slots)  # "handed to the upstream"
            await asyncio.sleep(0.01)
            limiter.finished(slots)

    async def main() -> None:
        await asyncio.gather(*(node_sends(n) for n in range(3)))

    started = time.monotonic()
    asyncio.run(main())
    for node in nodes:
        node.close()
    sent.sort()
    # Never more than `count` in any window of `seconds` (a little slack for the clock reads).
    assert all(later - earlier >= seconds - 0.02
               for earlier, later in zip(sent, sent[count:], strict=False)), sent
    assert len(sent) >= 15 and time.monotonic() - started >= (len(sent) // count - 1) * seconds


def test_connection_slots_hold_for_the_cluster_and_die_with_their_node(
        pg_spool_config: SpoolConfig) -> None:
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)
    clock = SystemClock()
    slots_a = ConnectionSlots(a.pool, ACCOUNT, 2, clock)
    slots_b = ConnectionSlots(b.pool, ACCOUNT, 2, clock)
    order: list[str] = []

    async def main() -> None:
        async with slots_a.hold() as first, slots_b.hold() as second:
            assert {first, second} == {0, 1}
            waiter = asyncio.create_task(_hold_briefly(slots_b, order))
            await asyncio.sleep(0.3)
            assert not waiter.done()  # both cluster slots are taken
            order.append("released")
        await asyncio.wait_for(waiter, 5)

    asyncio.run(main())
    assert order == ["released", "third"]
    # A node that dies holding a slot (its database session ends) gives it back.
    connection = a.pool.getconn()
    connection.autocommit = True
    assert connection.execute("SELECT pg_try_advisory_lock(%s, 0)",
                              (_key(),)).fetchone() == (True,)
    assert connection.execute("SELECT pg_try_advisory_lock(%s, 1)",
                              (_key(),)).fetchone() == (True,)
    connection.close()  # the session ends as with kill -9
    a.pool.putconn(connection)

    async def after() -> int:
        async with slots_b.hold() as slot:
            return slot

    assert asyncio.run(asyncio.wait_for(after(), 5)) in (0, 1)
    a.close()
    b.close()


async def _hold_briefly(slots: ConnectionSlots, order: list[str]) -> None:
    async with slots.hold():
        order.append("third")


def _key() -> int:
    from cdomail.relay.pg.limits import upstream_key

    return upstream_key(ACCOUNT)
