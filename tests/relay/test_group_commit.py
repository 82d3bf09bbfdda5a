"""Group commit: concurrent messages share one commit, yet each one succeeds or fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cdomail.relay._group_commit import MAX_BATCH_MESSAGES, GroupCommitter
from cdomail.relay._model import ArrivalFacts
from cdomail.relay.spool import Spool, SpoolError, Submission

from ._helpers import SpoolOpener
from ._relay import refuse_recipient

ARRIVAL = ArrivalFacts("127.0.0.1", "box", None, None, None, 1_800_000_000.0, False)


def _submission(number: int, recipient: str = "r@x.example") -> Submission:
    return Submission("a@corp.example", (recipient,),
                      f"Message-ID: <g{number}@t>\r\n\r\nbody {number}\r\n".encode(), ARRIVAL)


class CountingSpool:
    """A real queue (either backend) that also notes the size of each group commit."""

    def __init__(self, queue: Spool) -> None:
        self.queue = queue
        self.batches: list[int] = []

    def store_many(self, submissions: Sequence[Submission]) -> list[str | SpoolError]:
        self.batches.append(len(submissions))
        return self.queue.store_many(submissions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)


@pytest.fixture
def spool(open_spool: SpoolOpener) -> Iterator[CountingSpool]:
    opened = CountingSpool(open_spool())
    yield opened
    opened.queue.close()


def test_store_many_returns_ids_in_order_and_isolates_a_failure(spool: CountingSpool) -> None:
    refuse_recipient(spool.queue, "poison@x.example")
    results = spool.store_many([_submission(1), _submission(2, "poison@x.example"),
                                _submission(3)])
    assert isinstance(results[1], SpoolError)
    first, third = results[0], results[2]
    assert isinstance(first, str) and isinstance(third, str)
    assert spool.content(first).endswith(b"body 1\r\n")
    assert spool.content(third).endswith(b"body 3\r\n")
    assert len(spool.list()) == 2
    with pytest.raises(SpoolError):
        spool.store_many([_submission(4, "poison@x.example")])


def test_messages_arriving_together_share_one_commit(spool: CountingSpool) -> None:
    async def main() -> list[str]:
        committer = GroupCommitter(spool)
        futures = [committer.submit(_submission(n)) for n in range(MAX_BATCH_MESSAGES + 10)]
        return list(await asyncio.gather(*futures))

    ids = asyncio.run(main())
    assert spool.batches == [MAX_BATCH_MESSAGES, 10]
    assert len(set(ids)) == MAX_BATCH_MESSAGES + 10
    assert [spool.content(i).endswith(f"body {n}\r\n".encode()) for n, i in enumerate(ids)] == \
        [True] * len(ids)


def test_a_message_that_fails_does_not_fail_its_batch(spool: CountingSpool) -> None:
    refuse_recipient(spool.queue, "poison@x.example")

    async def main() -> list[str | BaseException]:
        committer = GroupCommitter(spool)
        futures = [committer.submit(_submission(1)),
                   committer.submit(_submission(2, "poison@x.example")),
                   committer.submit(_submission(3))]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    first, failed, third = asyncio.run(main())
    assert isinstance(failed, SpoolError)
    assert isinstance(first, str) and isinstance(third, str)
    assert len(spool.list()) == 2
