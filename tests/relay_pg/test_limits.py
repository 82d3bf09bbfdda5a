"""Cluster-wide per-upstream limits: the rate window and the leased connection slots."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cdomail.relay._model import SystemClock
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg._db import ConnectionPool, connect_pool
from cdomail.relay.pg.limits import ClusterRateLimiter
from cdomail.relay.pg.slots import ConnectionSlots, SlotLost
from tests.relay.test_delivery_lab import deliver_after_a_refused_mark

from ._queues import open_node

ACCOUNT = "relay@smtp.example:587"
#: The slot lease of these tests: the holder gives up a quarter of it before it expires.
LEASE = 3.0


def test_the_rate_window_holds_across_nodes(pg_spool_config: SpoolConfig) -> None:
    count, seconds = 5, 0.5
    nodes = [open_node(pg_spool_config) for _ in range(3)]
    sent: list[float] = []

    async def node_sends(index: int) -> None:
        limiter = ClusterRateLimiter(nodes[index].pool, ACCOUNT, count, seconds, SystemClock(),
                                    hold_seconds=LEASE)
        for _ in range(5):
            slots = await limiter.take(3)
            sent.extend(time.monotonic() for _ in slots)  # "handed to the upstream"
            await asyncio.sleep(0.01)
            await limiter.finished(slots)

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


def test_a_slot_on_the_wire_longer_than_the_window_still_counts(
        pg_spool_config: SpoolConfig) -> None:
    """Node A's messages stay on the wire for three windows (a slow upstream): node B may
    send only a window after A's verdict, not a window after A took its slots. The stamps
    are pushed ahead meanwhile (hold 0.8 s, pushed every 0.2 s, on the wire 1.5 s)."""
    count, seconds, hold = 2, 0.5, 0.8
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)

    async def main() -> tuple[float, float]:
        node_a = ClusterRateLimiter(a.pool, ACCOUNT, count, seconds, SystemClock(),
                                    hold_seconds=hold)
        node_b = ClusterRateLimiter(b.pool, ACCOUNT, count, seconds, SystemClock(),
                                    hold_seconds=hold)
        slots = await node_a.take(count)
        assert len(slots) == count
        waiting = asyncio.create_task(node_b.take(1))
        await asyncio.sleep(3 * seconds)
        assert not waiting.done()  # A's messages are still out: the window is full
        await node_a.finished(slots)
        verdict = time.monotonic()
        granted = await waiting
        await node_b.finished(granted)
        return verdict, time.monotonic()

    try:
        verdict, granted_at = asyncio.run(main())
    finally:
        a.close()
        b.close()
    assert granted_at - verdict >= seconds - 0.02, (verdict, granted_at)


def test_a_killed_nodes_slots_age_out_one_hold_and_one_window_later(
        pg_spool_config: SpoolConfig) -> None:
    """A node killed with its messages on the wire never gives a verdict: its slots keep the
    window full for the hold (its connections died with it), then free it."""
    count, seconds, hold = 2, 0.3, 1.0
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)

    async def dies_with_messages_out() -> float:
        node_a = ClusterRateLimiter(a.pool, ACCOUNT, count, seconds, SystemClock(),
                                    hold_seconds=hold)
        assert len(await node_a.take(count)) == count
        return time.monotonic()  # the loop ends here: no verdict, no more pushes

    async def node_b_sends() -> float:
        node_b = ClusterRateLimiter(b.pool, ACCOUNT, count, seconds, SystemClock(),
                                    hold_seconds=hold)
        granted = await node_b.take(1)
        await node_b.finished(granted)
        return time.monotonic()

    try:
        taken = asyncio.run(dies_with_messages_out())
        granted_at = asyncio.run(node_b_sends())
    finally:
        a.close()
        b.close()
    waited = granted_at - taken
    assert hold + seconds - 0.05 <= waited <= hold + 3 * seconds + 1.0, waited


def test_a_queue_failure_before_sending_gives_the_cluster_rate_slots_back(
        pg_spool_config: SpoolConfig, tmp_path: Path) -> None:
    """As tests/relay/test_delivery_lab.py's test of the same name, with the cluster's
    limiter: slots never given back would have their stamps pushed ahead for ever."""
    node = open_node(pg_spool_config)
    try:
        limiter = ClusterRateLimiter(node.pool, ACCOUNT, 2, 0.2, SystemClock(),
                                     hold_seconds=60.0)
        assert deliver_after_a_refused_mark(tmp_path, node, limiter) == 2
    finally:
        node.close()


def _slots(pool: ConnectionPool, concurrency: int = 2, holder: str = "",
           lease: float = LEASE) -> ConnectionSlots:
    return ConnectionSlots(pool, ACCOUNT, concurrency, SystemClock(), lease_seconds=lease,
                           holder=holder)


def _row(url: str, slot: int) -> tuple[str | None, float | None, float]:
    """(holder, lease_expires_at, the database's clock now) of one slot row."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT holder, lease_expires_at, extract(epoch from clock_timestamp())::float8"
            " FROM connection_slots WHERE upstream = %s AND slot = %s", (ACCOUNT, slot)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_connection_slots_hold_for_the_cluster_and_outlive_their_lease_while_renewed(
        pg_spool_config: SpoolConfig) -> None:
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)
    slots_a, slots_b = _slots(a.pool, holder="node-a"), _slots(b.pool, holder="node-b")
    order: list[str] = []

    async def main() -> None:
        async with slots_a.hold() as first, slots_b.hold() as second:
            assert {first, second} == {0, 1}
            waiter = asyncio.create_task(_hold_briefly(slots_b, order))
            await asyncio.sleep(LEASE * 1.5)  # renewed meanwhile: still held, never lost
            assert not waiter.done()  # both cluster slots are taken
            assert pg_spool_config.url is not None
            assert _row(pg_spool_config.url, first)[0] == "node-a"
            order.append("released")
        await asyncio.wait_for(waiter, 10)

    asyncio.run(main())
    assert order == ["released", "third"]
    assert pg_spool_config.url is not None
    assert _row(pg_spool_config.url, 0)[0] is None and _row(pg_spool_config.url, 1)[0] is None
    a.close()
    b.close()


