"""cdomail.Pool: many messages over a bounded set of pipelined connections.

A pool keeps at most ``max_connections`` :class:`AsyncSMTPClient` sessions to one
server. Each session belongs to a worker task that takes small batches of
messages from a shared queue and sends each batch pipelined on its connection
(RFC 2920 when advertised, CHUNKING when offered), so every connection carries a
stream of messages and the connections run concurrently.

Delivery guarantees (no loss, no duplicates):

* A message is sent again only when the server certainly did not accept it:
  it was refused with a 4xx reply (a transient refusal of the whole
  transaction: MAIL, DATA, the final reply, or every RCPT), the server said 421
  before the message's verdict (RFC 5321 §3.8: after 421 the server closes and
  processes nothing more), or the connection broke before any of its content
  was written. Each message is sent at most ``1 + retries`` times.
* A message whose content went out and got no verdict is never resent: its
  result carries :class:`~cdomail.errors.StatusUnknown` (the server may have
  queued it, RFC 5321 §4.5.3.2.6), whether the wait timed out or the connection
  broke (a reset can hide replies already sent). A message accepted with 250 is
  never resent.
* When a connection fails, only the first message it did not finish is charged
  a retry; the ones queued behind it did not get their chance yet.

One-shot inputs (a binary file or an iterator of chunks) are never materialised:
memory stays flat whatever their size. The header block is read when the
message is queued; the body is read only while it is written to a connection.
Such a message is retried only if its body was never read (the failure came
before its content); once its body has been read, a transient refusal is
reported in its result instead (the caller still holds the source and may send
it again). Messages given as ``bytes`` or ``EmailMessage`` can always be
prepared again, so every retryable failure is retried for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from ._async.client import TRANSACTION_WINDOW, AsyncSMTPClient
from .errors import (
    CdoMailError,
    ConfigurationError,
    DataRefused,
    InputError,
    LocalProtocolError,
    RecipientsRefused,
    RemoteProtocolError,
    ReplyError,
    SenderRefused,
    ServiceClosing,
    StatusUnknown,
    TimeoutError,
    TransportError,
)
from .message import MessageInput, OutgoingMessage, PreparedMessage, prepare_outgoing
from .mime import StreamedMessage
from .result import SendResult

__all__ = ["Pool"]

#: Most messages one connection takes from the queue at once. Between two batches the
#: connection waits one round trip for the last verdict, so batches are long; the
#: client itself keeps at most TRANSACTION_WINDOW transactions in flight.
MAX_BATCH = 4 * TRANSACTION_WINDOW
#: Pause after a failed connection attempt, doubled each time up to the cap (seconds).
CONNECT_BACKOFF = 0.05
CONNECT_BACKOFF_CAP = 2.0


class _Outcome(enum.Enum):
    FINAL = "final"  # report the result as it is
    RETRY_OWN = "retry-own"  # refused transiently: charged one retry
    RETRY_COLLATERAL = "retry-collateral"  # the connection ended before its turn


class _Job:
    """One message on its way: its input, its envelope, its attempts, and its future."""

    def __init__(self, item: OutgoingMessage, future: asyncio.Future[SendResult]) -> None:
        # Raises InputError before anything is queued (rule: bad input, no byte sent).
        prepared = prepare_outgoing(item)
        source = _reusable_source(item.message)
        self.source = None if source is None else dataclasses.replace(item, message=source)
        self.future = future
        self.attempts = 0
        self.body_read = False
        self.prepared = self._watched(prepared)

    def _watched(self, prepared: PreparedMessage) -> PreparedMessage:
        self.body_read = False
        body = prepared.body_chunks

        def body_chunks() -> Iterator[bytes]:
            # Runs on the first next(): from here on a one-shot body is (partly) consumed.
            self.body_read = True
            yield from body

        prepared.body_chunks = body_chunks()
        return prepared

    def rearm(self) -> bool:
        """Make the message ready to be sent again; False when that is impossible."""
        if not self.body_read:
            return True
        if self.source is None:
            return False
        self.prepared = self._watched(prepare_outgoing(self.source))
        return True

    def resolve(self, result: SendResult) -> None:
        """Hand the final result to whoever waits (nobody, if they were cancelled)."""
        if not self.future.done():
            self.future.set_result(result)


def _reusable_source(message: MessageInput) -> MessageInput | None:
    """The input to prepare again for a retry, or None for one-shot streams."""
    if isinstance(message, EmailMessage):
        return message
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)  # a snapshot: the caller may reuse a bytearray
    if isinstance(message, StreamedMessage):
        return message  # every iteration yields the same bytes, reading its files afresh
    return None


class _RateLimiter:
    """A token bucket holding at most one token, refilled at ``rate`` per second.

    Kept in its virtual-scheduling form (the time the next token is due), so
    waiting tasks are served in order and the pool never exceeds the rate,
    even in a burst after an idle period.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_due = -math.inf

    def try_acquire(self) -> bool:
        """Take a token if one is available right now."""
        now = asyncio.get_running_loop().time()
        if self._next_due > now:
            return False
        self._next_due = now + self._interval
        return True

    async def acquire(self) -> None:
        """Wait for a token."""
        now = asyncio.get_running_loop().time()
        due = max(now, self._next_due)
        self._next_due = due + self._interval
        if due > now:
            await asyncio.sleep(due - now)


