"""The pools take messages lazily, stream results, keep compact results; the blocking Pool."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

import cdomail
from cdomail import AsyncPool, CompactResult, SendResult
from cdomail._async.pool import WINDOW_PER_CONNECTION
from cdomail.batch import compact
from cdomail.lab import Lab

from .test_pool import make_message, raw_message, stored_subjects


class Counted:
    """A generator of raw messages that records how many were taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(self.total):
            self.taken += 1
            yield raw_message(f"lazy {i}")


def test_send_iter_takes_messages_through_a_bounded_window(lab: Lab) -> None:
    source = Counted(WINDOW_PER_CONNECTION * 3)
    taken_at_first_result: list[int] = []

    async def main() -> list[SendResult]:
        results: list[SendResult] = []
        async with AsyncPool("127.0.0.1", lab.port("plain"), tls="none",
                             max_connections=1) as pool:
            async for result in pool.send_iter(source):
                if not results:
                    taken_at_first_result.append(source.taken)
                results.append(result)
        return results

    results = asyncio.run(main())
    assert len(results) == source.total and all(r.ok for r in results)
    # The first verdict came while most of the batch was still in the caller's generator.
    assert taken_at_first_result[0] <= WINDOW_PER_CONNECTION + 1
    assert stored_subjects(lab) == Counter(f"lazy {i}" for i in range(source.total))


def test_the_window_keeps_prepared_bytes_not_message_objects(lab: Lab) -> None:
    alive: list[weakref.ref[EmailMessage]] = []

    def messages() -> Iterator[EmailMessage]:
        for i in range(40):
            message = make_message(f"ref {i}")
            alive.append(weakref.ref(message))
            yield message

    async def main() -> int:
        async with AsyncPool("127.0.0.1", lab.port("plain"), tls="none",
                             max_connections=2) as pool:
            stream = pool.send_iter(messages())
            first = await stream.__anext__()
            assert first.ok
            gc.collect()
            still_alive = sum(ref() is not None for ref in alive)
            rest = [result async for result in stream]
            assert all(r.ok for r in rest) and len(rest) == 39
            return still_alive

    # Every message taken so far was serialised; at most the generator's own local is left.
    assert asyncio.run(main()) <= 1
    assert stored_subjects(lab) == Counter(f"ref {i}" for i in range(40))


def test_compact_results_keep_no_reply_for_accepted_recipients(lab: Lab) -> None:
    message = make_message("compact", to="a@cdomail.test, b@cdomail.test")

    async def main() -> list[CompactResult]:
        async with AsyncPool("127.0.0.1", lab.port("plain"), tls="none") as pool:
            return await pool.send_many([message, b"no header block end"], compact=True)

    ok, bad = asyncio.run(main())
    assert isinstance(ok, CompactResult) and ok.ok and not ok.encrypted
    assert ok.accepted == ("a@cdomail.test", "b@cdomail.test") and not ok.refused
    assert ok.reply_code == 250 and ok.error is None
    assert not any(isinstance(getattr(ok, name), cdomail.Reply) for name in ok.__slots__)
    assert isinstance(bad.error, cdomail.InputError) and not bad.ok
    assert [m.rcpt_tos for m in lab.messages] == [["a@cdomail.test", "b@cdomail.test"]]


def test_compact_keeps_the_refusals_and_drops_accepted_replies() -> None:
    refusal = cdomail.Reply(550, ("5.1.1 no such user",))
    full = SendResult(sender="s@cdomail.test", recipients=["a@cdomail.test", "b@cdomail.test"],
                      tls_mode="none", tls=None,
                      accepted={"a@cdomail.test": cdomail.Reply(250, ("2.1.5 Ok",))},
                      refused={"b@cdomail.test": refusal},
                      reply=cdomail.Reply(250, ("2.0.0 queued as X",)), size=120)
    small = compact(full)
    assert small.accepted == ("a@cdomail.test",) and dict(small.refused) == {
        "b@cdomail.test": refusal}
    assert small.ok and small.reply_code == 250 and small.size == 120
    assert small.to_dict()["refused"] == {"b@cdomail.test": str(refusal)}


def test_client_hands_each_result_over_and_keeps_none(lab: Lab) -> None:
    seen: list[object] = []
    with cdomail.SMTPClient("127.0.0.1", lab.port("plain"), tls="none") as client:
        kept = client.send_many((raw_message(f"cb {i}") for i in range(50)),
                                on_result=seen.append)
        kept_compact = client.send_many([raw_message("cb compact")], compact=True,
                                        on_result=seen.append)
    assert kept == [] and kept_compact == []
    assert len(seen) == 51
    assert all(isinstance(r, SendResult) and r.ok for r in seen[:50])
    assert isinstance(seen[50], CompactResult) and seen[50].ok
    # In input order: the n-th result's queue id is the n-th stored message's.
    keys = [m.maildir_key for m in lab.messages]
    for key, result in zip(keys, seen[:50], strict=False):
        assert isinstance(result, SendResult) and result.reply is not None
        assert key in result.reply.text


def test_client_compact_send_many_matches_the_full_results(lab: Lab) -> None:
    messages = [raw_message(f"cmp {i}") for i in range(5)] + [b"\xff not a message"]
    with cdomail.SMTPClient("127.0.0.1", lab.port("plain"), tls="none") as client:
        full = client.send_many(messages)
        compact = client.send_many(messages, compact=True)
    assert [c.ok for c in compact] == [f.ok for f in full]
    assert [c.recipients for c in compact] == [tuple(f.recipients) for f in full]
    assert [c.accepted for c in compact] == [tuple(f.accepted) for f in full]
    assert [type(c.error) for c in compact] == [type(f.error) for f in full]


# -- the blocking pool ----------------------------------------------------------------


def test_blocking_pool_sends_each_message_once_over_its_connections(lab: Lab) -> None:
    subjects = [f"sync {i}" for i in range(150)]
    with cdomail.Pool("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                      max_connections=3) as pool:
        results = pool.send_many(make_message(s) for s in subjects)
        single = pool.send(raw_message("sync single"))
    assert len(results) == 150 and all(r.ok and r.encrypted for r in results)
    assert single.ok
    assert stored_subjects(lab) == Counter([*subjects, "sync single"])
    assert 1 <= len(lab.sessions) <= 3
    for session in lab.sessions:  # closed politely at the end of the with block
        assert any(line.line == b"QUIT" for line in session.lines("C")), session.id


def test_blocking_pool_streams_results_in_order(lab: Lab) -> None:
    with cdomail.Pool("127.0.0.1", lab.port("plain"), tls="none", max_connections=2) as pool:
        subjects = []
        for result in pool.send_iter((raw_message(f"it {i}") for i in range(60)),
                                     compact=True):
            assert isinstance(result, CompactResult) and result.ok
            subjects.append(result)
    assert len(subjects) == 60
    assert stored_subjects(lab) == Counter(f"it {i}" for i in range(60))


def test_blocking_pool_refuses_work_once_closed() -> None:
    pool = cdomail.Pool("127.0.0.1", 2525, tls="none")
    pool.close()
    with pytest.raises(cdomail.ProtocolError, match="closed"):
        pool.send(raw_message("late"))


def test_async_with_on_the_blocking_pool_still_gives_an_async_pool(lab: Lab) -> None:
    async def main() -> list[SendResult]:
        async with cdomail.Pool("127.0.0.1", lab.port("plain"), tls="none") as pool:
            assert isinstance(pool, AsyncPool)
            return await pool.send_many([raw_message("compat")])

    [result] = asyncio.run(main())
    assert result.ok
    assert stored_subjects(lab) == Counter(["compat"])