async def _hold_briefly(slots: ConnectionSlots, order: list[str]) -> None:
    async with slots.hold():
        order.append("third")


_HOLDER = """
import asyncio, sys
from cdomail.relay._model import SystemClock
from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg._db import ConnectionPool, connect_pool
from cdomail.relay.pg.slots import ConnectionSlots

async def main():
    pool = connect_pool(SpoolConfig(url=sys.argv[1]), max_size=2, application_name="holder")
    slots = ConnectionSlots(pool, sys.argv[2], 1, SystemClock(), lease_seconds=float(sys.argv[3]),
                            holder="doomed")
    async with slots.hold() as slot:
        print("holding", slot, flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_killed_holders_slot_comes_back_after_its_lease_and_not_before(
        pg_spool_config: SpoolConfig) -> None:
    url = pg_spool_config.url
    assert url is not None
    with subprocess.Popen([sys.executable, "-c", _HOLDER, url, ACCOUNT, str(LEASE)],
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().split() == ["holding", "0"]
            time.sleep(LEASE)  # a while of renewals: the lease is the renewed one
        finally:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(30)
    who, expires_at, now = _row(url, 0)
    assert who == "doomed" and expires_at is not None and expires_at > now  # still leased
    node = open_node(pg_spool_config)

    async def take() -> float:
        async with _slots(node.pool, concurrency=1).hold() as slot:
            assert slot == 0
            return _row(url, 0)[1] or 0.0

    new_expiry = asyncio.run(asyncio.wait_for(take(), LEASE * 5))
    node.close()
    taken_at = new_expiry - LEASE  # the database stamped the take at taken_at
    assert taken_at >= expires_at, "the slot was taken before the dead holder's lease expired"
    assert taken_at - expires_at < LEASE, "the dead holder's slot came back late"


@pytest.fixture
def cut_off_role(pg_spool_config: SpoolConfig) -> Iterator[str]:
    """A URL for a login role of its own, so one node's database access can be cut."""
    url = pg_spool_config.url
    assert url is not None
    role = f"cut_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN".encode())
        admin.execute(f"GRANT SELECT, UPDATE, INSERT ON connection_slots TO {role}".encode())
        admin.execute(f"GRANT SELECT, UPDATE, INSERT, DELETE ON rate_slots TO {role}".encode())
        admin.execute(f"GRANT USAGE ON SEQUENCE rate_slots_id_seq TO {role}".encode())
    try:
        yield url.replace("postgresql://cdomail@", f"postgresql://{role}@")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"REVOKE ALL ON connection_slots FROM {role}".encode())
            admin.execute(f"REVOKE ALL ON rate_slots FROM {role}".encode())
            admin.execute(f"REVOKE ALL ON SEQUENCE rate_slots_id_seq FROM {role}".encode())
            admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                          f" usename = '{role}'".encode())
            admin.execute(f"DROP ROLE {role}".encode())


