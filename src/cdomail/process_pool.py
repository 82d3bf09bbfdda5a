"""cdomail.ProcessPool: the pool on every core (worker processes, each with its own loop).

One Python process sending over many connections is bound by one core: preparing
and framing messages, and reading replies, is Python work. A ``ProcessPool``
starts ``processes`` workers; each runs an :class:`~cdomail.AsyncPool` on its own
event loop with its share of ``max_connections``. The caller's process takes the
messages lazily, serialises ``EmailMessage`` objects (so bad input is refused
here, before any byte is sent), and hands the bytes out in batches, at most two
batches ahead per worker (memory stays bounded). Results come back in small
groups and are yielded in input order.

A worker that dies never takes a message with it silently: the messages of its
unfinished batches whose results had not come back are reported as
:class:`~cdomail.StatusUnknown` (the worker may have sent them), and none of them
is sent again. Workers ignore SIGINT: on Ctrl-C the caller's process tells them to
stop, they finish the messages already on a connection (see :mod:`cdomail.batch`)
and report, and the ``KeyboardInterrupt`` carries ``partial_results``.

Only whole messages can cross to another process: ``bytes``, ``EmailMessage``, or
an :class:`~cdomail.OutgoingMessage` holding one. A file or a stream of chunks gets
an :class:`~cdomail.InputError` result (use :class:`~cdomail.Pool` for those).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from email.message import EmailMessage
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from ._async.pool import AsyncPool
from ._pool_rules import count
from ._sync.client import SMTPClient
from .batch import BatchResult, CompactResult, attach, partial_results
from .errors import CdoMailError, InputError, LocalProtocolError, StatusUnknown
from .message import MessageInput, OutgoingMessage, prepare_outgoing
from .result import SendResult

__all__ = ["ProcessPool"]

#: Messages handed to a worker at once, and batches a worker may hold at once.
BATCH_SIZE = 256
BATCHES_PER_WORKER = 2
#: A worker reports results in groups of this many (fewer pickles, steady flow).
REPORT_EVERY = 64
#: How often the caller checks that its workers are alive while it waits (seconds).
LIVENESS_POLL = 0.1

_STOP = "stop"


class _Worker:
    """The caller's handle on one worker process."""

    def __init__(self, context: BaseContext, number: int, results: Any,
                 settings: tuple[str, int | None, int, dict[str, Any]]) -> None:
        self.number = number
        self.orders: Any = context.Queue()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(self.orders, results, number, settings),
            name=f"cdomail-pool-{number}", daemon=True)
        self.batches: set[int] = set()
        self.process.start()


class _Batch:
    """A group of consecutive messages: results arrive for it in order.

    ``results`` only grows (one ``extend`` per report: an interruption finds it whole);
    ``yielded`` counts those :meth:`ProcessPool.send_iter` handed out.
    """

    def __init__(self, number: int, size: int, worker: _Worker | None) -> None:
        self.number = number
        self.size = size
        self.worker = worker
        self.results: list[BatchResult] = []
        self.yielded = 0

    @property
    def complete(self) -> bool:
        return len(self.results) >= self.size


