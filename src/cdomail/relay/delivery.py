"""The relay's upstream side: take due messages from the spool and deliver them.

:class:`DeliveryWorker` repeatedly asks the spool for due messages, splits them
over at most ``[delivery] concurrency`` upstream connections, and sends each
connection's share pipelined with :meth:`cdomail.AsyncSMTPClient.send_many`
(one envelope per message: the stored sender and the recipients still
pending). What each attempt meant per recipient (see :mod:`._verdict`) is
recorded in the spool before the next batch, with the TLS facts of the
connection, so ``relay show`` tells how every message left.

* delivered: the upstream's final reply is kept;
* bounced (5xx) and expired (``max_age`` reached): an RFC 3464 DSN is queued to
  the envelope sender, never for a null sender (:mod:`.dsn`);
* retried (4xx, connection failures, time-outs): on the ``retry`` schedule with
  jitter (:mod:`.schedule`);
* status unknown (no verdict after the final dot): recorded ``unknown`` and
  retried only with ``at_least_once`` (the Message-ID stays the same, so a
  duplicate is recognisable);
* the relay's own credentials refused (535, ``550 5.7.30``, ``invalid_grant``),
  or its TLS policy not met (the upstream's certificate not verified or not the
  pinned one, STARTTLS required and not offered): the queue is held
  (:meth:`Spool.hold_all`) with the reason in the health record until
  ``relay release --all``; nothing is bounced for it. Retrying cannot fix the
  relay's own configuration, and expiring the senders' mail for it would blame
  them.

A message is in flight on one connection at a time (the worker remembers which
ids it took). Before a chunk goes on the wire it is flagged in the queue
(:meth:`Queue.mark_sending`, one commit; recording the verdict clears the flag
in the same commit as the verdict). A crash or a stop while a message is
flagged leaves it queued; the next run records ``unknown`` for it and, with
``at_least_once``, sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from cdomail._async.client import AsyncSMTPClient
from cdomail.errors import (
    CdoMailError,
    CertificateVerifyFailed,
    ConfigurationError,
    FingerprintMismatch,
    TLSRequired,
)
from cdomail.message import OutgoingMessage
from cdomail.relay._model import (
    ArrivalFacts,
    AttemptRecord,
    AttemptResult,
    Clock,
    QueuedMessage,
    RecipientOutcome,
    RecipientState,
    SystemClock,
)
from cdomail.relay._secrets import resolve_secret
from cdomail.relay._verdict import (
    RecipientVerdict,
    Verdict,
    credentials_refused,
    one_line,
    verdicts_of,
)
from cdomail.relay.config import RelayConfig, UpstreamConfig
from cdomail.relay.dsn import EXPIRED_STATUS, FailedRecipient, build_dsn
from cdomail.relay.oauth2 import CredentialsRejected, TokenProvider, TokenUnavailable
from cdomail.relay.schedule import RetrySchedule
from cdomail.relay.spool import MessageNotFound, Spool, SpoolError
from cdomail.result import SendResult

__all__ = ["DeliveryWorker", "upstream_client_options"]

#: Most messages one connection takes per pass (pipelined by the client).
BATCH_PER_CONNECTION = 50
#: Seconds between two looks at the spool when nothing wakes the worker.
POLL_INTERVAL = 0.25
#: Where the client connects from the relay's point of view, in an attempt record.
_HEALTH_UPSTREAM = "upstream"
_HEALTH_TOKEN = "token"
#: Most messages handed to a connection before their verdicts are recorded: the
#: deliveries a kill -9 can leave with an unknown status.
SEND_CHUNK = 20
#: Upstream TLS failures that only the relay's administrator can fix (RFC 3207 section 4: a
#: client that requires TLS must not go on without it). A TLS handshake cut by the network,
#: or a 454 to STARTTLS ("TLS not available due to temporary reason"), is retried instead.
_TLS_POLICY_FAILURES = (CertificateVerifyFailed, FingerprintMismatch, TLSRequired)
#: A message with its verdict per recipient and its attempt, ready to be recorded.
_Judged = tuple[QueuedMessage, Mapping[str, RecipientVerdict], AttemptRecord]
_INTERRUPTED = ("status unknown: the delivery was interrupted (the relay stopped, or lost its"
                " queue or its connection slot) after handing the message to the upstream and"
                " before recording its verdict")


class _RateLimiter:
    """At most ``count`` messages per ``seconds`` as the upstream sees them (sliding window).

    A slot counts as "now" from the moment its message is handed to the connection until
    its verdict came back (:meth:`finished`), and then from that verdict on: the message left
    somewhere in between, so the message ``count`` places later, sent at least ``seconds``
    after the verdict, reaches the upstream at least ``seconds`` after it, however long the
    connection took. (A slot that aged out of the window while its message was still on the
    wire would let a later message overtake the window.)
    """

    def __init__(self, count: int, seconds: float, clock: Clock) -> None:
        self._count, self._seconds, self._clock = count, seconds, clock
        self._slots: list[list[float]] = []

    async def take(self, wanted: int) -> list[list[float]]:
        """Wait until at least one message may go; return the slots of those that may go now."""
        while True:
            now = self._clock.now()
            self._slots = [slot for slot in self._slots if slot[0] > now - self._seconds]
            allowed = min(wanted, self._count - len(self._slots))
            if allowed > 0:
                taken = [[math.inf] for _ in range(allowed)]  # in flight: never ages out
                self._slots.extend(taken)
                return taken
            # Every slot may be in flight (math.inf): a verdict now frees one a window later.
            oldest = min(slot[0] for slot in self._slots)
            await self._clock.sleep(min(oldest + self._seconds - now, self._seconds))

    async def finished(self, slots: list[list[float]]) -> None:
        """The messages of ``slots`` got their verdict: count their window from now."""
        now = self._clock.now()
        for slot in slots:
            slot[0] = now


class DeliveryWorker:
    """Delivers the spool's due messages upstream until told to stop."""

    def __init__(
        self,
        config: RelayConfig,
        spool: Spool,
        *,
        clock: Clock | None = None,
        token_provider: TokenProvider | None = None,
        reporting_mta: str | None = None,
        poll_interval: float = POLL_INTERVAL,
        rate_limiter: Any = None,
        connection_slots: Any = None,
    ) -> None:
        self.config = config
        self.spool = spool
        self.clock: Clock = clock if clock is not None else SystemClock()
        upstream = config.upstream
        if token_provider is None and upstream.auth == "xoauth2" and upstream.oauth2:
            token_provider = TokenProvider(upstream.oauth2, clock=self.clock.now)
        self.token_provider = token_provider
        self.schedule = RetrySchedule(config.delivery.retry, config.delivery.max_age)
        self.reporting_mta = reporting_mta or socket.gethostname()
        self.poll_interval = poll_interval
        rate = config.delivery.rate_limit
        # rate_limiter / connection_slots: the cluster-wide ones of a shared queue
        # (cdomail.relay.pg.limits); by default the limits hold for this process.
        self._limiter: Any = rate_limiter
        if rate_limiter is None and rate is not None:
            self._limiter = _RateLimiter(rate[0], rate[1], self.clock)
        self._connection_slots = connection_slots
        self._in_flight: set[str] = set()
        self._wake = asyncio.Event()
        self._upstream_name = f"{upstream.host}:{upstream.port}"

    # -- the loop ------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the spool now (the listener stored a message)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; in-flight attempts finish, the rest stays queued."""
        await self.recover_interrupted()
        while not stop.is_set():
            self._wake.clear()
            handled = await self.deliver_due()
            if handled == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait()),
                   asyncio.ensure_future(self.clock.sleep(self.poll_interval))]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def deliver_due(self) -> int:
        """One pass: deliver every message due now; return how many were attempted."""
        concurrency = self.config.delivery.concurrency
        limit = concurrency * BATCH_PER_CONNECTION
        due = await asyncio.to_thread(self.spool.due, self.clock.now(),
                                      limit + len(self._in_flight))
        messages = [m for m in due if m.id not in self._in_flight][:limit]
        if not messages:
            return 0
        groups = [messages[i::concurrency] for i in range(min(concurrency, len(messages)))]
        self._in_flight.update(m.id for m in messages)
        try:
            # Every connection finishes (and is closed) before a failure goes up: a pass
            # that returned while others still sent would leave them running unsupervised,
            # and the next pass would claim their messages again.
            outcomes = await asyncio.gather(*(self._deliver_group(group) for group in groups),
                                            return_exceptions=True)
        finally:
            self._in_flight.difference_update(m.id for m in messages)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(messages)

    # -- one connection ------------------------------------------------------------------------

    async def _deliver_group(self, group: Sequence[QueuedMessage]) -> None:
        if self._connection_slots is None:
            await self._deliver_group_now(group)
            return
        async with self._connection_slots.hold():
            await self._deliver_group_now(group)

    async def _deliver_group_now(self, group: Sequence[QueuedMessage]) -> None:
        started = self.clock.now()
        try:
            client, token = await self._connect()
        except SpoolError:
            raise  # the queue failed (noting the token's health), not the upstream
        except CdoMailError as error:
            await self._connection_failed(group, error, started)
            return
        try:  # from here on, whatever fails (the queue too) closes the connection
            await self._note_health(_HEALTH_UPSTREAM, {"ok": True, "tls": _tls_summary(client)})
            await self._send_over(client, token, list(group))
        finally:
            await _close(client)

    async def _connect(self) -> tuple[AsyncSMTPClient, str | None]:
        options, token = await self._client_options()
        client = AsyncSMTPClient(self.config.upstream.host, self.config.upstream.port, **options)
        try:
            await client.connect()
        except CdoMailError as error:
            if token is not None and credentials_refused(error) and self.token_provider:
                self.token_provider.invalidate(token)
            raise
        return client, token

    async def _client_options(self) -> tuple[dict[str, Any], str | None]:
        token = None
        if self.config.upstream.auth == "xoauth2" and self.token_provider is not None:
            token = await self.token_provider.token()
            await self._note_health(_HEALTH_TOKEN, {"ok": True,
                                                    "grant": self.token_provider.grant_type})
        return await upstream_client_options(self.config.upstream, token), token

    async def _send_over(self, client: AsyncSMTPClient, token: str | None,
                         pending: list[QueuedMessage]) -> None:
        while pending:
            wanted = min(len(pending), SEND_CHUNK)
            slots = [] if self._limiter is None else await self._limiter.take(wanted)
            allowed = len(slots) if self._limiter is not None else wanted
            chunk, pending = pending[:allowed], pending[allowed:]
            started = self.clock.now()
            # Taken slots count as on the wire until finished(), so every way out from here
            # (the queue failing at mark_sending too) must give them back.
            try:
                # Durable before a byte goes: a kill from here to the verdict's record leaves
                # the chunk flagged, and the restart records it unknown. Each record ends it.
                marked = set(await asyncio.to_thread(self.spool.mark_sending,
                                                     [m.id for m in chunk]))
                # A claim that expired while it waited here was taken over by another node,
                # which may be delivering it: sending it too would be a duplicate on no record.
                chunk = [m for m in chunk if m.id in marked]
                results = [] if not chunk else await client.send_many(
                    OutgoingMessage(m.content, m.sender, m.recipients_pending) for m in chunk)
            finally:
                if self._limiter is not None:
                    await self._limiter.finished(slots)
            judged: list[_Judged] = []
            for message, result in zip(chunk, results, strict=True):
                if result.error is not None and credentials_refused(result.error):
                    await self._settle(judged)
                    if token is not None and self.token_provider is not None:
                        self.token_provider.invalidate(token)
                    await self._hold_queue(chunk[chunk.index(message):] + pending,
                                           result.error, started)
                    return
                judged.append((message, verdicts_of(result, message.recipients_pending),
                               self._attempt(started, client, result)))
            await self._settle(judged)

    # -- deliveries a crash or a kill interrupted ------------------------------------------------

    async def recover_interrupted(self) -> int:
        """Record ``unknown`` for deliveries the last run left on the wire; return how many.

        The previous process died (kill -9, power loss), or this worker's previous run
        ended when the queue failed under it or a cluster connection slot was lost, after
        handing these messages to the upstream and before recording the verdict: the
        upstream may have them
        (RFC 5321 section 4.5.3.2.6). They are retried now with ``at_least_once`` (a duplicate
        then has this record), else their recipients stay ``unknown`` for good.
        """
        ids = await asyncio.to_thread(self.spool.interrupted_sends)
        now = self.clock.now()
        recovered = 0
        for message_id in ids:
            try:
                detail = await asyncio.to_thread(self.spool.show, message_id)
            except MessageNotFound:
                continue  # delivered and deleted by an administrator since
            pending = [r.address for r in detail.recipients if r.state == RecipientState.QUEUED]
            if not pending:
                continue
            outcome = RecipientOutcome(RecipientState.UNKNOWN, _INTERRUPTED)
            attempt = AttemptRecord(started_at=now, finished_at=now, upstream=self._upstream_name,
                                    error=_INTERRUPTED)
            retry_at = now if self.config.delivery.at_least_once else None
            await asyncio.to_thread(self.spool.record_attempt, message_id, attempt,
                                    dict.fromkeys(pending, outcome), retry_at)
            recovered += 1
        return recovered

    # -- recording ------------------------------------------------------------------------------

    def _attempt(self, started: float, client: AsyncSMTPClient | None,
                 result: SendResult | None = None, error: BaseException | None = None
                 ) -> AttemptRecord:
        tls = client.tls_info if client is not None else None
        reply = None if result is None or result.reply is None else one_line(str(result.reply))
        failure = error if error is not None else (None if result is None else result.error)
        return AttemptRecord(
            started_at=started, finished_at=self.clock.now(), upstream=self._upstream_name,
            tls_version=None if tls is None else tls.version,
            tls_cipher=None if tls is None else tls.cipher,
            cert_verified=None if tls is None else tls.verified,
            reply=reply,
            error=None if failure is None else _describe(failure),
        )

    async def _connection_failed(self, group: Sequence[QueuedMessage], error: BaseException,
                                 started: float) -> None:
        if isinstance(error, (CredentialsRejected, ConfigurationError)) or credentials_refused(
                error):
            # Refused or missing credentials of the relay itself: only an administrator
            # can fix them, and the senders' mail is not to blame (never bounced for it).
            await self._hold_queue(group, error, started)
            return
        if isinstance(error, _TLS_POLICY_FAILURES):
            # The same for the relay's TLS settings (cafile, pin, tls mode) or an upstream
            # that lost its certificate or STARTTLS: never sent in clear, never bounced.
            await self._hold_queue(group, error, started, why="upstream TLS failed")
            return
        key = _HEALTH_TOKEN if isinstance(error, TokenUnavailable) else _HEALTH_UPSTREAM
        await self._note_health(key, {"ok": False, "error": one_line(str(error))})
        verdict = RecipientVerdict(Verdict.RETRY, None)
        not_before = (self.clock.now() + error.retry_after
                      if isinstance(error, TokenUnavailable) and error.retry_after else None)
        attempt = self._attempt(started, None, error=error)
        await self._settle([(message, dict.fromkeys(message.recipients_pending, verdict), attempt)
                            for message in group], not_before=not_before)

    async def _hold_queue(self, messages: Sequence[QueuedMessage], error: BaseException,
                          started: float, *, why: str = "upstream credentials refused"
                          ) -> None:
        """The relay's own configuration failed: hold everything, judge no recipient."""
        reason = f"{why}: {one_line(str(error))}"
        await asyncio.to_thread(self.spool.hold_all, reason)
        key = _HEALTH_TOKEN if isinstance(error, CredentialsRejected) else _HEALTH_UPSTREAM
        await self._note_health(key, {"ok": False, "error": one_line(str(error)),
                                      "queue_held": True})
        now = self.clock.now()
        attempt = self._attempt(started, None, error=error)
        await asyncio.to_thread(self.spool.record_attempts, [
            AttemptResult(message.id, attempt, {a: RecipientOutcome(RecipientState.QUEUED, None)
                                                for a in message.recipients_pending}, now)
            for message in messages])

    async def _settle(self, judged: Sequence[_Judged], *, not_before: float | None = None
                      ) -> None:
        """Record each message's attempt (the outcome per recipient), all in one commit, after
        queueing a DSN for the recipients given up on.

        One commit per connection's chunk, not per message, is as truthful: until it commits,
        the chunk's messages are still flagged ``sending`` (see :meth:`Queue.mark_sending`),
        so a crash before it has each of them recorded ``unknown`` and sent again, never a
        verdict lost or a delivery taken for a failure. Each DSN is stored before its bounce
        is recorded: a crash in between can repeat a DSN but never lose one.
        """
        if not judged:
            return
        now = self.clock.now()
        results = []
        for message, verdicts, attempt in judged:
            outcomes, retry_at, failed = self._outcomes(message, verdicts, now, not_before)
            if failed and message.sender:
                await asyncio.to_thread(self._queue_dsn, message, failed, now)
            results.append(AttemptResult(message.id, attempt, outcomes, retry_at))
        await asyncio.to_thread(self.spool.record_attempts, results)

    def _outcomes(self, message: QueuedMessage, verdicts: Mapping[str, RecipientVerdict],
                  now: float, not_before: float | None
                  ) -> tuple[dict[str, RecipientOutcome], float | None, list[FailedRecipient]]:
        """Each recipient's outcome, the next attempt (None: nothing stays queued), and the
        recipients a DSN must report."""
        retry_at = self.schedule.next_attempt(failed_attempts=message.attempts + 1,
                                              received_at=message.received_at, now=now)
        if retry_at is not None and not_before is not None:
            retry_at = max(retry_at, not_before)
        outcomes: dict[str, RecipientOutcome] = {}
        failed: list[FailedRecipient] = []
        for address, verdict in verdicts.items():
            outcome, failure = self._judge(address, verdict, retry_at)
            outcomes[address] = outcome
            if failure is not None:
                failed.append(failure)
        stays_queued = any(o.state == RecipientState.QUEUED for o in outcomes.values()) or any(
            o.state == RecipientState.UNKNOWN and self.config.delivery.at_least_once
            for o in outcomes.values())
        return outcomes, retry_at if stays_queued else None, failed

    def _judge(self, address: str, verdict: RecipientVerdict, retry_at: float | None
               ) -> tuple[RecipientOutcome, FailedRecipient | None]:
        if verdict.verdict is Verdict.DELIVERED:
            return RecipientOutcome(RecipientState.DELIVERED, verdict.reply), None
        if verdict.verdict is Verdict.BOUNCE:
            status = verdict.status or "5.0.0"
            return (RecipientOutcome(RecipientState.BOUNCED, verdict.reply),
                    FailedRecipient(address, status, verdict.reply))
        if verdict.verdict is Verdict.UNKNOWN and not (
                self.config.delivery.at_least_once and retry_at is not None):
            # Final "unknown": the upstream may have it; a DSN would say something false.
            return RecipientOutcome(RecipientState.UNKNOWN, verdict.reply), None
        if retry_at is None:
            status = verdict.status if verdict.status and verdict.status[0] == "4" else (
                EXPIRED_STATUS)
            return (RecipientOutcome(RecipientState.EXPIRED, verdict.reply),
                    FailedRecipient(address, status, verdict.reply, expired=True))
        if verdict.verdict is Verdict.UNKNOWN:
            return RecipientOutcome(RecipientState.UNKNOWN, verdict.reply), None
        return RecipientOutcome(RecipientState.QUEUED, verdict.reply), None

    def _queue_dsn(self, message: QueuedMessage, failed: Sequence[FailedRecipient],
                   now: float) -> None:
        content = build_dsn(original_sender=message.sender, original_content=message.content,
                            recipients=failed, reporting_mta=self.reporting_mta,
                            remote_mta=self.config.upstream.host,
                            arrived_at=message.received_at, now=now)
        arrival = ArrivalFacts(client_address="local (delivery status notification)",
                               helo=None, tls_version=None, tls_cipher=None,
                               authenticated_user=None, received_at=now)
        self.spool.store("", [message.sender], content, arrival)

    async def _note_health(self, key: str, value: Mapping[str, object]) -> None:
        await asyncio.to_thread(self.spool.set_health, key, json.dumps(dict(value)),
                                now=self.clock.now())


