"""The one difference between the two pools: asyncio tasks or threads.

``_async/pool.py`` (the source of truth) uses :class:`AsyncBackend` and
:class:`AsyncOutcome`; ``scripts/unasync.py`` renames them :class:`Backend` and
:class:`Outcome` in the generated blocking pool. Both pairs offer the same calls:

* an outcome: a one-shot signal that a job finished (set once, waited for, cancelled);
* ``spawn``: run a worker (a task on the running loop, or a daemon thread);
* ``lock``: guards the pool's queue (threads need it; one event loop does not, so the
  asyncio side is a no-op context manager: its critical sections never await);
* ``sleep``, ``now``, ``owner`` (the event loop a pool is bound to, or None), ``pause``
  (let other tasks run), and ``interruptions``: what ends a batch from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager


class AsyncOutcome:
    """Set when a job is finished; the waiting caller wakes up."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def done(self) -> bool:
        return self._future.done()

    def cancelled(self) -> bool:
        return self._future.cancelled()

    def set(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def cancel(self) -> None:
        self._future.cancel()

    async def wait(self) -> None:
        # Shielded: a cancelled caller must not cancel the job with it; the pool
        # decides what a cancellation means for each job.
        if not self._future.done():
            await asyncio.shield(self._future)


class Outcome:
    """Set when a job is finished; the waiting caller wakes up."""

    __slots__ = ("_cancelled", "_event")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._cancelled = False

    def done(self) -> bool:
        return self._event.is_set()

    def cancelled(self) -> bool:
        return self._cancelled

    def set(self) -> None:
        self._event.set()

    def cancel(self) -> None:
        if not self._event.is_set():
            self._cancelled = True
            self._event.set()

    def wait(self) -> None:
        self._event.wait()


class AsyncWorker:
    """A running worker task."""

    __slots__ = ("_task",)

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def join(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)


class Worker:
    """A running worker thread."""

    __slots__ = ("_thread",)

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread

    def join(self) -> None:
        self._thread.join()


class AsyncBackend:
    """asyncio: workers are tasks on the running loop."""

    interruptions: tuple[type[BaseException], ...] = (asyncio.CancelledError, KeyboardInterrupt)

    @staticmethod
    def spawn(
        work: Callable[[], Awaitable[None]], on_done: Callable[[AsyncWorker], None]
    ) -> AsyncWorker:
        async def run() -> None:
            await work()

        task = asyncio.get_running_loop().create_task(run())
        worker = AsyncWorker(task)
        task.add_done_callback(lambda _: on_done(worker))
        return worker

    @staticmethod
    def lock() -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    async def pause() -> None:
        await asyncio.sleep(0)

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    @staticmethod
    def owner() -> object | None:
        return asyncio.get_running_loop()


class Backend:
    """Threads: each worker is a daemon thread with a blocking client."""

    interruptions: tuple[type[BaseException], ...] = (KeyboardInterrupt,)

    @staticmethod
    def spawn(work: Callable[[], None], on_done: Callable[[Worker], None]) -> Worker:
        def run() -> None:
            try:
                work()
            finally:
                on_done(worker)

        # Daemon: a worker stuck on a dead server must not keep the process alive
        # after the caller gave up on it (a second Ctrl-C).
        thread = threading.Thread(target=run, name="cdomail-pool", daemon=True)
        worker = Worker(thread)
        thread.start()
        return worker

    @staticmethod
    def lock() -> AbstractContextManager[object]:
        return threading.RLock()

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    def pause() -> None:
        pass

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @staticmethod
    def owner() -> object | None:
        return None