class Pool:
    """A bounded pool of pipelined SMTP connections to one server.

    ``Pool(host, port=None, *, max_connections=8, messages_per_connection=None,
    rate_limit=None, retries=2, **client_options)``: ``client_options`` are the
    :class:`AsyncSMTPClient` keywords (``tls``, ``username``, ``cafile``, ...).

    * ``max_connections``: at most this many sessions are open at once;
      connections open when there is work and stay open until :meth:`aclose`.
    * ``messages_per_connection``: after this many messages a connection says
      QUIT and the next message opens a new one.
    * ``rate_limit``: messages per second across the whole pool.
    * ``retries``: how many times a message the server certainly did not accept
      may be sent again (see the module documentation for the exact rules).

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
        self.max_connections = _count(max_connections, "max_connections", minimum=1)
        self.messages_per_connection = (
            None if messages_per_connection is None
            else _count(messages_per_connection, "messages_per_connection", minimum=1)
        )  # fmt: skip
        self.retries = _count(retries, "retries", minimum=0)
        self.rate_limit = None if rate_limit is None else _rate(rate_limit)
        self._host = host
        self._port = port
        self._client_options = client_options
        # Builds (and so checks) the client configuration now, before any connection.
        self._tls_mode = AsyncSMTPClient(host, port, **client_options).config.effective_mode
        self._limiter = None if self.rate_limit is None else _RateLimiter(self.rate_limit)
        self._queue: deque[_Job] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._closing = False
        self._sending = 0  # workers busy with a batch
        self._loop: asyncio.AbstractEventLoop | None = None

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
        job = _Job(OutgoingMessage(message, sender, recipients),
                   asyncio.get_running_loop().create_future())
        self._enqueue([job])
        try:
            result = await job.future
        except asyncio.CancelledError:
            job.future.cancel()
            raise
        if result.error is not None:
            raise result.error
        return result

    async def send_many(
        self, messages: Iterable[MessageInput | OutgoingMessage]
    ) -> list[SendResult]:
        """Send many messages across the pool's connections.

        Each item is a message (envelope from its headers) or an
        :class:`~cdomail.OutgoingMessage` with its own envelope and parameters.

        Returns one result per message, in the order given; a message that failed
        has ``result.error`` set (bad input, a refusal, or a connection failure
        after its retries). Per-message failures never raise.
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        inputs = list(messages)
        # Open the connections while the messages are being prepared: one turn of the
        # loop lets each new worker send its connection request.
        if self._start_workers(len(inputs), connect_first=True):
            await asyncio.sleep(0)
            self._check_open()
        slots: list[_Job | SendResult] = []
        for message in inputs:
            try:
                item = message if isinstance(message, OutgoingMessage) else OutgoingMessage(message)
                slots.append(_Job(item, loop.create_future()))
            except InputError as exc:
                slots.append(self._unsent(None, exc))
        jobs = [slot for slot in slots if isinstance(slot, _Job)]
        self._enqueue(jobs)
        try:
            return [await slot.future if isinstance(slot, _Job) else slot for slot in slots]
        except asyncio.CancelledError:
            for job in jobs:
                job.future.cancel()  # workers skip cancelled jobs still queued
            raise

    async def aclose(self) -> None:
        """Finish the queued messages, then QUIT every connection."""
        self._closing = True
        self._wake_all()
        # Retries may start a worker while others finish: wait until none is left.
        while self._workers:
            await asyncio.gather(*list(self._workers))

    async def __aenter__(self) -> Pool:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- queue and workers ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise LocalProtocolError("this pool is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            # Its connections and workers live on that loop.
            raise LocalProtocolError("a Pool can only be used in the event loop that first"
                                     " used it")

    def _enqueue(self, jobs: list[_Job], *, front: bool = False) -> None:
        if not jobs:
            return
        if front:
            self._queue.extendleft(reversed(jobs))
        else:
            self._queue.extend(jobs)
        wanted = len(jobs)
        woken = 0
        while woken < wanted and self._idle:
            # The most recently idle worker first: its connection is the likeliest to be open.
            waiter = self._idle.pop()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        self._start_workers(len(self._queue), connect_first=False)

    def _start_workers(self, wanted: int, *, connect_first: bool) -> bool:
        """Have ``wanted`` workers free for new work, never more than ``max_connections``.

        Returns whether a worker was started.
        """
        wanted -= len(self._workers) - self._sending  # idle, waking or still connecting
        started = False
        while wanted > 0 and len(self._workers) < self.max_connections:
            task = asyncio.get_running_loop().create_task(self._work(connect_first))
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)
            wanted -= 1
            started = True
        return started

    def _wake_all(self) -> None:
        while self._idle:
            waiter = self._idle.pop()
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_work(self) -> bool:
        """Wait until a message is queued; False when the pool closes with none left."""
        while True:
            while self._queue and self._queue[0].future.done():
                self._queue.popleft()  # its caller was cancelled
            if self._queue:
                return True
            if self._closing:
                return False
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._idle:
                    self._idle.remove(waiter)

    async def _next_batch(self, limit: int) -> list[_Job]:
        """Up to ``limit`` queued jobs (fewer under a rate limit); maybe none."""
        # An even share among the workers not busy sending, so that connections
        # opening together get equal streams (a short last batch costs a round trip).
        takers = max(1, len(self._workers) - self._sending)
        share = max(1, math.ceil(len(self._queue) / takers))
        size = min(limit, MAX_BATCH, share)
        batch: list[_Job] = []
        while self._queue and len(batch) < size:
            job = self._queue[0]
            if job.future.done():
                self._queue.popleft()
                continue
            if self._limiter is not None:
                if batch and not self._limiter.try_acquire():
                    break  # send what we have; the next message waits for its token
                if not batch:
                    self._queue.popleft()
                    await self._limiter.acquire()
                    batch.append(job)
                    continue
            batch.append(self._queue.popleft())
        return [job for job in batch if not job.future.done()]

    async def _work(self, connect_first: bool) -> None:
        """One connection's life: connect, take batches, send them pipelined, settle."""
        client: AsyncSMTPClient | None = None
        used = 0  # messages handed to the current connection
        connect_failures = 0
        try:
            while connect_first or await self._wait_for_work():
                connect_first = False
                if client is None:
                    # Connect before taking messages: meanwhile the caller queues the
                    # rest, and this connection then takes its full share.
                    client = AsyncSMTPClient(self._host, self._port, **self._client_options)
                    used = 0
                    try:
                        await client.connect()
                    except CdoMailError as exc:
                        client = None
                        connect_failures += 1
                        batch = await self._next_batch(self._room(None, 0))
                        if self._settle_connect_failure(batch, exc):
                            delay = CONNECT_BACKOFF * 2 ** (connect_failures - 1)
                            await asyncio.sleep(min(delay, CONNECT_BACKOFF_CAP))
                        continue
                    connect_failures = 0
                batch = await self._next_batch(self._room(client, used))
                if not batch:
                    continue
                reused = used > 0
                used += len(batch)
                self._sending += 1
                try:
                    results = await self._send_batch(client, batch)
                finally:
                    self._sending -= 1
                if results is not None:
                    self._settle(batch, results, connection_lost=not client.is_connected,
                                 reused=reused)
                full = self.messages_per_connection is not None and (
                    used >= self.messages_per_connection)
                if full and client.is_connected:
                    await client.aclose()  # QUIT; the next batch opens a fresh session
                if not client.is_connected:
                    client = None
        finally:
            if client is not None:
                await client.aclose()

    def _room(self, client: AsyncSMTPClient | None, used: int) -> int:
        """How many messages the worker's connection may take in its next batch."""
        if self.messages_per_connection is None:
            return MAX_BATCH
        if client is None:
            return self.messages_per_connection
        return max(1, self.messages_per_connection - used)

    @staticmethod
    async def _send_batch(client: AsyncSMTPClient, batch: list[_Job]) -> list[SendResult] | None:
        """Send one batch pipelined; None when it failed in a way no result describes."""
        try:
            # The prepared messages carry the caller's envelope (sender=, recipients=),
            # which the public AsyncSMTPClient.send_many does not take.
            return await client._send_prepared(iter([job.prepared for job in batch]))
        except asyncio.CancelledError:
            for job in batch:
                job.future.cancel()
            raise
        except Exception as exc:  # a bug, not a per-message failure: tell the callers
            await client.aclose()
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return None

    # -- deciding what happens to each message -----------------------------------------

    def _settle_connect_failure(self, batch: list[_Job], error: CdoMailError) -> bool:
        """No session: retry the batch when the failure may pass; True when it may."""
        transient = _may_pass(error)
        retry = []
        for job in batch:
            job.attempts += 1
            if transient and job.attempts <= self.retries:
                retry.append(job)
            else:
                job.resolve(self._unsent(job.prepared, error))
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
        judged = [_judge(job, result, connection_lost) for job, result in zip(batch, results,
                                                                            strict=True)]
        # A connection reused from an earlier batch that failed before any message of
        # this batch got a verdict was probably closed while idle: charge nobody.
        stale = reused and all(outcome is _Outcome.RETRY_COLLATERAL for outcome, _ in judged)
        charged_collateral = stale
        retry: list[_Job] = []
        for job, (outcome, result) in zip(batch, judged, strict=True):
            if outcome is _Outcome.FINAL:
                job.resolve(result)
                continue
            if outcome is _Outcome.RETRY_OWN or not charged_collateral:
                # The first unfinished message of a failed connection is charged; the
                # ones queued behind it never had their turn.
                job.attempts += 1
                charged_collateral = charged_collateral or outcome is _Outcome.RETRY_COLLATERAL
            if job.attempts <= self.retries and job.rearm():
                retry.append(job)
            else:
                job.resolve(result)
        self._enqueue(retry, front=True)

    def _unsent(self, prepared: PreparedMessage | None, error: CdoMailError) -> SendResult:
        return SendResult(
            sender=prepared.sender if prepared else "",
            recipients=list(prepared.recipients) if prepared else [],
            tls_mode=self._tls_mode.value,
            tls=None,
            error=error,
        )


