"""The worker side of :class:`~cdomail.ProcessPool`, and what crosses the process boundary.

A worker with one connection runs the blocking :class:`~cdomail.Pool` (one connection
thread, no event loop): measured on loopback it spends about a quarter less CPU per
message than an :class:`~cdomail.AsyncPool` on its own loop, and CPU per message is
what bounds a sender sharing the machine with its server (see docs/pool.md). A worker
with several connections runs an ``AsyncPool`` on its own loop. Either way the same
pool rules decide retries and "status unknown" (``cdomail._pool_rules``).

Orders arrive on a ``multiprocessing`` queue as pickled ``(batch number, items,
compact)``, ``STOP_ORDER`` (Ctrl-C in the caller's process) or ``None`` (close).
Results go back on the worker's own pipe as pickled ``(batch number, results,
finished)`` groups.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import queue
import signal
import threading
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from typing import Any

from ._async.pool import AsyncPool
from ._sync.pool import Pool
from .batch import BatchResult, CompactResult, interrupted, partial_results
from .errors import CdoMailError, InputError, StatusUnknown
from .message import MessageInput, OutgoingMessage, prepare_outgoing
from .result import SendResult

#: A worker reports results in groups of this many (fewer pickles, steady flow).
REPORT_EVERY = 64
#: The order that stops a worker taking messages (the caller was interrupted).
STOP_ORDER = pickle.dumps("stop", protocol=pickle.HIGHEST_PROTOCOL)

#: host, port, the worker's connections, and the pool and client keywords.
Settings = tuple[str, int | None, int, dict[str, Any]]

#: What crosses to a worker: raw bytes, or (content, sender, recipients, mail options,
#: rcpt options). Plain tuples and bytes pickle a hundred times faster than dataclasses.
Portable = bytes | tuple[bytes, str | None, Sequence[str] | None, Sequence[str], Sequence[str]]


def portable(message: MessageInput | OutgoingMessage) -> Portable:
    """The message as bytes another process can send (EmailMessage serialised here:
    pickling the EmailMessage itself for the worker costs about five times more)."""
    if type(message) is bytes:
        return message
    item = message if isinstance(message, OutgoingMessage) else OutgoingMessage(message)
    if isinstance(item.message, bytes | bytearray | memoryview):
        return (bytes(item.message), item.sender, item.recipients, tuple(item.mail_options),
                tuple(item.rcpt_options))
    if isinstance(item.message, EmailMessage):
        prepared = prepare_outgoing(item)  # bad input is refused here, before anything
        assert prepared.content is not None  # a whole message is kept whole
        return (prepared.content, prepared.sender, prepared.recipients,
                prepared.mail_options, prepared.rcpt_options)
    raise InputError("a ProcessPool sends bytes or EmailMessage objects; a file or a stream"
                     " of chunks cannot be handed to another process (use Pool)",
                     field="message")


def _outgoing(item: Portable) -> bytes | OutgoingMessage:
    return item if isinstance(item, bytes) else OutgoingMessage(*item)


def _to_wire(result: BatchResult) -> object:
    # A CompactResult travels as a tuple of its fields (pickling the slots dataclass
    # costs more than sending the message did).
    if type(result) is CompactResult:
        return (result.sender, result.recipients, result.tls_mode, result.tls, result.accepted,
                dict(result.refused), result.reply_code, result.error, result.size)
    return result


def from_wire(item: Any) -> BatchResult:
    return CompactResult(*item) if type(item) is tuple else item


def encode(number: int, report: list[BatchResult], *, finished: bool) -> bytes:
    try:
        return pickle.dumps((number, [_to_wire(r) for r in report], finished),
                            protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        # An error object that does not pickle: keep its type name and text.
        portable = [r if r.error is None else dataclasses.replace(
            r, error=CdoMailError(f"{type(r.error).__name__}: {r.error}")) for r in report]
        return pickle.dumps((number, [_to_wire(r) for r in portable], finished),
                            protocol=pickle.HIGHEST_PROTOCOL)


class _Report:
    """One batch's results on their way to the caller: sent every REPORT_EVERY results,
    so the caller's results stream while the batch goes on, and the rest at its end."""

    def __init__(self, results: Any, number: int) -> None:
        self._results, self._number = results, number
        self._pending: list[BatchResult] = []
        self._sent = 0

    @property
    def count(self) -> int:
        """How many results this batch has had so far."""
        return self._sent + len(self._pending)

    def add(self, result: BatchResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= REPORT_EVERY:
            self._results.send_bytes(encode(self._number, self._pending, finished=False))
            self._sent += len(self._pending)
            self._pending = []

    def finish(self, rest: list[BatchResult]) -> None:
        self._results.send_bytes(encode(self._number, self._pending + rest, finished=True))


def _unknown(why: str, count: int) -> list[BatchResult]:
    # Whatever is not accounted for may have gone out: never reported as "not sent".
    return [SendResult(sender="", recipients=[], tls_mode="", tls=None,
                       error=StatusUnknown(f"{why}: the server may or may not have"
                                           " accepted it; not resent"))] * max(0, count)


def worker_main(orders: Any, results: Any, number: int, settings: Settings) -> None:
    # The caller's process decides what Ctrl-C means, and tells the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if settings[2] == 1:
        _serve_blocking(orders, results, settings)
    else:
        asyncio.run(_serve(orders, results, settings))


# -- one connection: the blocking Pool ------------------------------------------------------


def _serve_blocking(orders: Any, results: Any, settings: Settings) -> None:
    host, port, connections, options = settings
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stopping = threading.Event()

    def read_orders() -> None:
        # A thread: a stop order must be seen while a batch is being sent.
        while True:
            order = orders.get()
            if order == STOP_ORDER:
                stopping.set()
            inbox.put(order)
            if order is None:
                return

    threading.Thread(target=read_orders, daemon=True).start()
    with Pool(host, port, max_connections=connections, **options) as pool:
        while (order := inbox.get()) is not None:
            if order != STOP_ORDER:
                _send_batch_blocking(pool, results, stopping, *pickle.loads(order))


def _send_batch_blocking(pool: Pool, results: Any, stopping: threading.Event, number: int,
                         items: list[Portable], compact: bool) -> None:
    taken = 0
    report = _Report(results, number)
    why = "the worker process was stopped before its verdict"

    def until_stopped() -> Iterator[bytes | OutgoingMessage]:
        # After a stop order the pool sends only what it has taken already (its bounded
        # window), and the rest of the batch is certainly not sent.
        nonlocal taken
        for item in items:
            if stopping.is_set():
                return
            taken += 1
            yield _outgoing(item)

    try:
        for result in pool.send_iter(until_stopped(), compact=compact):  # type: ignore[call-overload]
            report.add(result)
    except Exception as exc:  # a bug: the caller must still hear about every message
        why = f"the worker process failed ({exc!r})"
    report.finish(_unknown(why, taken - report.count)
                  + [interrupted("", [], "", content_sent=False)] * (len(items) - taken))


# -- several connections: an AsyncPool on the worker's own loop ------------------------------


async def _serve(orders: Any, results: Any, settings: Settings) -> None:
    host, port, connections, options = settings
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()

    def read_orders() -> None:
        # A thread: the queue's get() blocks, and the loop must keep sending meanwhile.
        while True:
            order = orders.get()
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, order)
            except RuntimeError:  # the loop has ended (stopped or interrupted): no one listens
                return
            if order is None:
                return

    threading.Thread(target=read_orders, daemon=True).start()
    running: set[asyncio.Task[None]] = set()
    async with AsyncPool(host, port, max_connections=connections, **options) as pool:
        while (order := await inbox.get()) is not None:
            if order == STOP_ORDER:
                for task in running:
                    task.cancel()
                break
            task = loop.create_task(_send_batch(pool, results, *pickle.loads(order)))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running, return_exceptions=True)


async def _send_batch(pool: AsyncPool, results: Any, number: int,
                      items: list[Portable], compact: bool) -> None:
    report = _Report(results, number)
    why = "the worker process was stopped before its verdict"
    try:
        outgoing = [_outgoing(item) for item in items]
        async for result in pool.send_iter(outgoing, compact=compact):  # type: ignore[call-overload]
            report.add(result)
    except asyncio.CancelledError as exc:
        for result in partial_results(exc) or []:
            report.add(result)
    except Exception as exc:  # a bug: the caller must still hear about every message
        why = f"the worker process failed ({exc!r})"
    report.finish(_unknown(why, len(items) - report.count))
