"""Group commit: messages from many sessions share one spool commit (one fsync).

Each commit with ``synchronous=FULL`` costs an fsync (about 2.5 ms on this project's test
machine), and SQLite has one writer at a time, so one commit per message caps the intake at a
few hundred messages a second however many senders there are. Here, while one commit is under
way, the messages that arrive meanwhile wait and go together in the next one. No message is
acknowledged before the commit holding it returned, so the durability promise is unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .spool import SpoolError, Submission

if TYPE_CHECKING:
    from .queue import Queue

__all__ = ["GroupCommitter"]

# Bounds on one commit: a huge batch would make the first message of it wait for the last.
MAX_BATCH_MESSAGES = 64
MAX_BATCH_BYTES = 32 * 1024 * 1024


class GroupCommitter:
    """Feeds :meth:`Spool.store_many` from the event loop, one batch at a time."""

    def __init__(self, spool: Queue) -> None:
        self._spool = spool
        #: Called after a commit stored at least one message (``relay run``: wake the
        #: delivery worker, so a message does not wait for the worker's next poll).
        self.on_stored: Callable[[], None] | None = None
        self._pending: list[tuple[Submission, asyncio.Future[str]]] = []
        self._flushing: asyncio.Task[None] | None = None

    def submit(self, submission: Submission) -> asyncio.Future[str]:
        """Queue *submission*; the future gives its spool id once it is durably stored."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        # A session that was cut meanwhile no longer awaits its result: mark it retrieved.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._pending.append((submission, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="relay-group-commit")
        return future

    def _take_batch(self) -> list[tuple[Submission, asyncio.Future[str]]]:
        size = count = 0
        for submission, _ in self._pending:
            if count and (count >= MAX_BATCH_MESSAGES
                          or size + len(submission.content) > MAX_BATCH_BYTES):
                break
            count += 1
            size += len(submission.content)
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _flush(self) -> None:
        while self._pending:
            batch = self._take_batch()
            try:
                results = await asyncio.to_thread(self._spool.store_many,
                                                  [submission for submission, _ in batch])
            except Exception as error:  # e.g. a single message's SpoolError, or a bug
                results = [error if isinstance(error, SpoolError) else
                           SpoolError(f"cannot store the message: {error}")] * len(batch)
            if self.on_stored is not None and not all(
                    isinstance(result, BaseException) for result in results):
                self.on_stored()
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
