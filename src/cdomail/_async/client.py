"""AsyncSMTPClient: drives the sans-IO core over an asyncio stream.

This file is the source of truth for both clients: ``scripts/unasync.py``
rewrites it into ``cdomail/_sync/client.py`` (``SMTPClient``), and CI fails
when the two drift apart. Keep everything that is not I/O outside this file
(``session``, ``message``, ``protocol``) so the two stay thin.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, overload

from .._backends._async_stream import (
    AsyncNetworkStream,
    open_async_stream,
    resolve_local_hostname,
)
from .._backends._tls_errors import TLSPeer
from ..batch import BatchResult, CompactResult, attach
from ..batch import compact as compact_result
from ..errors import (
    CdoMailError,
    InputError,
    LocalProtocolError,
    RemoteProtocolError,
    ServerDisconnected,
    ServiceClosing,
)
from ..message import MessageInput, OutgoingMessage, PreparedMessage, prepare_outgoing
from ..protocol import (
    NEED_DATA,
    ClientConnection,
    ClientState,
    Command,
    ConnectionClosed,
    Data,
    Extensions,
    MailFrom,
    Quit,
    RcptTo,
    Reply,
    Rset,
)
from ..result import SendResult
from ..session import (
    ClientConfig,
    Clock,
    Close,
    ConnectPlan,
    Open,
    Plan,
    Receive,
    Send,
    SessionFeatures,
    Step,
    Transaction,
    UpgradeTLS,
    hide_secrets,
    unsent_result,
)
from ..session._batch import (
    BDAT_CHUNK,
    TRANSACTION_WINDOW,
    WRITE_SIZE,
    check_features,
    deliver,
    hand_over,
    interrupted_results,
    mail_options,
    prepared_items,
    rechunk,
    settle_results,
    timeout_key,
)
from ..tls import TLSInfo, TLSMode, check_pin, shared_ssl_context, tls_info
from ..transcript import Transcript, escape, log_only

READ_SIZE = 64 * 1024
#: A QUIT here would be read as message text (mid-content) or cannot be sent at all.
_NO_QUIT_STATES = (ClientState.CONTENT, ClientState.BDAT, ClientState.TLS_HANDSHAKE,
                   ClientState.CLOSED)
#: DATA carries no argument: one value serves every transaction.
_DATA = Data()


class AsyncSMTPClient:
    """An SMTP client that says whether, and how, each message was encrypted.

    ``AsyncSMTPClient(host, port=None, *, tls="auto", username=None, password=None, ...)``;
    every keyword is documented in :class:`cdomail.session.ClientConfig.build`.
    Use it as an async context manager, or call ``connect()`` and ``aclose()``.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        transcript: Transcript | None = None,
        **options: Any,
    ) -> None:
        options = hide_secrets(options)  # before anything can raise with these locals
        self.config = ClientConfig.build(host, port, **options)
        self.transcript = transcript
        self._stream: AsyncNetworkStream | None = None
        self._conn: ClientConnection | None = None
        self._clock = Clock(self.config)
        #: The EHLO name: the one given, else this machine's (looked up in ``connect``).
        self._ehlo_name = self.config.local_hostname or ""
        self._tls: TLSInfo | None = None
        self._bdat_trusted = False
        #: The transaction whose end of content is queued but not yet written.
        self._unwritten_end: Transaction | None = None
        #: The batch being sent: its transactions, or their results once settled.
        self._batch: list[Transaction | SendResult] = []

    def __repr__(self) -> str:
        # getattr: a traceback printed with its locals shows a client whose __init__ raised.
        if getattr(self, "config", None) is None:
            return f"<{type(self).__name__} not configured>"
        state = "connected" if getattr(self, "_conn", None) is not None else "not connected"
        return (
            f"<{type(self).__name__} {self.config.host}:{self.config.port}"
            f" tls={self.config.mode.value} {state}>"
        )

    # -- public properties -----------------------------------------------------------

    @property
    def extensions(self) -> Extensions:
        """Extensions from the last EHLO (after STARTTLS: the post-TLS list only)."""
        if self._conn is None or self._conn.extensions is None:
            raise LocalProtocolError("not connected")
        return self._conn.extensions

    @property
    def tls_info(self) -> TLSInfo | None:
        """TLS facts of the current connection, ``None`` when it is plaintext."""
        return self._tls

    @property
    def is_connected(self) -> bool:
        """Whether a session is open."""
        return self._conn is not None

    # -- connection ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, read the greeting, EHLO, apply the TLS policy, and authenticate."""
        if self._conn is not None:
            return
        self._clock = Clock(self.config)
        self._unwritten_end = None
        if self.transcript is None:
            self.transcript = log_only()  # DEBUG logging of the (redacted) conversation
        if not self._ehlo_name:
            self._ehlo_name = await resolve_local_hostname()
        plan = ConnectPlan(self.config, self._ehlo_name)
        try:
            await self._run(plan.steps(), plan.connection)
        except BaseException:
            await self._abort()
            raise

    async def _run(self, plan: Plan[None], connection: ClientConnection) -> None:
        """Perform the plan's steps; a failure is thrown back into the plan at its step."""
        outcome: Reply | None = None
        failure: CdoMailError | None = None
        while True:
            try:
                step = plan.send(outcome) if failure is None else plan.throw(failure)
            except StopIteration:
                return
            failure = None
            try:
                outcome = await self._perform(step, connection)
            except CdoMailError as exc:
                failure = exc

    async def _perform(self, step: Step, connection: ClientConnection) -> Reply | None:
        if isinstance(step, Receive):
            return await self._read_reply(step.timeout)
        if isinstance(step, Send):
            await self._send_command(step.command)
        elif isinstance(step, Open):
            await self._open(step, connection)
        elif isinstance(step, UpgradeTLS):
            await self._require_stream().start_tls(
                self._ssl_context(), self.config.server_hostname,
                self._clock.timeout("STARTTLS"), tls_peer=self._tls_peer(step.mode))
            self._tls = self._tls_facts(step.mode)
        elif isinstance(step, Close):
            await (self._quit_quietly() if step.polite else self._abort())
        else:
            self._event(step.text)
        return None

    async def _open(self, step: Open, connection: ClientConnection) -> None:
        config = self.config
        self._stream = await open_async_stream(
            config.connect_host,
            config.connect_port,
            timeout=self._clock.timeout("CONNECT"),
            ssl_context=self._ssl_context() if step.implicit_tls else None,
            server_hostname=config.server_hostname,
            tls_peer=self._tls_peer(TLSMode.IMPLICIT),
        )
        self._conn = connection
        if step.implicit_tls:
            self._tls = self._tls_facts(TLSMode.IMPLICIT)

    def _ssl_context(self) -> ssl.SSLContext:
        """The caller's context, else one shared by clients with the same TLS settings."""
        return self.config.ssl_context or shared_ssl_context(self.config.tls)

    def _tls_peer(self, mode: TLSMode) -> TLSPeer:
        return TLSPeer(self.config.host, self.config.port, mode)

    def _tls_facts(self, mode: TLSMode) -> TLSInfo:
        ssl_object = self._require_stream().ssl_object
        if ssl_object is None:
            raise RemoteProtocolError("TLS handshake completed without a TLS session")
        check_pin(self.config.tls, ssl_object.getpeercert(binary_form=True))
        info = tls_info(ssl_object, mode, self.config.tls)
        self._event(f"TLS established: {info.version} {info.cipher}"
                    f" verified={info.verified_by}", tls=True)
        return info

    # -- sending ------------------------------------------------------------------------

    async def send(
        self,
        message: MessageInput,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> SendResult:
        """Send one message: raise its error, or return its result (some may be refused)."""
        prepared = prepare_outgoing(OutgoingMessage(message, sender, recipients,
                                                    mail_options, rcpt_options))
        [result] = await self._send_prepared(iter([prepared]))
        if result.error is not None:
            raise result.error
        return result

    @overload
    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: Literal[False] = False,
        on_result: Callable[[SendResult], object] | None = None,
    ) -> list[SendResult]: ...

    @overload
    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: Literal[True],
        on_result: Callable[[CompactResult], object] | None = None,
    ) -> list[CompactResult]: ...

    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: bool = False,
        on_result: Callable[[Any], object] | None = None,
    ) -> list[SendResult] | list[CompactResult]:
        """Send many messages over this connection, pipelined when the server allows.

        Each item is a message (envelope from its headers) or an
        :class:`~cdomail.OutgoingMessage` with its own envelope and parameters.
        Returns one result per message, in order; a message that failed has
        ``result.error`` set (bad input, a refusal, or a connection failure, after
        which the remaining messages are reported as not sent).

        ``compact=True``: :class:`~cdomail.batch.CompactResult` instead (no reply kept
        per accepted recipient). ``on_result``: each result is handed to it, in order,
        as soon as its verdict is known, and not kept (the returned list is empty):
        memory stays flat whatever the number of messages. When the batch is
        interrupted (Ctrl-C, cancellation) the exception carries ``partial_results``
        (see :mod:`cdomail.batch`).
        """
        if not compact:
            return await self._send_prepared(prepared_items(messages), on_settled=on_result)
        # Compact results are made as each verdict arrives: the full ones never pile up.
        kept: list[CompactResult] = []
        receiver = kept.append if on_result is None else on_result

        def shrink_and_hand_over(result: SendResult) -> None:
            receiver(compact_result(result))

        await self._send_prepared(prepared_items(messages), on_settled=shrink_and_hand_over,
                                  shrink=compact_result)
        return kept

    def _unsent_result(self, prepared: PreparedMessage | None, error: CdoMailError) -> SendResult:
        return unsent_result(prepared, error, self.config.effective_mode.value, self._tls)

    def _unsent(self, item: PreparedMessage | InputError, failure: CdoMailError) -> SendResult:
        """The result of an item never sent: its own input error, or ``failure``."""
        if isinstance(item, InputError):
            return self._unsent_result(None, item)
        return self._unsent_result(item, failure)

    def _interrupted(
        self,
        slots: list[Transaction | SendResult],
        current: PreparedMessage | InputError | None,
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> list[BatchResult]:
        return interrupted_results(slots, current, self.config.effective_mode.value,
                                   self._tls, shrink)

    async def send_prepared(self, messages: Iterable[PreparedMessage]) -> list[SendResult]:
        """Send messages already checked and prepared (each with its own envelope, see
        :func:`cdomail.message.prepare_outgoing`), pipelined like :meth:`send_many`: the
        pools' way in. One result per message, in order."""
        return await self._send_prepared(iter(messages))

    async def _send_prepared(
        self,
        items: Iterator[PreparedMessage | InputError],
        *,
        on_settled: Callable[[SendResult], object] | None = None,
        shrink: Callable[[SendResult], BatchResult] | None = None,
    ) -> list[SendResult]:
        """Send each prepared message (an InputError item is reported, not sent).

        ``items`` is consumed lazily: the next message is prepared while the server
        answers the current one, so its checks cost no time on a pipelined stream.
        With ``on_settled``, each result goes there as soon as it is final and the
        returned list is empty. ``shrink`` makes the results an interruption carries
        compact.
        """
        slots: list[Transaction | SendResult] = []
        self._batch = slots
        mode = self.config.effective_mode.value
        item: PreparedMessage | InputError | None = await self._first_to_send(items, slots,
                                                                              shrink)
        if item is None:
            return deliver(slots, mode, on_settled)
        await self._refuse_idle_input()
        conn = self._require_conn()
        features = SessionFeatures.of(self.extensions, pipelining=conn.pipelining,
                                      allow_chunking=self.config.chunking)
        outstanding: deque[Transaction] = deque()
        settled = handed = 0  # slots[:settled] are final results; slots[:handed] handed over
        last: Transaction | None = None
        try:
            tail: bytearray | None = bytearray()
            while item is not None:
                current, item = item, None
                if isinstance(current, InputError):
                    slots.append(self._unsent_result(None, current))
                    item = next(items, None)
                    continue
                try:
                    check_features(current, features)
                except InputError as exc:
                    slots.append(self._unsent_result(current, exc))
                    item = next(items, None)
                    continue
                tx = last = Transaction(current, self._tls, number=len(slots))
                slots.append(tx)
                tail = await self._begin_transaction(tx, features, tail or bytearray(),
                                                     outstanding)
                item = next(items, None)  # prepared while the server answers
                if tail is None:
                    tail = await self._finish_transaction(tx, features, outstanding)
                settled = settle_results(slots, settled, mode)
                if on_settled is not None:
                    handed = hand_over(slots, handed, settled, on_settled)
            await self._flush(tail or b"")
            while outstanding:
                await self._collect(outstanding)
            if last is not None and last.final_reply is not None and last.final_reply.code >= 400:
                # Case 41: reset after a refused message before the session is reused.
                await self._command(Rset())
        except BaseException as caught:
            # Whatever broke (a refusal, the network, the caller's own message iterator),
            # the connection may be mid-content: it is closed, never reused (rule 4).
            await self._abort()
            if not isinstance(caught, CdoMailError):
                self._batch = []
                if not isinstance(caught, Exception):  # Ctrl-C, cancellation: what we know
                    attach(caught, self._interrupted(slots[handed:], item, shrink))
                raise
            failure = caught
            for slot in slots[settled:]:
                if isinstance(slot, Transaction) and not slot.done:
                    slot.failure = slot.failure_after(
                        failure, end_written=slot is not self._unwritten_end)
            if item is not None:
                slots.append(self._unsent(item, failure))
            slots += [self._unsent(rest, failure) for rest in items]
        self._batch = []
        self._unwritten_end = None
        return deliver(slots[handed:], mode, on_settled)

    async def _first_to_send(
        self,
        items: Iterator[PreparedMessage | InputError],
        slots: list[Transaction | SendResult],
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> PreparedMessage | None:
        """The first message to send (bad input before it is reported), connected for it;
        None when there is nothing to send (then no connection is needed)."""
        item: PreparedMessage | InputError | None = None
        try:
            item = next(items, None)
            while isinstance(item, InputError):
                slots.append(self._unsent_result(None, item))
                item = next(items, None)
            if item is not None:
                await self.connect()
        except BaseException as caught:
            if not isinstance(caught, Exception):  # Ctrl-C, cancellation: what we know
                attach(caught, self._interrupted(slots, item, shrink))
            raise
        return item

    async def _begin_transaction(
        self,
        tx: Transaction,
        features: SessionFeatures,
        tail: bytearray,
        outstanding: deque[Transaction],
    ) -> bytearray | None:
        """Write one transaction (prefixed by ``tail``); return what must precede the next,
        or ``None`` when its DATA reply is still due (then ``_finish_transaction``)."""
        prepared = tx.prepared
        tx.use_bdat = features.chunking
        group = tail
        if tx.use_bdat and outstanding:
            # The previous transaction's verdict is not known yet: if it failed half-way
            # the server may still hold its transaction open (RFC 3030 §2), so reset first.
            group += await self._queue(Rset(), None, group)
        mail = MailFrom(prepared.sender, mail_options(prepared, features))
        recipients = [RcptTo(r, prepared.rcpt_options) for r in prepared.recipients]
        if features.pipelining:
            # RFC 2920 §3.1: MAIL and every RCPT go out in one group (with DATA below).
            group += self._encode(mail, tx.number)
            for rcpt in recipients:
                group += self._encode(rcpt, tx.number)
        else:
            group += await self._queue(mail, tx.number, group)
            if await self._refused_in_lock_step(tx, group):
                return bytearray(await self._queue(Rset(), None, group))
            for rcpt in recipients:
                group += await self._queue(rcpt, tx.number, group)
            if await self._refused_in_lock_step(tx, group):
                # Case 38: every recipient refused: no DATA at all (only pipelining forces it).
                return bytearray(await self._queue(Rset(), None, group))
        if tx.use_bdat:
            if not self._bdat_trusted or prepared.size is None or prepared.size > BDAT_CHUNK:
                # Until one transaction has gone through, or when the content is large,
                # learn the MAIL/RCPT verdicts before sending content: a server that
                # refuses MAIL may not consume the chunk (RFC 3030 §2 says it must).
                await self._flush(group)
                group = bytearray()
                outstanding.append(tx)
                while not tx.envelope_answered:
                    await self._dispatch_next()
                outstanding.remove(tx)
                if tx.failed_before_content:
                    tx.abandoned = True
                    return bytearray(await self._queue(Rset(), None, group))
            await self._write_bdat(tx, features, group)
            if tx.abandoned:
                return bytearray(await self._queue(Rset(), None, bytearray()))
            outstanding.append(tx)
            window = TRANSACTION_WINDOW if features.pipelining else 0
            while len(outstanding) > window:
                await self._collect(outstanding)
            return bytearray()
        group += (self._encode(_DATA, tx.number) if features.pipelining
                  else await self._queue(_DATA, tx.number, group))
        await self._flush(group)
        outstanding.append(tx)
        return None

    async def _finish_transaction(
        self, tx: Transaction, features: SessionFeatures, outstanding: deque[Transaction]
    ) -> bytearray:
        """After DATA: the content on a 354; return what must precede the next transaction."""
        conn = self._require_conn()
        while tx.data_reply is None:
            await self._dispatch_next()
        self._forget_finished(outstanding)
        tail = bytearray()
        if tx.data_reply.code != 354:
            # DATA refused: no content; RSET in case MAIL and RCPT left a transaction open.
            tail += await self._queue(Rset(), None, tail)
            return tail
        if not tx.any_accepted:
            # RFC 2920 §3.1 (case 39): every RCPT failed yet DATA got 354: send no
            # content, just end it, then reset.
            tail += conn.end_content()
            tail += await self._queue(Rset(), None, tail)
            return tail
        # The end of the content is not written yet: it goes out together with the next
        # transaction's MAIL/RCPT/DATA (RFC 2920 §3.1: content may open a group), so a
        # stream of small messages costs one write and one round trip each.
        await self._write_content(tx, features, tail)
        return tail

    async def _refused_in_lock_step(self, tx: Transaction, group: bytearray) -> bool:
        """Without PIPELINING, learn the verdicts so far; True when the envelope was refused."""
        await self._settle(group)
        if tx.failed_before_content:
            tx.abandoned = True
            return True
        return False

    async def _queue(self, command: Command, tag: object, group: bytearray) -> bytes:
        """The bytes for ``command``; without PIPELINING, first finish the previous exchange."""
        conn = self._require_conn()
        if conn.pending and not conn.pipelining:
            await self._settle(group)
        return self._encode(command, tag)

    def _encode(self, command: Command, tag: object) -> bytes:
        """The bytes for ``command``, queued in the core (and shown in the transcript)."""
        conn = self._require_conn()
        data = conn.send(command, tag=tag)
        if self.transcript is not None:
            self.transcript.client(command.redacted(), tls=conn.tls_active)
        return data

    async def _settle(self, group: bytearray) -> None:
        """Without PIPELINING (RFC 2920): write what is queued and read every pending reply
        before the next command (strict lock-step, security case 57)."""
        conn = self._require_conn()
        if conn.pipelining:
            return
        await self._flush(group)
        group.clear()
        while conn.pending:
            await self._dispatch_next()

    def _refuse_8bit(self, chunk: bytes, allow_8bit: bool) -> None:
        if not allow_8bit and not chunk.isascii():
            raise InputError("the message has 8-bit content and the server does not offer"
                             " 8BITMIME", field="body")

    async def _write_content(
        self, tx: Transaction, features: SessionFeatures, buffer: bytearray
    ) -> None:
        """Encode the content and its end into ``buffer``, writing out each full
        WRITE_SIZE; the rest stays in ``buffer`` (it goes out with the next group)."""
        conn = self._require_conn()
        checked = tx.prepared.checked
        if checked is not None:
            # Checked by the core when the message was prepared: dot-stuffing is all
            # that is left, and it is one C-level replace.
            tx.size = len(checked.data)
            wire = conn.send_checked_content(checked)
            if len(buffer) + len(wire) >= WRITE_SIZE:
                # A big message goes out now, not with the next group: all but its ".CRLF",
                # which waits for the early-reply check of the next write.
                buffer += memoryview(wire)[:-3]
                await self._write(buffer, "BLOCK")
                buffer.clear()
                buffer += b".\r\n"
            else:
                buffer += wire
            self._unwritten_end = tx
            tx.content_sent = True
            if self.transcript is not None:
                self._event(f"[{tx.size} bytes of message content]", tls=conn.tls_active)
            return
        # Whole messages were checked for 8-bit content before the transaction began.
        scan_8bit = tx.prepared.eight_bit is None
        for chunk in tx.prepared.chunks():
            if scan_8bit:
                self._refuse_8bit(chunk, features.eight_bit_mime)
            tx.size += len(chunk)
            buffer += conn.send_content(chunk)
            if len(buffer) >= WRITE_SIZE:
                await self._write(buffer, "BLOCK")
                buffer.clear()
        buffer += conn.end_content()
        self._unwritten_end = tx
        tx.content_sent = True
        if self.transcript is not None:
            self._event(f"[{tx.size} bytes of message content]", tls=conn.tls_active)

    async def _write_bdat(
        self,
        tx: Transaction,
        features: SessionFeatures,
        group: bytearray,
    ) -> None:
        conn = self._require_conn()
        if conn.pending:
            await self._settle(group)
        conn.start_bdat()
        scan_8bit = tx.prepared.eight_bit is None
        pending = b""
        for chunk in rechunk(tx.prepared.chunks(), BDAT_CHUNK):
            if scan_8bit:
                self._refuse_8bit(chunk, features.eight_bit_mime)
            if pending:
                group += conn.send_bdat(pending, last=False, tag=tx.number)
                await self._flush(group)
                group.clear()
                await self._settle(group)
                if tx.final_reply is not None:
                    # RFC 3030 §2 (case 44): a refused chunk ends the transaction: send no
                    # more chunks; the caller resets with RSET.
                    conn.abandon_bdat()
                    tx.abandoned = True
                    return
            tx.size += len(chunk)
            pending = chunk
        group += conn.send_bdat(pending, last=True, tag=tx.number)
        tx.content_sent = True
        self._event(f"[{tx.size} bytes of message content in BDAT chunks]",
                    tls=conn.tls_active)
        await self._flush(group)

    async def _flush(self, data: bytearray | bytes) -> None:
        if data:
            await self._write(data, "BLOCK")

    async def _collect(self, outstanding: deque[Transaction]) -> None:
        """Read replies until the oldest outstanding transaction has its verdict."""
        oldest = outstanding[0]
        while not oldest.done:
            await self._dispatch_next()
        self._forget_finished(outstanding)

    def _forget_finished(self, outstanding: deque[Transaction]) -> None:
        """Drop the transactions at the front that have their verdict (the slots keep them)."""
        while outstanding and outstanding[0].done:
            finished = outstanding.popleft()
            if finished.use_bdat and finished.error() is None:
                self._bdat_trusted = True

    async def _dispatch_next(self) -> None:
        """Hand the next reply, and every reply already received after it, to its
        transaction (one wait at most; a pipelined group's replies usually come together)."""
        reply = await self._read_reply()
        conn = self._require_conn()
        while True:
            # A transaction's commands are tagged with its place in the batch (a number,
            # so the replies handed to the caller keep no reference to the bookkeeping).
            tx = self._batch[reply.tag] if type(reply.tag) is int else None
            if isinstance(tx, Transaction):
                tx.on_reply(reply)
                if tx.use_bdat and tx.final_reply is reply and reply.code == 250:
                    self._bdat_trusted = True
                elif reply.code < 400 and reply.code != 250 and tx.broken_by(reply):
                    # RFC 5321 §4.3.2: neither success nor refusal; the session cannot go on.
                    raise tx.error() or RemoteProtocolError(str(reply))
            if reply.code == 421:
                raise ServiceClosing(reply.code, reply.text, command=reply.verb,
                                     enhanced_status=reply.enhanced_status)
            event = conn.next_event()
            if event is NEED_DATA:
                return
            if type(event) is Reply and self.transcript is None:
                reply = event  # the common case, without a call
            else:
                reply = self._reply_from(event)

    def _refuse_early_reply(self, tx: Transaction) -> None:
        """Nothing may arrive between DATA's 354 and the written end of the content: a reply
        there answers no command (RFC 5321 §4.1.1.4: the verdict follows the end of the
        data) and must never be taken as this message's verdict."""
        data = self._require_stream().read_available(READ_SIZE)
        if data is None:
            return
        error: CdoMailError
        if data:
            shown = escape(data[:80])
            self._event(f"early reply: {shown}", tls=self._require_conn().tls_active)
            error = RemoteProtocolError(
                "the server replied before the message content was completely sent"
                f" ({shown}): that is no verdict; the message was not accepted"
            )
        else:
            error = ServerDisconnected(
                f"{self.config.host}:{self.config.port} closed the connection before the"
                " message content was completely sent: the message was not accepted"
            )
        tx.failure = error
        raise error

    # -- reading and writing --------------------------------------------------------------

    async def _refuse_idle_input(self) -> None:
        """Before a new exchange, nothing may be waiting: a reply that arrived while no
        command was pending must never be taken as the next command's answer (case 15)."""
        conn = self._require_conn()
        if conn.pending:
            return
        data = self._require_stream().read_available(READ_SIZE)
        if data is None:
            return
        try:
            conn.receive_data(data)
            if isinstance(conn.next_event(), ConnectionClosed):
                raise ServerDisconnected(
                    f"{self.config.host}:{self.config.port} closed the connection")
        except CdoMailError:
            await self._abort()
            raise

    async def _command(self, command: Command) -> Reply:
        await self._send_command(command)
        reply = await self._read_reply(command.verb)
        if reply.code == 421 and not isinstance(command, Quit):
            await self._abort()
            raise ServiceClosing(reply.code, reply.text, command=command.verb,
                                 enhanced_status=reply.enhanced_status)
        return reply

    async def _send_command(self, command: Command) -> None:
        conn = self._require_conn()
        await self._refuse_idle_input()
        data = conn.send(command)
        if self.transcript is not None:
            self.transcript.client(command.redacted(), tls=conn.tls_active)
        await self._write(data, command.verb)

    async def _write(self, data: bytes | bytearray, what: str) -> None:
        stream = self._require_stream()
        try:
            if self._unwritten_end is not None:
                # These bytes carry the end of a message's content: the last moment a reply
                # can be told apart as early (it cannot answer bytes not yet sent).
                tx, self._unwritten_end = self._unwritten_end, None
                self._refuse_early_reply(tx)
            await stream.write(data, self._clock.timeout(what))
        except CdoMailError:
            await self._abort()
            raise

    async def _read_reply(self, what: str | None = None) -> Reply:
        """The next reply; ``what`` names the timeout (default: the oldest pending verb's)."""
        conn = self._require_conn()
        stream = self._require_stream()
        try:
            end: float | None = None
            tried_at_once = False
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    if not tried_at_once:
                        # Hot path: in a pipelined batch the reply has usually arrived while
                        # the next message was prepared: take it without working out a
                        # deadline. Every later read has one (a trickled reply, case 33).
                        tried_at_once = True
                        data = stream.read_available(READ_SIZE)
                        if data is not None:
                            conn.receive_data(data)
                            continue
                    if end is None:
                        end = self._clock.reply_deadline(what or timeout_key(conn))
                    conn.receive_data(await stream.read(READ_SIZE, self._clock.remaining(end)))
                    continue
                return self._reply_from(event)
        except CdoMailError:
            # Security rule 4: after a timeout or a broken reply the connection is never reused.
            await self._abort()
            raise

    def _reply_from(self, event: Reply | ConnectionClosed) -> Reply:
        """The reply (shown in the transcript), or the error for a closed connection."""
        if isinstance(event, Reply):
            if self.transcript is not None:
                self.transcript.server(event.lines, event.code,
                                       tls=self._require_conn().tls_active)
            return event
        raise ServerDisconnected(
            f"{self.config.host}:{self.config.port} closed the connection"
            + (f" while {event.pending[0].verb} awaited its reply" if event.pending else "")
        )

    def _event(self, text: str, *, tls: bool = False) -> None:
        if self.transcript is not None:
            self.transcript.event(text, tls=tls)

    def _require_conn(self) -> ClientConnection:
        if self._conn is None:
            raise LocalProtocolError("not connected")
        return self._conn

    def _require_stream(self) -> AsyncNetworkStream:
        if self._stream is None:
            raise LocalProtocolError("not connected")
        return self._stream

    # -- closing ------------------------------------------------------------------------

    async def _quit_quietly(self) -> None:
        """QUIT and close, ignoring failures: used on the way out of an error."""
        try:
            conn = self._require_conn()
            if conn.state in _NO_QUIT_STATES:
                # Mid-content QUIT would be read as message text: just close.
                raise LocalProtocolError("no QUIT in this state")
            if not conn.pending:
                data = conn.send(Quit())
                if self.transcript is not None:
                    self.transcript.client(data, tls=conn.tls_active)
                await self._require_stream().write(data, 5.0)
                await self._read_reply("QUIT")
        except (CdoMailError, OSError):
            pass
        await self._abort()

    async def _abort(self) -> None:
        # A later reconnect starts from nothing: in particular it must not inherit the
        # TLS facts of this connection (a plaintext reconnect would look encrypted).
        self._tls = None
        stream, self._stream, self._conn = self._stream, None, None
        if stream is not None:
            await stream.aclose()

    async def aclose(self) -> None:
        """Say QUIT (when the session is healthy) and close the connection."""
        if self._conn is not None:
            await self._quit_quietly()
        self._tls = None

    async def __aenter__(self) -> AsyncSMTPClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
