"""The batch plan: the transactions of a batch over one open session, as steps.

What a client writes and when: MAIL/RCPT/DATA groups and pipelining windows (RFC 2920),
BDAT and when its chunks may go out before the envelope's verdicts (RFC 3030), RSET
between transactions, and each message's verdict and result. A driver performs the
steps (``Write`` a group, ``Receive`` one reply, ``Send`` a command, ``Close``); the
plan keeps the protocol state (``connection``) and takes every decision, with no I/O.

The caller's messages are taken lazily: the next one is prepared while the server
answers the current one. A stream of small pipelined messages costs one ``Write`` per
message (the end of a content goes out with the next MAIL/RCPT/DATA, RFC 2920 §3.1) and
one ``Receive`` per wait: replies already received are taken from the connection here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar, cast

from ..batch import BatchResult, attach
from ..errors import (
    CdoMailError,
    InputError,
    RemoteProtocolError,
    ServerDisconnected,
    ServiceClosing,
)
from ..message import PreparedMessage
from ..protocol import (
    NEED_DATA,
    ClientConnection,
    Command,
    ConnectionClosed,
    Data,
    Extensions,
    MailFrom,
    RcptTo,
    Reply,
    Rset,
)
from ..result import SendResult
from ..tls import TLSInfo
from ..transcript import Transcript, escape
from ._batch import (
    BDAT_CHUNK,
    TRANSACTION_WINDOW,
    WRITE_SIZE,
    check_features,
    deliver,
    hand_over,
    interrupted_results,
    mail_options,
    rechunk,
    settle_results,
    shown_reply,
)
from ._steps import Close, Receive, Send, Step, Write
from ._transaction import SessionFeatures, Transaction, unsent_result

_T = TypeVar("_T")
#: A part of the batch plan: yields steps, receives a Reply (``Receive``), the bytes a
#: guarded ``Write`` found waiting, or None.
BatchSteps = Generator[Step, Reply | bytes | None, _T]
#: DATA carries no argument: one value serves every transaction.
_DATA = Data()
#: The next reply, within the timeout of the oldest command awaiting one.
_NEXT_REPLY = Receive("")
_CLOSE = Close(polite=False)


class BatchPlan:
    """Send the messages of ``items`` (an InputError item is reported, not sent).

    ``first_message()`` takes the first message to send (so that the driver connects
    only when there is one); ``steps(...)`` then sends it and the rest over the open
    session and returns the results. With ``on_settled`` each result goes there as soon
    as it is final and the returned list is empty; ``shrink`` makes the results an
    interruption carries compact. ``peer`` ("host:port") names the server in errors.
    """

    def __init__(
        self,
        items: Iterator[PreparedMessage | InputError],
        mode: str,
        peer: str,
        *,
        on_settled: Callable[[SendResult], object] | None = None,
        shrink: Callable[[SendResult], BatchResult] | None = None,
    ) -> None:
        self.items = items
        self.mode = mode
        self.peer = peer
        self.on_settled = on_settled
        self.shrink = shrink
        #: The batch so far: transactions, or their results once settled. A transaction's
        #: commands are tagged with its place here (a number, so the replies handed to the
        #: caller keep no reference to the bookkeeping).
        self.slots: list[Transaction | SendResult] = []
        #: The message taken from ``items`` and not yet in ``slots``.
        self.item: PreparedMessage | InputError | None = None
        self.settled = 0  # slots[:settled] are final results
        self.handed = 0  # slots[:handed] were handed to on_settled
        #: Transactions written whose verdict is still due, oldest first.
        self.outstanding: deque[Transaction] = deque()
        #: The transaction whose end of content is queued but not yet written.
        self.unwritten_end: Transaction | None = None
        #: The last command queued was RSET: the server holds no transaction now, and a
        #: refused last message needs no second RSET at the end of the batch.
        self.reset_queued = False
        #: A BDAT transaction went through on this client: later small ones may stream
        #: their chunk with the envelope (read back by the driver for its next batch).
        self.bdat_trusted = False
        self.tls: TLSInfo | None = None
        self.transcript: Transcript | None = None

    # -- before the session ---------------------------------------------------------------

    def first_message(self, tls: TLSInfo | None) -> PreparedMessage | None:
        """The first message to send (bad input before it is reported); None when there
        is nothing to send (then no connection is needed)."""
        try:
            item = self.item = next(self.items, None)
            while isinstance(item, InputError):
                self.slots.append(unsent_result(None, item, self.mode, tls))
                self.item = None  # reported: an interruption in next() must not repeat it
                item = self.item = next(self.items, None)
        except BaseException as caught:
            self.interrupted_by(caught, tls)
            raise
        return item

    def interrupted_by(self, caught: BaseException, tls: TLSInfo | None) -> None:
        """Ctrl-C or cancellation (not an Exception): the interruption carries what is known."""
        if not isinstance(caught, Exception):
            attach(caught, interrupted_results(self.slots[self.handed:], self.item, self.mode,
                                               tls, self.shrink))

    def results(self) -> list[SendResult]:
        """The results when nothing was sent (every item was bad input, or none came)."""
        return deliver(self.slots, self.mode, self.on_settled)

    # -- the session ----------------------------------------------------------------------

    def steps(
        self,
        connection: ClientConnection,
        extensions: Extensions,
        tls: TLSInfo | None,
        *,
        chunking: bool,
        transcript: Transcript | None,
        bdat_trusted: bool,
    ) -> BatchSteps[list[SendResult]]:
        """Send the batch over the open session ``connection`` (after ``first_message``)."""
        self.conn = connection
        self.features = SessionFeatures.of(extensions, pipelining=connection.pipelining,
                                           allow_chunking=chunking)
        self.tls, self.transcript, self.bdat_trusted = tls, transcript, bdat_trusted
        try:
            yield from self._send_all()
        except CdoMailError as failure:
            # A refusal that ends the session, a broken reply, the network: the connection
            # may be mid-content, so it is closed and never reused.
            yield _CLOSE
            self.tls = None
            self._fail_unfinished(failure)
        except BaseException as caught:
            if not isinstance(caught, GeneratorExit):
                self.interrupted_by(caught, None)  # the driver closes the connection
            raise
        return deliver(self.slots[self.handed:], self.mode, self.on_settled)

    def _send_all(self) -> BatchSteps[None]:
        slots, items = self.slots, self.items
        pipelined_data = self.features.pipelining and not self.features.chunking
        last: Transaction | None = None
        tail: bytearray | None = bytearray()
        while self.item is not None:
            current, self.item = self.item, None
            tx = self._transaction_for(current)
            if tx is None:
                self.item = next(items, None)
                continue
            last = tx
            if pipelined_data:
                # The hot path spelled out here (no generator of its own), RFC 2920 §3.1:
                # the previous content's end, MAIL, every RCPT and DATA in one write.
                group = self._envelope(tx, tail or bytearray())
                group += self._encode(_DATA, tx.number)
                yield from self._write(group)
                self.outstanding.append(tx)
                tail = None
            else:
                tail = yield from self._begin_transaction(tx, tail or bytearray())
            self.item = next(items, None)  # prepared while the server answers
            if tail is None:
                tail = yield from self._finish_transaction(tx)
            self.settled = settle_results(slots, self.settled, self.mode)
            if self.on_settled is not None:
                self.handed = hand_over(slots, self.handed, self.settled, self.on_settled)
        yield from self._write(tail or b"")
        while self.outstanding:
            yield from self._collect()
        while self.conn.pending:
            # The reply to an RSET written after the last transaction: read it, so that the
            # session ends clean (a QUIT may follow, or the next batch's first command).
            yield from self._dispatch_next()
        if (last is not None and last.final_reply is not None and last.final_reply.code >= 400
                and not self.reset_queued):
            # RFC 5321 §4.1.1.5: after a refused message the server may still hold state
            # from it; reset before the session is reused.
            yield from self._command(Rset())

    def _transaction_for(self, current: PreparedMessage | InputError) -> Transaction | None:
        """The transaction for ``current``; None when it is reported unsent instead (bad
        input, or something this session cannot carry)."""
        if isinstance(current, InputError):
            self.slots.append(unsent_result(None, current, self.mode, self.tls))
            return None
        try:
            check_features(current, self.features)
        except InputError as exc:
            self.slots.append(unsent_result(current, exc, self.mode, self.tls))
            return None
        tx = Transaction(current, self.tls, number=len(self.slots))
        self.slots.append(tx)
        return tx

    def _fail_unfinished(self, failure: CdoMailError) -> None:
        """The session broke with ``failure``: what it means for each message without a
        verdict ("status unknown" once its content's end went out), and the rest unsent."""
        for slot in self.slots[self.settled:]:
            if isinstance(slot, Transaction) and not slot.done:
                slot.failure = slot.failure_after(
                    failure, end_written=slot is not self.unwritten_end)
        if self.item is not None:
            self.slots.append(self._unsent(self.item, failure))
        self.slots += [self._unsent(rest, failure) for rest in self.items]

    def _unsent(self, item: PreparedMessage | InputError, failure: CdoMailError) -> SendResult:
        """The result of an item never sent: its own input error, or ``failure``."""
        if isinstance(item, InputError):
            return unsent_result(None, item, self.mode, self.tls)
        return unsent_result(item, failure, self.mode, self.tls)

    # -- one transaction ------------------------------------------------------------------

    def _begin_transaction(self, tx: Transaction, tail: bytearray) -> BatchSteps[bytearray | None]:
        """Write one transaction (prefixed by ``tail``); return what must precede the next,
        or ``None`` when its DATA reply is still due (then ``_finish_transaction``)."""
        prepared, features = tx.prepared, self.features
        tx.use_bdat = features.chunking
        group = tail
        if tx.use_bdat and self.outstanding:
            # The previous transaction's verdict is not known yet: if it failed half-way
            # the server may still hold its transaction open (RFC 3030 §2), so reset first.
            group += yield from self._queue(Rset(), None, group)
        if features.pipelining:
            # RFC 2920 §3.1: MAIL and every RCPT go out in one group (with DATA below).
            group = self._envelope(tx, group)
        else:
            mail = MailFrom(prepared.sender, mail_options(prepared, features))
            recipients = [RcptTo(r, prepared.rcpt_options) for r in prepared.recipients]
            group += yield from self._queue(mail, tx.number, group)
            if (yield from self._refused_in_lock_step(tx, group)):
                return bytearray((yield from self._queue(Rset(), None, group)))
            for rcpt in recipients:
                group += yield from self._queue(rcpt, tx.number, group)
            if (yield from self._refused_in_lock_step(tx, group)):
                # Every recipient refused: no DATA at all (only pipelining forces it).
                return bytearray((yield from self._queue(Rset(), None, group)))
        if tx.use_bdat:
            return (yield from self._begin_bdat(tx, group))
        group += (self._encode(_DATA, tx.number) if features.pipelining
                  else (yield from self._queue(_DATA, tx.number, group)))
        yield from self._write(group)
        self.outstanding.append(tx)
        return None

    def _envelope(self, tx: Transaction, group: bytearray) -> bytearray:
        """With PIPELINING: MAIL and every RCPT of ``tx`` added to ``group``."""
        prepared = tx.prepared
        group += self._encode(MailFrom(prepared.sender, mail_options(prepared, self.features)),
                              tx.number)
        for address in prepared.recipients:
            group += self._encode(RcptTo(address, prepared.rcpt_options), tx.number)
        return group

    def _begin_bdat(self, tx: Transaction, group: bytearray) -> BatchSteps[bytearray]:
        """The BDAT part of ``_begin_transaction``: the content, once it may go out."""
        size = tx.prepared.size
        if not self.bdat_trusted or size is None or size > BDAT_CHUNK:
            # Until one transaction has gone through, or when the content is large,
            # learn the MAIL/RCPT verdicts before sending content: a server that
            # refuses MAIL may not consume the chunk (RFC 3030 §2 says it must).
            yield from self._write(group)
            group = bytearray()
            self.outstanding.append(tx)
            while not tx.envelope_answered:
                yield from self._dispatch_next()
            self.outstanding.remove(tx)
            if tx.failed_before_content:
                tx.abandoned = True
                return bytearray((yield from self._queue(Rset(), None, group)))
        yield from self._write_bdat(tx, group)
        if tx.abandoned:
            return bytearray((yield from self._queue(Rset(), None, bytearray())))
        self.outstanding.append(tx)
        window = TRANSACTION_WINDOW if self.features.pipelining else 0
        while len(self.outstanding) > window:
            yield from self._collect()
        return bytearray()

    def _finish_transaction(self, tx: Transaction) -> BatchSteps[bytearray]:
        """After DATA: the content on a 354; return what must precede the next transaction."""
        while tx.data_reply is None:
            self._dispatch(cast(Reply, (yield _NEXT_REPLY)))
        self._forget_finished()
        tail = bytearray()
        if tx.data_reply.code != 354:
            # DATA refused: no content; RSET in case MAIL and RCPT left a transaction open.
            tail += yield from self._queue(Rset(), None, tail)
            return tail
        if not tx.any_accepted:
            # RFC 2920 §3.1: every RCPT failed yet DATA got 354: send no content, just
            # end it, then reset.
            tail += self.conn.end_content()
            tail += yield from self._queue(Rset(), None, tail)
            return tail
        # The end of the content is not written yet: it goes out together with the next
        # transaction's MAIL/RCPT/DATA (RFC 2920 §3.1: content may open a group), so a
        # stream of small messages costs one write and one round trip each.
        yield from self._write_content(tx, tail)
        return tail

    def _refused_in_lock_step(self, tx: Transaction, group: bytearray) -> BatchSteps[bool]:
        """Without PIPELINING, learn the verdicts so far; True when the envelope was refused."""
        yield from self._settle(group)
        if tx.failed_before_content:
            tx.abandoned = True
            return True
        return False

    # -- content ----------------------------------------------------------------------------

    def _write_content(self, tx: Transaction, buffer: bytearray) -> BatchSteps[None]:
        """Encode the content and its end into ``buffer``, writing out each full
        WRITE_SIZE; the rest stays in ``buffer`` (it goes out with the next group)."""
        checked = tx.prepared.checked
        if checked is None:
            yield from self._write_chunks(tx, buffer)
        else:
            # Checked by the core when the message was prepared: dot-stuffing is all
            # that is left, and it is one C-level replace.
            tx.size = len(checked.data)
            wire = self.conn.send_checked_content(checked)
            if len(buffer) + len(wire) < WRITE_SIZE:
                buffer += wire  # the common case: no write here, no step
            else:
                # A big message goes out now, not with the next group: all but its ".CRLF",
                # which waits for the early-reply check of the next write.
                buffer += memoryview(wire)[:-3]
                yield from self._write(buffer)
                buffer.clear()
                buffer += b".\r\n"
        self.unwritten_end = tx
        tx.content_sent = True
        if self.transcript is not None:
            self._event(f"[{tx.size} bytes of message content]")

    def _write_chunks(self, tx: Transaction, buffer: bytearray) -> BatchSteps[None]:
        """Content not checked as a whole: each chunk checked and encoded as it comes."""
        # Whole messages were checked for 8-bit content before the transaction began.
        scan_8bit = tx.prepared.eight_bit is None
        for chunk in tx.prepared.chunks():
            if scan_8bit:
                self._refuse_8bit(chunk)
            tx.size += len(chunk)
            buffer += self.conn.send_content(chunk)
            if len(buffer) >= WRITE_SIZE:
                yield from self._write(buffer)
                buffer.clear()
        buffer += self.conn.end_content()

    def _write_bdat(self, tx: Transaction, group: bytearray) -> BatchSteps[None]:
        conn = self.conn
        if conn.pending:
            yield from self._settle(group)
        conn.start_bdat()
        scan_8bit = tx.prepared.eight_bit is None
        pending = b""
        for chunk in rechunk(tx.prepared.chunks(), BDAT_CHUNK):
            if scan_8bit:
                self._refuse_8bit(chunk)
            if pending:
                group += conn.send_bdat(pending, last=False, tag=tx.number)
                yield from self._write(group)
                group.clear()
                yield from self._settle(group)
                if tx.final_reply is not None:
                    # RFC 3030 §2: a refused chunk ends the transaction: send no more
                    # chunks; the caller resets with RSET.
                    conn.abandon_bdat()
                    tx.abandoned = True
                    return
            tx.size += len(chunk)
            pending = chunk
        group += conn.send_bdat(pending, last=True, tag=tx.number)
        tx.content_sent = True
        self._event(f"[{tx.size} bytes of message content in BDAT chunks]")
        yield from self._write(group)

    def _refuse_8bit(self, chunk: bytes) -> None:
        if not self.features.eight_bit_mime and not chunk.isascii():
            raise InputError("the message has 8-bit content and the server does not offer"
                             " 8BITMIME", field="body")

    def _refuse_early_reply(self, tx: Transaction, early: bytes) -> None:
        """Nothing may arrive between DATA's 354 and the written end of the content: a reply
        there answers no command (RFC 5321 §4.1.1.4: the verdict follows the end of the
        data) and must never be taken as this message's verdict."""
        error: CdoMailError
        if early:
            shown = escape(early[:80])
            self._event(f"early reply: {shown}")
            error = RemoteProtocolError(
                "the server replied before the message content was completely sent"
                f" ({shown}): that is no verdict; the message was not accepted"
            )
        else:
            error = ServerDisconnected(
                f"{self.peer} closed the connection before the message content was"
                " completely sent: the message was not accepted"
            )
        tx.failure = error
        raise error

    # -- commands, writes and replies ------------------------------------------------------

    def _queue(self, command: Command, tag: object, group: bytearray) -> BatchSteps[bytes]:
        """The bytes for ``command``; without PIPELINING, first finish the previous exchange."""
        if self.conn.pending and not self.conn.pipelining:
            yield from self._settle(group)
        return self._encode(command, tag)

    def _encode(self, command: Command, tag: object) -> bytes:
        """The bytes for ``command``, queued in the core (and shown in the transcript)."""
        data = self.conn.send(command, tag=tag)
        self.reset_queued = isinstance(command, Rset)
        if self.transcript is not None:
            self.transcript.client(command.redacted(), tls=self.conn.tls_active)
        return data

    def _settle(self, group: bytearray) -> BatchSteps[None]:
        """Without PIPELINING (RFC 2920 §3.1): write what is queued and read every pending
        reply before the next command (strict lock-step: never a command ahead of a reply)."""
        if self.conn.pipelining:
            return
        yield from self._write(group)
        group.clear()
        while self.conn.pending:
            yield from self._dispatch_next()

    def _write(self, data: bytearray | bytes) -> BatchSteps[None]:
        """Write ``data`` (nothing when empty); guarded when it carries a content's end."""
        if not data:
            return
        tx = self.unwritten_end
        if tx is None:
            yield Write(data)
            return
        # These bytes carry the end of a message's content: the last moment a reply can be
        # told apart as early (it cannot answer bytes not yet sent).
        self.unwritten_end = None
        early = yield Write(data, guard=True)
        if early is not None:
            self._refuse_early_reply(tx, cast(bytes, early))

    def _command(self, command: Command) -> BatchSteps[None]:
        """One command in lock-step, outside any transaction."""
        yield Send(command)
        reply = cast(Reply, (yield Receive(command.verb)))
        if reply.code == 421:
            raise ServiceClosing(reply.code, reply.text, command=command.verb,
                                 enhanced_status=reply.enhanced_status)

    def _collect(self) -> BatchSteps[None]:
        """Read replies until the oldest outstanding transaction has its verdict."""
        oldest = self.outstanding[0]
        while not oldest.done:
            self._dispatch(cast(Reply, (yield _NEXT_REPLY)))
        self._forget_finished()

    def _forget_finished(self) -> None:
        """Drop the transactions at the front that have their verdict (the slots keep them)."""
        outstanding = self.outstanding
        while outstanding and outstanding[0].done:
            finished = outstanding.popleft()
            if finished.use_bdat and finished.error() is None:
                self.bdat_trusted = True

    def _dispatch_next(self) -> BatchSteps[None]:
        """Wait for the next reply and dispatch it (``_dispatch``)."""
        self._dispatch(cast(Reply, (yield _NEXT_REPLY)))

    def _dispatch(self, reply: Reply) -> None:
        """Hand ``reply``, and every reply already received after it, to its transaction
        (one wait at most: a pipelined group's replies usually come together)."""
        conn, slots = self.conn, self.slots
        while True:
            tx = slots[reply.tag] if type(reply.tag) is int else None
            if isinstance(tx, Transaction):
                tx.on_reply(reply)
                if tx.use_bdat and tx.final_reply is reply and reply.code == 250:
                    self.bdat_trusted = True
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

    def _reply_from(self, event: Reply | ConnectionClosed) -> Reply:
        """A reply already received (shown in the transcript), or the closed connection's error."""
        return shown_reply(event, self.transcript, self.conn, self.peer)

    def _event(self, text: str) -> None:
        if self.transcript is not None:
            self.transcript.event(text, tls=self.conn.tls_active)