class ProcessPool:
    """A pool whose connections are spread over ``processes`` worker processes.

    ``ProcessPool(host, port=None, *, processes=None, max_connections=8,
    batch_size=256, start_method="forkserver", **options)``: ``processes``
    defaults to the number of CPUs (never more than ``max_connections``);
    ``options`` are the :class:`~cdomail.AsyncPool` and client keywords
    (``retries``, ``messages_per_connection``, ``tls``, ``cafile``...).
    ``rate_limit`` is not supported here (it would be per process).

    Use it as a context manager: the workers start on entry and stop on exit.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        processes: int | None = None,
        max_connections: int = 8,
        batch_size: int = BATCH_SIZE,
        start_method: str = "forkserver",
        **options: Any,
    ) -> None:
        connections = count(max_connections, "max_connections", minimum=1)
        wanted = ((os.cpu_count() or 1) if processes is None
                  else count(processes, "processes", minimum=1))
        self.processes = min(wanted, connections)
        self.batch_size = count(batch_size, "batch_size", minimum=1)
        if "rate_limit" in options:
            raise InputError("rate_limit is not supported by ProcessPool (it would apply per"
                             " process); use Pool", field="rate_limit")
        client_options = {k: v for k, v in options.items()
                          if k not in ("retries", "messages_per_connection")}
        # Builds (and so checks) the configuration now, before any process starts.
        self._tls_mode = SMTPClient(host, port, **client_options).config.effective_mode.value
        AsyncPool(host, port, max_connections=connections, **options)
        shares = [connections // self.processes + (i < connections % self.processes)
                  for i in range(self.processes)]
        self._settings = [(host, port, share, options) for share in shares]
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Each worker is forked with cdomail already imported: a fast start.
            self._context.set_forkserver_preload(["cdomail"])
        #: Batches the caller holds at most (results waiting for an earlier batch).
        self._max_pending = self.processes * BATCHES_PER_WORKER * 2
        self._results: Any = None
        self._workers: list[_Worker] = []
        self._batches: dict[int, _Batch] = {}
        self._next_batch = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<ProcessPool processes={self.processes} live={len(self._workers)}>"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker processes (done by ``with`` and by the first send)."""
        if self._closed:
            raise LocalProtocolError("this pool is closed")
        if self._workers:
            return
        self._results = self._context.Queue()
        self._workers = [_Worker(self._context, number, self._results, settings)
                         for number, settings in enumerate(self._settings)]

    def close(self) -> None:
        """Let every worker finish its batches, QUIT its connections, and exit."""
        self._closed = True
        for worker in self._workers:
            worker.orders.put(None)
        for worker in self._workers:
            while worker.process.is_alive():
                # A worker exits once its last reports are in the pipe: keep reading them
                # (nobody waits for them any more) so a full pipe cannot hold it up.
                self._discard_reports()
                worker.process.join(timeout=LIVENESS_POLL)
        self._workers = []

    def _discard_reports(self) -> None:
        try:
            while True:
                self._results.get_nowait()
        except queue.Empty:
            return

    def __enter__(self) -> ProcessPool:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- sending --------------------------------------------------------------------------

    def send_many(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: bool = False
    ) -> list[BatchResult]:
        """One result per message, in input order (see :class:`~cdomail.AsyncPool`)."""
        kept: list[_Batch] = []
        pending: deque[_Batch] = deque()
        try:
            for _ in self._exchange(messages, compact, pending, kept):
                while pending and pending[0].complete:
                    pending.popleft()
        except KeyboardInterrupt as exc:
            self._stop(pending)
            attach(exc, [result for batch in kept for result in batch.results])
            raise
        except CdoMailError as exc:
            attach(exc, [result for batch in kept for result in batch.results])
            raise
        return [result for batch in kept for result in batch.results]

    def send_iter(
        self, messages: Iterable[MessageInput | OutgoingMessage], *, compact: bool = False
    ) -> Iterator[BatchResult]:
        """Yield each result, in input order, as soon as it is known. An interruption
        carries the results not yielded yet."""
        pending: deque[_Batch] = deque()
        try:
            for _ in self._exchange(messages, compact, pending, None):
                while pending and pending[0].yielded < len(pending[0].results):
                    head = pending[0]
                    head.yielded += 1
                    yield head.results[head.yielded - 1]
                    if head.complete and head.yielded == head.size:
                        pending.popleft()
        except KeyboardInterrupt as exc:
            self._stop(pending)
            attach(exc, [r for batch in pending for r in batch.results[batch.yielded:]])
            raise
        except CdoMailError as exc:
            attach(exc, [r for batch in pending for r in batch.results[batch.yielded:]])
            raise

    def _exchange(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        compact: bool,
        pending: deque[_Batch],
        kept: list[_Batch] | None,
    ) -> Iterator[None]:
        """Hand out batches and take results in, one step per iteration; the caller takes
        the results from ``pending`` (and keeps every batch in ``kept``) in between."""
        self.start()
        source = iter(messages)
        exhausted = False
        while True:
            while (not exhausted and len(pending) < self._max_pending
                   and (worker := self._free_worker()) is not None):
                before = len(pending)
                exhausted = not self._hand_out(source, worker, pending, compact)
                if kept is not None:
                    kept.extend(pending[index] for index in range(before, len(pending)))
            if exhausted and all(batch.complete for batch in pending):
                yield None  # the caller takes the last results
                return
            if not self._workers:
                raise LocalProtocolError("every worker process of the ProcessPool ended")
            yield None
            self._receive(timeout=LIVENESS_POLL)

    def _free_worker(self) -> _Worker | None:
        live = [w for w in self._workers if len(w.batches) < BATCHES_PER_WORKER]
        return min(live, key=lambda w: len(w.batches)) if live else None

    def _hand_out(self, source: Iterator[MessageInput | OutgoingMessage], worker: _Worker,
                  pending: deque[_Batch], compact: bool) -> bool:
        """Send the next batch to ``worker``; False when the messages are exhausted."""
        items: list[_Portable] = []
        for message in source:
            try:
                items.append(_portable(message))
            except InputError as exc:
                # Refused here: its own one-message batch keeps the input order.
                self._dispatch(items, worker, pending, compact)
                items = []
                refused = _Batch(self._new_number(), 1, None)
                refused.results.append(SendResult(sender="", recipients=[],
                                                  tls_mode=self._tls_mode, tls=None, error=exc))
                pending.append(refused)
                continue
            if len(items) >= self.batch_size:
                break
        else:
            self._dispatch(items, worker, pending, compact)
            return False
        self._dispatch(items, worker, pending, compact)
        return True

    def _dispatch(self, items: list[_Portable], worker: _Worker,
                  pending: deque[_Batch], compact: bool) -> None:
        if not items:
            return
        batch = _Batch(self._new_number(), len(items), worker)
        self._batches[batch.number] = batch
        worker.batches.add(batch.number)
        pending.append(batch)
        # Pickled here, not in the queue's feeder thread: a failure must not pass silently.
        worker.orders.put(pickle.dumps((batch.number, items, compact),
                                       protocol=pickle.HIGHEST_PROTOCOL))

    def _new_number(self) -> int:
        self._next_batch += 1
        return self._next_batch

    def _receive(self, timeout: float) -> None:
        """Take the results the workers sent; notice workers that died."""
        try:
            self._apply(self._results.get(timeout=timeout))
        except queue.Empty:
            pass
        self._drain()
        self._bury_dead()

    def _drain(self) -> None:
        while True:
            try:
                report = self._results.get_nowait()
            except queue.Empty:
                return
            self._apply(report)

    def _apply(self, report: bytes) -> None:
        number, wire, finished = pickle.loads(report)
        results = [_from_wire(item) for item in wire]
        batch = self._batches.get(number)
        if batch is None or batch.worker is None:
            return
        # Never more than the batch holds: a batch settled as unknown stays settled.
        batch.results.extend(results[:max(0, batch.size - len(batch.results))])
        if finished:
            batch.worker.batches.discard(number)
            del self._batches[number]  # the caller's deque (or list) holds it from here

    def _bury_dead(self) -> None:
        dead = [w for w in self._workers if not w.process.is_alive()]
        if not dead:
            return
        self._drain()  # a worker's last reports reach the pipe before it exits
        for worker in dead:
            self._workers.remove(worker)
            for number in list(worker.batches):
                batch = self._batches.pop(number)
                self._settle_unknown(batch, f"the worker process sending it ended (exit code"
                                            f" {worker.process.exitcode}) before its verdict")
            worker.batches.clear()

    def _settle_unknown(self, batch: _Batch, why: str) -> None:
        missing = batch.size - len(batch.results)
        if missing > 0:
            error = StatusUnknown(f"{why}: the server may or may not have accepted it;"
                                  " not resent")
            batch.results.extend([SendResult(sender="", recipients=[], tls_mode=self._tls_mode,
                                             tls=None, error=error)] * missing)

    def _stop(self, pending: deque[_Batch]) -> None:
        """Ctrl-C: every worker stops taking messages and reports what it knows."""
        for worker in self._workers:
            worker.orders.put(pickle.dumps(_STOP))
        try:
            while any(w.batches for w in self._workers):
                self._receive(timeout=LIVENESS_POLL)
        except KeyboardInterrupt:
            pass  # interrupted again: what has not come back is "status unknown"
        for batch in pending:
            self._settle_unknown(batch, "the batch was interrupted and the worker process"
                                        " did not report")
        self.close()


