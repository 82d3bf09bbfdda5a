"""``cdomail.logging.SMTPHandler``: log records by mail without blocking the code that logs.

The standard library's ``logging.handlers.SMTPHandler`` opens a connection and sends one
message inside ``emit()``: the thread that logged waits for the whole SMTP conversation,
and a slow or unreachable server stalls the application. This handler only formats the
record and puts it on a bounded queue; a background thread sends::

    handler = SMTPHandler("smtp.example.com", 587, sender="app@example.com",
                          recipients=["ops@example.com"], username="app", password=secret,
                          rate_limit=(10, 60.0))
    handler.setLevel(logging.ERROR)
    logging.getLogger().addHandler(handler)

* **batching**: records that arrive within ``batch_delay`` seconds go out together, one
  connection and one pipelined ``send_many`` for all of them;
* **rate limit**: at most ``rate_limit[0]`` mails per ``rate_limit[1]`` seconds; when more
  records wait than mails are allowed, the excess is coalesced into one digest mail, and
  when none is allowed the records wait (still coalescing) until the window frees;
* **bounded**: at most ``capacity`` records wait; beyond that they are dropped and counted,
  and the next mail says how many were lost;
* **flush on shutdown**: ``flush()`` and ``close()`` (so ``logging.shutdown()``, which runs
  at interpreter exit) deliver every queued record, as a digest if over the rate limit;
* **never raises into the caller**: failures go to ``handleError`` (as for every logging
  handler), and the password is never part of what it prints.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from ._sync.client import SMTPClient
from .errors import CdoMailError, ConfigurationError
from .message import check_address
from .result import SendResult

__all__ = ["SMTPHandler"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SUBJECT_LENGTH = 150


@dataclass(frozen=True, slots=True)
class _Entry:
    """A record as it will be mailed: formatted in the caller's thread (its args may change)."""

    subject: str
    text: str
    levelno: int
    levelname: str