def test_a_holder_cut_off_from_the_database_closes_before_anyone_takes_its_slot(
        pg_spool_config: SpoolConfig, cut_off_role: str) -> None:
    """Only this node loses the database (its role may no longer log in, its sessions are
    ended): its block is cancelled, and the other node gets the slot only afterwards."""
    url = pg_spool_config.url
    assert url is not None
    lonely_pool = connect_pool(SpoolConfig(url=cut_off_role), max_size=2,
                               application_name="lonely")
    other = open_node(pg_spool_config)
    events: dict[str, float] = {}

    async def lonely() -> None:
        with pytest.raises(SlotLost, match="lease could not be renewed"):
            async with _slots(lonely_pool, concurrency=1, holder="lonely").hold():
                events["held"] = time.monotonic()
                try:
                    await asyncio.sleep(3600)  # "the upstream connection is open"
                finally:
                    events["closed"] = time.monotonic()

    async def rival() -> None:
        while "held" not in events:
            await asyncio.sleep(0.01)
        async with _slots(other.pool, concurrency=1, holder="rival").hold():
            events["rival"] = time.monotonic()

    async def main() -> None:
        tasks = [asyncio.create_task(lonely()), asyncio.create_task(rival())]
        while "held" not in events:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_cut_off, url, cut_off_role)
        events["cut"] = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*tasks), LEASE * 10)

    try:
        asyncio.run(main())
    finally:
        lonely_pool.close()
        other.close()
    assert events["closed"] < events["rival"], events  # never two at once
    # By its own deadline (at most three quarters of a lease after the cut), not when the
    # pool gave up on the database (5 s): twice the lease is slack for a loaded machine.
    assert events["closed"] - events["cut"] < 2 * LEASE, events


def test_a_cancelled_delivery_does_not_wait_for_the_database_to_give_its_rate_slots_back(
        pg_spool_config: SpoolConfig, cut_off_role: str) -> None:
    """A delivery cancelled because its connection slot's lease ran out (the database does
    not answer) must close its upstream connection at once: finished() does not wait the
    pool's 5 s for a restamp; the stamps stay ahead (one lease) instead."""
    url = pg_spool_config.url
    assert url is not None
    lonely_pool = connect_pool(SpoolConfig(url=cut_off_role), max_size=2,
                               application_name="lonely")
    limiter = ClusterRateLimiter(lonely_pool, ACCOUNT, 2, 0.5, SystemClock(), hold_seconds=LEASE)
    ended: dict[str, float] = {}

    async def delivery(slots: list[int]) -> None:
        try:
            await asyncio.sleep(3600)  # "the messages are on the wire"
        finally:
            try:
                await limiter.finished(slots)
            finally:
                ended["at"] = time.monotonic()

    async def main() -> float:
        task = asyncio.create_task(delivery(await limiter.take(2)))
        await asyncio.to_thread(_cut_off, url, cut_off_role)
        await asyncio.sleep(0.1)
        cancelled = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return cancelled

    try:
        cancelled = asyncio.run(main())
    finally:
        lonely_pool.close()
    assert ended["at"] - cancelled < 1.0, (cancelled, ended)
    with psycopg.connect(url) as connection:  # nothing was restamped: still ahead
        row = connection.execute(
            "SELECT count(*) FROM rate_slots WHERE upstream = %s AND stamped_at >"
            " extract(epoch from clock_timestamp())::float8", (ACCOUNT,)).fetchone()
    assert row is not None and row[0] == 2


def _cut_off(url: str, role_url: str) -> None:
    role = role_url.split("://", 1)[1].split("@", 1)[0]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {role} NOLOGIN".encode())
        admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename ="
                      f" '{role}'".encode())


def test_a_lease_the_database_let_expire_is_given_up_at_once(
        pg_spool_config: SpoolConfig) -> None:
    """A renewal that finds the lease gone (taken over after it expired by the database's
    clock) ends the block at once instead of at the holder's own deadline."""
    url = pg_spool_config.url
    assert url is not None
    node = open_node(pg_spool_config)
    events: dict[str, float] = {}
    lease = 8.0  # the first renewal comes after 2 s, the holder's own deadline after 6 s

    async def main() -> None:
        with pytest.raises(SlotLost):
            async with _slots(node.pool, concurrency=1, lease=lease).hold():
                events["held"] = time.monotonic()
                with psycopg.connect(url) as admin:  # what a rival's takeover leaves behind
                    admin.execute("UPDATE connection_slots SET token = 'rival', holder ="
                                  " 'rival' WHERE upstream = %s", (ACCOUNT,))
                try:
                    await asyncio.sleep(3600)
                finally:
                    events["closed"] = time.monotonic()

    asyncio.run(asyncio.wait_for(main(), lease * 5))
    node.close()
    lost_after = events["closed"] - events["held"]
    # The first renewal (a quarter lease in) finds it gone; the own deadline would be later.
    assert lost_after < lease * 0.75, lost_after
    assert _row(url, 0)[0] == "rival"  # the release touched only its own token