#: What crosses to a worker: raw bytes, or (content, sender, recipients, mail options,
#: rcpt options). Plain tuples and bytes pickle a hundred times faster than dataclasses.
_Portable = bytes | tuple[bytes, str | None, Sequence[str] | None, Sequence[str], Sequence[str]]


def _portable(message: MessageInput | OutgoingMessage) -> _Portable:
    """The message as bytes another process can send (EmailMessage serialised here)."""
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


def _outgoing(item: _Portable) -> bytes | OutgoingMessage:
    return item if isinstance(item, bytes) else OutgoingMessage(*item)


def _to_wire(result: BatchResult) -> object:
    # A CompactResult travels as a tuple of its fields (pickling the slots dataclass
    # costs more than sending the message did).
    if type(result) is CompactResult:
        return (result.sender, result.recipients, result.tls_mode, result.tls, result.accepted,
                dict(result.refused), result.reply_code, result.error, result.size)
    return result


def _from_wire(item: Any) -> BatchResult:
    return CompactResult(*item) if type(item) is tuple else item


# -- the worker process ---------------------------------------------------------------------


def _worker_main(orders: Any, results: Any, number: int,
                 settings: tuple[str, int | None, int, dict[str, Any]]) -> None:
    # The caller's process decides what Ctrl-C means, and tells the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_serve(orders, results, settings))