@dataclass(slots=True)
class _Flush:
    """A marker on the queue: send what came before it now, then set ``done``."""

    stop: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class SMTPHandler(logging.Handler):
    """A logging handler that mails records from a background thread (see the module doc).

    ``host``/``port`` and ``**client_options`` (``tls``, ``username``, ``password``,
    ``cafile``, ``fingerprint``, ``connect_timeout``, ...) are those of
    :class:`cdomail.SMTPClient`, checked here, before any record is logged.
    ``subject`` is a %-style template over the record's attributes (first line only).
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        recipients: Sequence[str],
        subject: str = "%(levelname)s %(name)s: %(message)s",
        level: int = logging.NOTSET,
        batch_delay: float = 1.0,
        max_batch: int = 100,
        rate_limit: tuple[int, float] = (10, 60.0),
        capacity: int = 10_000,
        flush_timeout: float = 60.0,
        **client_options: Any,
    ) -> None:
        super().__init__(level)
        _check_numbers(batch_delay, max_batch, rate_limit, capacity)
        if isinstance(recipients, str) or not recipients:
            raise ConfigurationError("recipients must be a non-empty list of addresses",
                                     field="recipients")
        # "Name <address>" is fine for the headers; the address inside must be valid now,
        # not when the first record is mailed.
        _check_mailbox(sender, "sender")
        for recipient in recipients:
            _check_mailbox(recipient, "recipients")
        # Built once to check every option now (and to fail here, not in the thread).
        SMTPClient(host, port, **client_options)
        self._host, self._port, self._client_options = host, port, client_options
        self.sender, self.recipients, self.subject = sender, list(recipients), subject
        self.batch_delay, self.max_batch, self.rate_limit = batch_delay, max_batch, rate_limit
        self.flush_timeout = flush_timeout
        self._queue: queue.Queue[_Entry | _Flush] = queue.Queue(capacity)
        self._sent_at: deque[float] = deque()
        self._dropped = 0
        self._dropped_lock = threading.Lock()
        #: Results of the last batch sent (one per mail), for a caller that wants the facts.
        self.last_results: list[SendResult] = []
        #: Mails that could not be sent (a digest counts once), each also reported through
        #: ``handleError``.
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="cdomail-SMTPHandler",
                                        daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        # The password stays in the client options and never appears here.
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self._host}:{self._port} ({level})>"

    # -- the caller's side: format, enqueue, return ---------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record; never blocks on the network, never raises."""
        if threading.current_thread() is self._thread:
            return  # something the sender itself logged: mailing it would feed back
        try:
            entry = _Entry(self._subject_for(record), self.format(record), record.levelno,
                           record.levelname)
            self._queue.put_nowait(entry)
        except queue.Full:
            with self._dropped_lock:
                self._dropped += 1
        except Exception:
            self.handleError(record)

    def _subject_for(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        text = self.subject % record.__dict__
        first_line = _CONTROL.sub(" ", text.splitlines()[0] if text else "").strip()
        return first_line[:_SUBJECT_LENGTH]

    def flush(self) -> None:
        """Deliver every record queued so far (over the rate limit: as one digest)."""
        self._signal(_Flush())

    def close(self) -> None:
        """Deliver everything, stop the sender thread, and close the handler."""
        if self._signal(_Flush(stop=True)):
            self._thread.join(self.flush_timeout)
        super().close()

    def _signal(self, marker: _Flush) -> bool:
        """Queue ``marker`` and wait for the sender to reach it: at most ``flush_timeout``."""
        if not self._thread.is_alive():
            return False
        deadline = time.monotonic() + self.flush_timeout
        try:
            self._queue.put(marker, timeout=self.flush_timeout)
        except queue.Full:
            return False
        return marker.done.wait(max(deadline - time.monotonic(), 0.0))

    # -- the sender thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[_Entry] = []
        while True:
            if pending and self._allowance() <= 0:
                marker = self._wait_for_window(pending)
            else:
                marker = self._collect(pending)
            if pending and (marker is not None or self._allowance() > 0):
                self._send(pending, forced=marker is not None)
                pending = []
            if marker is not None:
                marker.done.set()
                if marker.stop:
                    return

    def _collect(self, pending: list[_Entry]) -> _Flush | None:
        """Wait for a record, then gather more for ``batch_delay``; a flush marker ends it."""
        item: _Entry | _Flush | None = self._queue.get()
        deadline = time.monotonic() + self.batch_delay
        while item is not None:
            if isinstance(item, _Flush):
                return item
            pending.append(item)
            if len(pending) >= self.max_batch:
                return None
            item = self._get(deadline - time.monotonic())
        return None

    def _wait_for_window(self, pending: list[_Entry]) -> _Flush | None:
        """Over the limit: keep coalescing until the oldest mail leaves the window."""
        while self._allowance() <= 0:
            item = self._get(self.rate_limit[1] - (time.monotonic() - self._sent_at[0]))
            if isinstance(item, _Flush):
                return item
            if item is not None:
                pending.append(item)
        return None

    def _get(self, timeout: float) -> _Entry | _Flush | None:
        try:
            if timeout <= 0:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _allowance(self) -> int:
        """How many mails the rate limit allows now."""
        limit, interval = self.rate_limit
        now = time.monotonic()
        while self._sent_at and now - self._sent_at[0] >= interval:
            self._sent_at.popleft()
        return limit - len(self._sent_at)

    def _mails(self, entries: list[_Entry], forced: bool) -> list[EmailMessage]:
        """One mail per record while the limit allows; the rest as one digest."""
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, 0
        allowance = max(self._allowance(), 1 if forced else 0)
        if len(entries) <= allowance and not dropped:
            return [self._mail(e.subject, e.text) for e in entries]
        singles = entries[: max(allowance - 1, 0)]
        rest = entries[len(singles):]
        mails = [self._mail(e.subject, e.text) for e in singles]
        mails.append(self._digest(rest, dropped))
        return mails

    def _digest(self, entries: list[_Entry], dropped: int) -> EmailMessage:
        parts = [f"--- {e.levelname}: {e.subject}\n{e.text}" for e in entries]
        if dropped:
            parts.insert(0, f"{dropped} log records were dropped: the handler's queue was full.")
        if not entries:
            return self._mail(f"{dropped} log records dropped (the handler's queue was full)",
                              parts[0])
        worst = max(entries, key=lambda e: e.levelno)
        subject = f"{len(entries)} log records, worst {worst.levelname}"
        if dropped:
            subject += f" ({dropped} more dropped)"
        return self._mail(subject, "\n\n".join(parts))

    def _mail(self, subject: str, text: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Subject"] = subject
        mail.set_content(text + "\n")
        return mail

    def _send(self, entries: list[_Entry], forced: bool) -> None:
        """One connection, one pipelined ``send_many``; failures go to handleError.

        Whatever goes wrong (the server, a certificate file, a record that cannot be put in
        a mail) is reported and the thread carries on: it must outlive every failure.
        """
        mails: list[EmailMessage] = []
        try:
            mails = self._mails(entries, forced)
            self._sent_at.extend(time.monotonic() for _ in mails)
            with SMTPClient(self._host, self._port, **self._client_options) as client:
                results = client.send_many(mails)
        except Exception as exc:
            self._report(exc, len(mails) or 1)
            return
        self.last_results = results
        for result in results:
            if result.error is not None:
                try:
                    raise result.error
                except CdoMailError as exc:
                    self._report(exc, 1)

    def _report(self, error: Exception, count: int) -> None:
        self.failed += count
        record = logging.LogRecord("cdomail.logging", logging.ERROR, __file__, 0,
                                   "could not mail %d log record(s): %s", (count, error), None)
        self.handleError(record)


def _check_mailbox(value: str, field_name: str) -> None:
    """``address`` or ``Name <address>``, for a header and, the address, for the envelope."""
    # parseaddr() drops a CR or LF silently: look at the raw text first.
    if not isinstance(value, str) or _CONTROL.search(value):
        raise ConfigurationError(f"{field_name}: {value!r} is not an address", field=field_name)
    check_address(parseaddr(value)[1], field_name)


def _check_numbers(batch_delay: float, max_batch: int, rate_limit: tuple[int, float],
                   capacity: int) -> None:
    if not batch_delay >= 0:
        raise ConfigurationError("batch_delay must be >= 0 seconds", field="batch_delay")
    if max_batch < 1:
        raise ConfigurationError("max_batch must be at least 1", field="max_batch")
    limit, interval = rate_limit
    if limit < 1 or not interval > 0:
        raise ConfigurationError("rate_limit must be (mails >= 1, seconds > 0)",
                                 field="rate_limit")
    if capacity < 1:
        raise ConfigurationError("capacity must be at least 1", field="capacity")
