"""cdomail.ProcessPool: the pool on every core (worker processes, each with its own loop).

One Python process sending over many connections is bound by one core: preparing
and framing messages, and reading replies, is Python work. A ``ProcessPool``
starts ``processes`` workers, each with its share of ``max_connections``: a worker
with one connection runs the blocking :class:`~cdomail.Pool` (no event loop: less CPU
per message), a worker with several an :class:`~cdomail.AsyncPool` on its own event
loop (see :mod:`cdomail._process_worker`). The caller's process takes the
messages lazily, serialises ``EmailMessage`` objects (so bad input is refused
here, before any byte is sent), and hands the bytes out in batches, at most two
batches ahead per worker (memory stays bounded). Results come back in small
groups and are yielded in input order.

A worker that dies never takes a message with it silently: the messages of its
unfinished batches whose results had not come back are reported as
:class:`~cdomail.StatusUnknown` (the worker may have sent them), and none of them
is sent again. Workers ignore SIGINT: on Ctrl-C the caller's process tells them to
stop, they finish the messages already on a connection (a one-connection worker: those
its pool has taken; see :mod:`cdomail.batch`) and report the rest as not sent, and the
``KeyboardInterrupt`` carries ``partial_results``.

Only whole messages can cross to another process: ``bytes``, ``EmailMessage``, or
an :class:`~cdomail.OutgoingMessage` holding one. A file or a stream of chunks gets
an :class:`~cdomail.InputError` result (use :class:`~cdomail.Pool` for those).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from ._async.pool import AsyncPool
from ._pool_rules import count
from ._process_worker import STOP_ORDER, Portable, Settings, from_wire, portable, worker_main
from ._sync.client import SMTPClient
from .batch import BatchResult, attach
from .errors import CdoMailError, InputError, LocalProtocolError, StatusUnknown
from .message import MessageInput, OutgoingMessage
from .result import SendResult

__all__ = ["ProcessPool"]

#: Messages handed to a worker at once, and batches a worker may hold at once.
BATCH_SIZE = 256
BATCHES_PER_WORKER = 2
#: How often the caller checks that its workers are alive while it waits (seconds).
LIVENESS_POLL = 0.1


class _Worker:
    """The caller's handle on one worker process."""

    def __init__(self, context: BaseContext, number: int,
                 settings: Settings) -> None:
        self.number = number
        self.orders: Any = context.Queue()
        # Each worker reports on a pipe of its own, not on one queue shared by all: a
        # multiprocessing.Queue's writers share one lock, and a worker killed while holding
        # it would leave every other worker unable to report (and unable to exit).
        self.reports, sending_end = context.Pipe(duplex=False)
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(self.orders, sending_end, number, settings),
            name=f"cdomail-pool-{number}", daemon=True)
        self.batches: set[int] = set()
        self.process.start()
        sending_end.close()  # the worker holds it now: its exit is the pipe's end of file


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
        self._workers = [_Worker(self._context, number, settings)
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
        for _ in self._ready_reports(0):
            pass

    def _ready_reports(self, timeout: float) -> Iterator[bytes]:
        """The reports waiting on the workers' pipes (waiting up to ``timeout`` for one)."""
        pipes = [w.reports for w in self._workers if not w.reports.closed]
        while pipes:
            ready = wait(pipes, timeout)
            if not ready:
                return
            for pipe in pipes.copy():
                if pipe not in ready:
                    continue
                try:
                    yield pipe.recv_bytes()
                except (EOFError, OSError):  # the worker has exited: nothing more comes
                    pipe.close()
                    pipes.remove(pipe)
            timeout = 0

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
        items: list[Portable] = []
        for message in source:
            try:
                items.append(portable(message))
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

    def _dispatch(self, items: list[Portable], worker: _Worker,
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
        for report in self._ready_reports(timeout):
            self._apply(report)
        self._bury_dead()

    def _drain(self) -> None:
        for report in self._ready_reports(0):
            self._apply(report)

    def _apply(self, report: bytes) -> None:
        number, wire, finished = pickle.loads(report)
        results = [from_wire(item) for item in wire]
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
            worker.orders.put(STOP_ORDER)
        try:
            while any(w.batches for w in self._workers):
                self._receive(timeout=LIVENESS_POLL)
        except KeyboardInterrupt:
            pass  # interrupted again: what has not come back is "status unknown"
        for batch in pending:
            self._settle_unknown(batch, "the batch was interrupted and the worker process"
                                        " did not report")
        self.close()