async def _serve(orders: Any, results: Any,
                 settings: tuple[str, int | None, int, dict[str, Any]]) -> None:
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
            decoded = pickle.loads(order)
            if decoded == _STOP:
                for task in running:
                    task.cancel()
                break
            task = loop.create_task(_send_batch(pool, results, *decoded))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running, return_exceptions=True)


async def _send_batch(pool: AsyncPool, results: Any, number: int,
                      items: list[_Portable], compact: bool) -> None:
    reported = 0
    report: list[BatchResult] = []
    why = "the worker process was stopped before its verdict"
    try:
        outgoing = [_outgoing(item) for item in items]
        async for result in pool.send_iter(outgoing, compact=compact):  # type: ignore[call-overload]
            report.append(result)
            if len(report) >= REPORT_EVERY:
                results.put(_encode(number, report, finished=False))
                reported += len(report)
                report = []
    except asyncio.CancelledError as exc:
        report += partial_results(exc) or []
    except Exception as exc:  # a bug: the caller must still hear about every message
        why = f"the worker process failed ({exc!r})"
    missing = len(items) - reported - len(report)
    # Whatever is not accounted for may have gone out: never reported as "not sent".
    report += [SendResult(sender="", recipients=[], tls_mode="", tls=None,
                          error=StatusUnknown(f"{why}: the server may or may not have"
                                              " accepted it; not resent"))] * max(0, missing)
    results.put(_encode(number, report, finished=True))


def _encode(number: int, report: list[BatchResult], *, finished: bool) -> bytes:
    try:
        return pickle.dumps((number, [_to_wire(r) for r in report], finished),
                            protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        # An error object that does not pickle: keep its type name and text.
        portable = [r if r.error is None else dataclasses.replace(
            r, error=CdoMailError(f"{type(r.error).__name__}: {r.error}")) for r in report]
        return pickle.dumps((number, [_to_wire(r) for r in portable], finished),
                            protocol=pickle.HIGHEST_PROTOCOL)
