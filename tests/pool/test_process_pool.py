"""ProcessPool: worker processes, each with its own loop, results merged in input order."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections import Counter
from email import message_from_bytes, policy

import pytest

import cdomail
from cdomail import ProcessPool
from cdomail.batch import BatchResult
from cdomail.lab import Lab

from ._fault_server import FaultServer
from .test_pool import make_message, raw_message, stored_subjects

# Four connections over two processes: each worker runs an AsyncPool with two
# connections. Over four processes: each worker runs the blocking Pool on one.
WORKER_KINDS = pytest.mark.parametrize("processes", [2, 4],
                                       ids=["AsyncPool workers", "one-connection workers"])


@WORKER_KINDS
def test_messages_go_out_once_each_and_results_keep_the_input_order(
    lab: Lab, processes: int
) -> None:
    items: list[object] = []
    for i in range(300):
        items.append(make_message(f"pp {i}") if i % 2 else raw_message(f"pp {i}"))
    items.insert(7, io.BytesIO(raw_message("a stream")))  # cannot cross to another process
    items.insert(100, b"From: x@cdomail.test\r\n\r\nno recipients\r\n")
    with ProcessPool("127.0.0.1", lab.port("plain"), tls="none", processes=processes,
                     max_connections=4, batch_size=32) as pool:
        results = pool.send_many(items)  # type: ignore[arg-type]
    assert len(results) == 302
    assert isinstance(results[7].error, cdomail.InputError)
    assert isinstance(results[100].error, cdomail.InputError)
    sent = [r for i, r in enumerate(results) if i not in (7, 100)]
    assert all(r.ok for r in sent), [r.error for r in sent if r.error][:3]
    assert stored_subjects(lab) == Counter(f"pp {i}" for i in range(300))
    # In input order: each result's queue id names the stored message with its subject.
    by_key = {m.maildir_key: m for m in lab.messages}
    for i, result in enumerate(sent):
        assert isinstance(result, cdomail.SendResult) and result.reply is not None
        [key] = [k for k in by_key if k in result.reply.text]
        subject = message_from_bytes(by_key[key].data, policy=policy.default)["Subject"]
        assert str(subject) == f"pp {i}"
    assert 2 <= len(lab.sessions) <= 4


@WORKER_KINDS
def test_compact_results_cross_the_process_boundary(lab: Lab, processes: int) -> None:
    with ProcessPool("127.0.0.1", lab.port("plain"), tls="none", processes=processes,
                     max_connections=4) as pool:
        results = pool.send_many((raw_message(f"c {i}") for i in range(50)), compact=True)
    assert all(isinstance(r, cdomail.CompactResult) and r.ok for r in results)
    assert [r.accepted for r in results] == [("r@cdomail.test",)] * 50


@pytest.mark.lab(latency_ms=2)
def test_a_worker_that_dies_loses_nothing_and_resends_nothing(lab: Lab) -> None:
    count = 240
    results = []
    with ProcessPool("127.0.0.1", lab.port("plain"), tls="none", processes=2,
                     max_connections=2, batch_size=20) as pool:
        victim = pool._workers[0].process
        for result in pool.send_iter(raw_message(f"d {i}") for i in range(count)):
            results.append(result)
            if len(results) == 5:
                assert victim.pid is not None
                os.kill(victim.pid, signal.SIGKILL)
    assert len(results) == count
    stored = Counter(int(str(message_from_bytes(m.data, policy=policy.default)["Subject"])
                         .removeprefix("d ")) for m in lab.messages)
    assert all(n == 1 for n in stored.values()), "a message was sent twice"
    states = Counter("ok" if r.ok else type(r.error).__name__ for r in results)
    assert set(states) <= {"ok", "StatusUnknown"}, states
    assert states["StatusUnknown"] > 0  # the dead worker's unfinished batches
    for index, result in enumerate(results):
        if result.ok:
            assert index in stored
        if index in stored:
            assert result.ok or isinstance(result.error, cdomail.StatusUnknown)
    # The survivor carried every later batch.
    assert states["ok"] >= count // 2


def test_settings_are_checked_before_any_process_starts() -> None:
    with pytest.raises(cdomail.ConfigurationError):
        ProcessPool("127.0.0.1", 2525, tls="none", processes=0)
    with pytest.raises(cdomail.InputError, match="rate_limit"):
        ProcessPool("127.0.0.1", 2525, tls="none", rate_limit=10)
    pool = ProcessPool("127.0.0.1", 2525, tls="none", processes=16, max_connections=3)
    assert pool.processes == 3  # never more processes than connections
    pool.close()
    with pytest.raises(cdomail.ProtocolError, match="closed"):
        pool.send_many([raw_message("late")])


def test_one_connection_workers_follow_the_pool_rules_after_421() -> None:
    # The server ends every session with 421 after three messages (RFC 5321 §3.8: the
    # message refused by it was certainly not accepted): each worker reconnects and sends
    # it again, and no message is stored or even received twice.
    subjects = [f"limited {i}" for i in range(40)]

    def send(port: int) -> list[BatchResult]:
        with ProcessPool("127.0.0.1", port, tls="none", processes=2, max_connections=2,
                         batch_size=8) as pool:
            return pool.send_many(raw_message(s) for s in subjects)

    async def main() -> tuple[list[BatchResult], FaultServer]:
        async with FaultServer(close_after=3) as server:
            # The server's loop runs here while the pool's caller blocks in a thread.
            return await asyncio.to_thread(send, server.port), server

    results, server = asyncio.run(main())
    assert all(r.ok for r in results), [r.error for r in results if r.error]
    assert Counter(s for _, s in server.stored) == Counter(subjects)
    assert Counter(server.received) == Counter(subjects)
    assert all(n <= 3 for n in Counter(session for session, _ in server.stored).values())
    assert len({session for session, _ in server.stored}) >= len(subjects) // 3


def test_one_connection_workers_send_a_queue_of_email_messages_with_their_envelopes(
    lab: Lab
) -> None:
    items = [cdomail.OutgoingMessage(make_message(f"env {i}"), sender="bounce@cdomail.test",
                                     recipients=[f"r{i % 3}@cdomail.test"])
             for i in range(90)]
    with ProcessPool("127.0.0.1", lab.port("plain"), tls="none", processes=3,
                     max_connections=3, batch_size=10) as pool:
        results = list(pool.send_iter(items, compact=True))
    assert [r.accepted for r in results] == [(f"r{i % 3}@cdomail.test",) for i in range(90)]
    assert stored_subjects(lab) == Counter(f"env {i}" for i in range(90))
    assert {m.mail_from for m in lab.messages} == {"bounce@cdomail.test"}