def _judge(job: _Job, result: SendResult, connection_lost: bool) -> tuple[_Outcome, SendResult]:
    """What to do with one message after a batch: report it, or send it again."""
    error = result.error
    if error is None or isinstance(error, StatusUnknown):
        return _Outcome.FINAL, result
    if isinstance(error, RecipientsRefused):
        # No recipient accepted: nothing was delivered, whatever DATA got (RFC 2920 §3.1).
        transient = all(refusal.is_transient for refusal in error.refused)
        return (_Outcome.RETRY_OWN if transient else _Outcome.FINAL), result
    if result.reply is not None:
        # A final reply that refused the whole transaction (421 included).
        transient = 400 <= result.reply.code < 500
        return (_Outcome.RETRY_OWN if transient else _Outcome.FINAL), result
    if isinstance(error, SenderRefused | DataRefused):
        return (_Outcome.RETRY_OWN if error.is_transient else _Outcome.FINAL), result
    unsent = result.size == 0 and not job.body_read
    if connection_lost and (unsent or isinstance(error, ServiceClosing)):
        # The session ended before this message's verdict, and either none of its
        # content was written or the server said 421 first (RFC 5321 §3.8: it then
        # processes nothing more). Either way it was certainly not accepted.
        return _Outcome.RETRY_COLLATERAL, result
    if connection_lost and isinstance(error, TransportError | TimeoutError | RemoteProtocolError):
        unknown = StatusUnknown(
            "the connection failed after the message content was sent and before its"
            f" verdict: the server may or may not have accepted it; not resent ({error})"
        )
        unknown.__cause__ = error
        return _Outcome.FINAL, dataclasses.replace(result, error=unknown)
    return _Outcome.FINAL, result


def _may_pass(error: CdoMailError) -> bool:
    """Whether a failure to open a session may go away by trying again."""
    if isinstance(error, ReplyError):
        return error.is_transient
    return isinstance(error, TransportError | TimeoutError)


def _count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number >= {minimum}, not {value!r}",
                                 field=name)
    return value


def _rate(value: object) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        raise ConfigurationError(
            f"rate_limit must be a positive number of messages per second, not {value!r}",
            field="rate_limit",
        )
    return float(value)
