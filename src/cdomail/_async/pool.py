"""AsyncPool: many messages over a bounded set of pipelined connections.

This file is the source of truth for both pools: ``scripts/unasync.py`` rewrites it
into ``cdomail/_sync/pool.py`` (``Pool``: worker threads with blocking clients).
What differs between the two (tasks or threads) lives in ``_backends/_concurrency``;
the delivery rules (what is retried, what is reported) in ``_pool_rules``.

A pool keeps at most ``max_connections`` sessions to one server. Each session
belongs to a worker that takes messages from a shared queue and sends them
pipelined on its connection (RFC 2920 when advertised, CHUNKING when offered).
The caller's messages are taken lazily, through a bounded window: a message is
prepared (checked and serialised) while the connections send the ones before it,
and the window never holds more than a few thousand prepared messages, whatever
the length of the batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from types import TracebackType
from typing import Any, Literal, overload

from .._backends._concurrency import AsyncBackend, AsyncOutcome, AsyncWorker
from .._pool_rules import Job, RateLimiter, Verdict, count, judge, may_pass, rate
from ..batch import BatchResult, CompactResult, attach, interrupted
from ..batch import compact as compact_result
from ..errors import CdoMailError, InputError, LocalProtocolError
from ..message import MessageInput, OutgoingMessage, PreparedMessage
from ..result import SendResult
from ..session import ClientConfig, hide_secrets, unsent_result
from ..session._batch import TRANSACTION_WINDOW
from .client import AsyncSMTPClient

__all__ = ["AsyncPool"]

_Job = Job[AsyncOutcome]

#: Most messages one connection takes from the queue at once. Between two batches the
#: connection waits one round trip for the last verdict, so batches are long; the
#: client itself keeps at most TRANSACTION_WINDOW transactions in flight.
MAX_BATCH = 4 * TRANSACTION_WINDOW
#: Prepared messages the caller's side keeps ahead, per connection: enough to keep
#: every connection's pipeline full, few enough that memory does not grow with the batch.
WINDOW_PER_CONNECTION = 2 * MAX_BATCH
#: The caller's side lets the connections run after preparing this many messages.
FEED_STRIDE = 32
#: Pause after a failed connection attempt, doubled each time up to the cap (seconds).
CONNECT_BACKOFF = 0.05
CONNECT_BACKOFF_CAP = 2.0


class AsyncPool:
    """A bounded pool of pipelined SMTP connections to one server.

    ``AsyncPool(host, port=None, *, max_connections=8, messages_per_connection=None,
    rate_limit=None, retries=2, **client_options)``: ``client_options`` are the
    :class:`AsyncSMTPClient` keywords (``tls``, ``username``, ``cafile``, ...).

    * ``max_connections``: at most this many sessions are open at once;
      connections open when there is work and stay open until :meth:`aclose`.
    * ``messages_per_connection``: after this many messages a connection says
      QUIT and the next message opens a new one.
    * ``rate_limit``: messages per second across the whole pool.
    * ``retries``: how many times a message the server certainly did not accept
      may be sent again (see ``cdomail._pool_rules`` for the exact rules).

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        max_connections: int = 8,
        messages_per_connection: int | None = None,
        rate_limit: float | None = None,
        retries: int = 2,
        **client_options: Any,
    ) -> None:
        self.max_connections = count(max_connections, "max_connections", minimum=1)
        self.messages_per_connection = (
            None if messages_per_connection is None
            else count(messages_per_connection, "messages_per_connection", minimum=1)
        )  # fmt: skip
        self.retries = count(retries, "retries", minimum=0)
        self.rate_limit = None if rate_limit is None else rate(rate_limit)
        self._host = host
        self._port = port
        self._client_options = client_options
        # Builds (and so checks) the client configuration now, before any connection.
        settings = hide_secrets({k: v for k, v in client_options.items() if k != "transcript"})
        self._tls_mode = ClientConfig.build(host, port, **settings).effective_mode.value
        self._limiter = None if self.rate_limit is None else RateLimiter(self.rate_limit)
        self._queue: deque[_Job] = deque()
        self._idle: deque[AsyncOutcome] = deque()
        self._workers: set[AsyncWorker] = set()
        self._lock = AsyncBackend.lock()
        self._closing = False
        self._interrupted = False
        self._sending = 0  # workers busy with a batch
        self._owner: object | None = None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._host}:{self._port} max_connections="
            f"{self.max_connections} workers={len(self._workers)} queued={len(self._queue)}>"
        )

    # -- public API -----------------------------------------------------------------------

    async def send(
        self,
        message: MessageInput,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
    ) -> SendResult:
        """Send one message through the pool: raise its error, or return its result."""
        self._check_open()
        job = Job(OutgoingMessage(message, sender, recipients), AsyncOutcome())
        self._enqueue([job])
        try:
            await job.outcome.wait()
        except AsyncBackend.interruptions:
            job.outcome.cancel()  # not taken yet: never sent
            raise
        result = _settled(job, self._tls_mode)
        if result.error is not None:
            raise result.error
        return result

    @overload
    def send_iter(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: Literal[False] = False
    ) -> AsyncIterator[SendResult]: ...

    @overload
    def send_iter(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: Literal[True]
    ) -> AsyncIterator[CompactResult]: ...

    def send_iter(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: bool = False
    ) -> AsyncIterator[SendResult] | AsyncIterator[CompactResult]:
        """Send many messages; yield each result, in input order, as soon as it is known.

        ``messages`` is read lazily (a generator of any length is fine) and nothing is
        kept once its result is yielded: memory stays flat whatever the batch size.
        When the batch is interrupted, the exception's ``partial_results`` holds the
        results not yielded yet (see :mod:`cdomail.batch`). ``compact=True`` yields
        :class:`~cdomail.batch.CompactResult`.
        """
        return self._stream(messages, compact_result if compact else None)

    @overload
    async def send_many(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: Literal[False] = False
    ) -> list[SendResult]: ...

    @overload
    async def send_many(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: Literal[True]
    ) -> list[CompactResult]: ...

    async def send_many(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: bool = False
    ) -> list[SendResult] | list[CompactResult]:
        """Send many messages across the pool's connections.

        Each item is a message (envelope from its headers) or an
        :class:`~cdomail.OutgoingMessage` with its own envelope and parameters.

        Returns one result per message, in the order given; a message that failed
        has ``result.error`` set (bad input, a refusal, or a connection failure
        after its retries). Per-message failures never raise. ``compact=True``
        returns :class:`~cdomail.batch.CompactResult` (no reply per accepted
        recipient). An interruption carries ``partial_results`` (every message
        taken so far).
        """
        return await self._collect(messages, compact_result if compact else None)

    async def aclose(self) -> None:
        """Finish the queued messages, then QUIT every connection."""
        self._closing = True
        self._wake_all()
        await self._join_workers()

    async def __aenter__(self) -> AsyncPool:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the caller's side: the window -----------------------------------------------------

    async def _stream(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> AsyncIterator[Any]:
        self._check_open()
        window: deque[_Job | BatchResult] = deque()
        limit = self.max_connections * WINDOW_PER_CONNECTION
        try:
            for taken, message in enumerate(messages, 1):
                window.append(self._admit(message))
                while window and (len(window) >= limit or _finished(window[0])):
                    yield await self._oldest(window, shrink)
                if taken % FEED_STRIDE == 0:
                    await AsyncBackend.pause()  # let the connections take what is queued
            while window:
                yield await self._oldest(window, shrink)
        except AsyncBackend.interruptions as exc:
            attach(exc, await self._interrupt(window, shrink))
            raise
        finally:
            for slot in window:  # the caller stopped iterating: drop what was not taken
                if isinstance(slot, Job) and not slot.taken:
                    slot.outcome.cancel()

    def _admit(self, message: MessageInput | OutgoingMessage) -> _Job | SendResult:
        """Prepare one message and queue it; bad input becomes its result at once."""
        try:
            item = message if isinstance(message, OutgoingMessage) else OutgoingMessage(message)
            job = Job(item, AsyncOutcome())
        except InputError as exc:
            return unsent_result(None, exc, self._tls_mode)
        self._enqueue([job])
        return job

    async def _oldest(
        self,
        window: deque[_Job | BatchResult],
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> BatchResult:
        result = await self._result_of(window[0], shrink)
        window.popleft()
        return result

    async def _collect(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> list[Any]:
        """send_many: like _stream, but every slot stays in one list, where each job is
        replaced by its result in one step; so an interruption arriving between any two
        steps still finds each message exactly once (a job, or its result)."""
        self._check_open()
        slots: list[_Job | BatchResult] = []
        done = 0  # slots[:done] are results
        limit = self.max_connections * WINDOW_PER_CONNECTION
        try:
            for taken, message in enumerate(messages, 1):
                slots.append(self._admit(message))
                while done < len(slots) and (len(slots) - done >= limit
                                             or _finished(slots[done])):
                    slots[done] = await self._result_of(slots[done], shrink)
                    done += 1
                if taken % FEED_STRIDE == 0:
                    await AsyncBackend.pause()
            while done < len(slots):
                slots[done] = await self._result_of(slots[done], shrink)
                done += 1
        except AsyncBackend.interruptions as exc:
            attach(exc, await self._interrupt(slots, shrink))
            raise
        finally:
            for slot in slots:
                if isinstance(slot, Job) and not slot.taken:
                    slot.outcome.cancel()
        return slots

    async def _result_of(
        self, slot: _Job | BatchResult, shrink: Callable[[SendResult], BatchResult] | None
    ) -> BatchResult:
        if isinstance(slot, Job):
            await slot.outcome.wait()
            slot = _settled(slot, self._tls_mode)
        return shrink(slot) if shrink is not None and isinstance(slot, SendResult) else slot

    async def _interrupt(
        self,
        window: Iterable[_Job | BatchResult],
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> list[BatchResult]:
        """Ctrl-C or cancellation: hand out nothing more, let the connections finish the
        messages they hold (their verdicts come in), and say what happened to each."""
        self._interrupted = self._closing = True
        with self._lock:
            self._queue.clear()  # never taken: reported "not sent" below
        self._wake_all()
        try:
            await self._join_workers()
        except AsyncBackend.interruptions:
            pass  # interrupted again: stop waiting; what is still out is "status unknown"
        results: list[BatchResult] = []
        for slot in window:
            if not isinstance(slot, Job):
                results.append(slot)
                continue
            result = slot.result or interrupted(slot.prepared.sender, slot.prepared.recipients,
                                                self._tls_mode, content_sent=slot.taken)
            results.append(shrink(result) if shrink is not None else result)
        return results

    # -- queue and workers ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise LocalProtocolError("this pool is closed")
        owner = AsyncBackend.owner()
        if self._owner is None:
            self._owner = owner
        elif self._owner is not owner:
            # Its connections and workers live on that loop.
            raise LocalProtocolError("a Pool can only be used in the event loop that first"
                                     " used it")

    async def _join_workers(self) -> None:
        # Retries may start a worker while others finish: wait until none is left.
        while self._workers:
            for worker in list(self._workers):
                await worker.join()
                self._workers.discard(worker)

    def _enqueue(self, jobs: list[_Job], *, front: bool = False) -> None:
        if not jobs:
            return
        with self._lock:
            if front:
                for job in jobs:
                    job.taken = False  # certainly not accepted: back to "not sent" until taken
                self._queue.extendleft(reversed(jobs))
            else:
                self._queue.extend(jobs)
            woken = 0
            while woken < len(jobs) and self._idle:
                # The most recently idle worker first: its connection is the likeliest open.
                waiter = self._idle.pop()
                if not waiter.done():
                    waiter.set()
                    woken += 1
            self._start_workers(len(self._queue))

    def _start_workers(self, wanted: int) -> None:
        """Have ``wanted`` workers free for new work, never more than ``max_connections``."""
        wanted -= len(self._workers) - self._sending  # idle, waking or still connecting
        while wanted > 0 and len(self._workers) < self.max_connections:
            self._workers.add(AsyncBackend.spawn(self._work, self._workers.discard))
            wanted -= 1

    def _wake_all(self) -> None:
        with self._lock:
            while self._idle:
                self._idle.pop().set()

    async def _wait_for_work(self) -> bool:
        """Wait until a message is queued; False when the pool closes with none left."""
        while True:
            with self._lock:
                while self._queue and self._queue[0].abandoned:
                    self._queue.popleft()
                if self._queue:
                    return True
                if self._closing:
                    return False
                # Registered under the lock: a message queued from now on wakes us.
                waiter = AsyncOutcome()
                self._idle.append(waiter)
            await waiter.wait()

    async def _first_job(self) -> _Job | None:
        """The next job for a batch, once the rate limit allows; None when none is left."""
        with self._lock:
            while self._queue and self._queue[0].abandoned:
                self._queue.popleft()
            if not self._queue or self._interrupted:
                return None
            job = self._queue.popleft()
            job.taken = True
        if self._limiter is not None:
            await AsyncBackend.sleep(self._limiter.reserve(AsyncBackend.now()))
        return job

    def _batch(
        self, first: _Job, room: int, taken: list[_Job]
    ) -> Generator[PreparedMessage, None, None]:
        """The batch, taken from the queue while the connection sends it (up to ``room``):
        the queue keeps filling meanwhile, so a connection rarely waits for a new batch."""
        job: _Job | None = first
        while job is not None:
            taken.append(job)
            yield job.prepared
            job = None
            if len(taken) >= room or self._interrupted:
                return
            with self._lock:
                while self._queue and self._queue[0].abandoned:
                    self._queue.popleft()
                if not self._queue:
                    return
                if self._limiter is not None and not self._limiter.try_acquire(
                        AsyncBackend.now()):
                    return  # send what we have; the next message waits for its token
                job = self._queue.popleft()
                job.taken = True

    async def _work(self) -> None:
        """One connection's life: connect, take batches, send them pipelined, settle."""
        client: AsyncSMTPClient | None = None
        used = 0  # messages handed to the current connection
        connect_failures = 0
        try:
            while await self._wait_for_work():
                if client is None:
                    # Connect before taking messages: meanwhile the caller queues more,
                    # and this connection then takes a long batch.
                    client = AsyncSMTPClient(self._host, self._port, **self._client_options)
                    used = 0
                    try:
                        await client.connect()
                    except CdoMailError as exc:
                        client = None
                        connect_failures += 1
                        if await self._settle_connect_failure(exc):
                            delay = CONNECT_BACKOFF * 2 ** (connect_failures - 1)
                            await AsyncBackend.sleep(min(delay, CONNECT_BACKOFF_CAP))
                        continue
                    connect_failures = 0
                used += await self._run_batch(client, used)
                full = self.messages_per_connection is not None and (
                    used >= self.messages_per_connection)
                if full and client.is_connected:
                    await client.aclose()  # QUIT; the next batch opens a fresh session
                if not client.is_connected:
                    client = None
        finally:
            if client is not None:
                await client.aclose()

    async def _run_batch(self, client: AsyncSMTPClient, used: int) -> int:
        """Send one batch on ``client`` and settle it; return how many messages it took."""
        first = await self._first_job()
        if first is None:
            return 0
        taken: list[_Job] = []
        with self._lock:
            self._sending += 1
        try:
            results = await self._send_batch(client, self._batch(first, self._room(used),
                                                                 taken), taken)
        finally:
            with self._lock:
                self._sending -= 1
        if results is not None:
            self._settle(taken, results, connection_lost=not client.is_connected,
                         reused=used > 0)
        return len(taken)

    def _room(self, used: int) -> int:
        """How many messages the worker's connection may take in its next batch."""
        if self.messages_per_connection is None:
            return MAX_BATCH
        return max(1, min(MAX_BATCH, self.messages_per_connection - used))

    async def _send_batch(
        self,
        client: AsyncSMTPClient,
        batch: Generator[PreparedMessage, None, None],
        taken: list[_Job],
    ) -> list[SendResult] | None:
        """Send one batch pipelined; None when it failed in a way no result describes."""
        try:
            # The prepared messages carry the caller's envelope (sender=, recipients=).
            return await client.send_prepared(batch)
        except AsyncBackend.interruptions as exc:
            # This worker itself was stopped: the client says what it knows.
            known = getattr(exc, "partial_results", [])
            for job, result in zip(taken, known, strict=False):
                job.resolve(result)
            for job in taken[len(known):]:
                job.resolve(interrupted(job.prepared.sender, job.prepared.recipients,
                                        self._tls_mode, content_sent=False))
            raise
        except Exception as exc:  # a bug, not a per-message failure: tell the callers
            await client.aclose()
            for job in taken:
                job.resolve(unsent_result(job.prepared, LocalProtocolError(
                    f"the pool failed while sending this message: {exc!r}"), self._tls_mode))
            return None

    # -- deciding what happens to each message -----------------------------------------

    async def _settle_connect_failure(self, error: CdoMailError) -> bool:
        """No session: retry the next batch when the failure may pass; True when it may."""
        transient = may_pass(error)
        job = await self._first_job()
        if job is None:
            return transient
        batch = [job]
        with self._lock:
            while self._queue and len(batch) < MAX_BATCH:
                batch.append(self._queue.popleft())
        retry = []
        for job in batch:
            job.attempts += 1
            if transient and job.attempts <= self.retries and not self._interrupted:
                retry.append(job)
            else:
                job.resolve(unsent_result(job.prepared, error, self._tls_mode))
        self._enqueue(retry, front=True)
        return transient

    def _settle(
        self,
        batch: list[_Job],
        results: list[SendResult],
        *,
        connection_lost: bool,
        reused: bool,
    ) -> None:
        judged = [judge(job, result, connection_lost) for job, result in zip(batch, results,
                                                                           strict=True)]
        # A connection reused from an earlier batch that failed before any message of
        # this batch got a verdict was probably closed while idle: charge nobody.
        stale = reused and all(outcome is Verdict.RETRY_COLLATERAL for outcome, _ in judged)
        charged_collateral = stale
        retry: list[_Job] = []
        for job, (outcome, result) in zip(batch, judged, strict=True):
            if outcome is Verdict.FINAL:
                job.resolve(result)
                continue
            if outcome is Verdict.RETRY_OWN or not charged_collateral:
                # The first unfinished message of a failed connection is charged; the
                # ones queued behind it never had their turn.
                job.attempts += 1
                charged_collateral = charged_collateral or outcome is Verdict.RETRY_COLLATERAL
            if self._interrupted:
                job.resolve(result)  # certainly not accepted, and not sent again
            elif job.attempts <= self.retries and job.rearm():
                retry.append(job)
            else:
                job.resolve(result)
        self._enqueue(retry, front=True)


def _finished(slot: _Job | BatchResult) -> bool:
    return not isinstance(slot, Job) or slot.result is not None


def _settled(job: _Job, tls_mode: str) -> SendResult:
    if job.result is not None:
        return job.result
    # Only a cancelled wait leaves a job without a result; it never went out.
    return interrupted(job.prepared.sender, job.prepared.recipients, tls_mode,
                       content_sent=False)