async def upstream_client_options(upstream: UpstreamConfig, token: str | None
                                  ) -> dict[str, Any]:
    """The :class:`AsyncSMTPClient` keywords for ``[upstream]`` (secrets resolved now)."""
    options: dict[str, Any] = {
        "tls": upstream.tls,
        "cafile": None if upstream.cafile is None else str(upstream.cafile),
        "connect_timeout": upstream.timeout,
        "command_timeout": upstream.timeout,
        "allow_plaintext_auth": upstream.allow_plaintext,
    }
    if upstream.auth == "password" and upstream.password is not None:
        options["username"] = upstream.username
        options["password"] = await asyncio.to_thread(resolve_secret, upstream.password,
                                                      field="password")
    elif upstream.auth == "xoauth2" and token is not None:
        options["username"] = upstream.username
        options["oauth2_token"] = token
    return options


async def _close(client: AsyncSMTPClient) -> None:
    """QUIT and close; when the delivery is being cancelled, close without the QUIT.

    Cancelled means a stop past its grace time, or a cluster connection slot whose lease ran
    out: the connection must be gone before the lease is (cdomail.relay.pg.slots), and a QUIT
    to a slow upstream could take a whole command time-out.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        with contextlib.suppress(OSError):
            await client.abort()
        return
    with contextlib.suppress(CdoMailError, OSError):
        await client.aclose()


def _tls_summary(client: AsyncSMTPClient) -> dict[str, object] | None:
    tls = client.tls_info
    if tls is None:
        return None
    return {"version": tls.version, "cipher": tls.cipher, "verified": tls.verified}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {one_line(str(error))}"
