"""One message's transaction: its replies as they arrive, and the verdict.

Shared by both clients. With PIPELINING the replies of several transactions
interleave on one connection; each reply carries its transaction as ``tag``
(see ``protocol.ClientConnection``), and lands here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import (
    CdoMailError,
    DataRefused,
    RecipientRefused,
    RecipientsRefused,
    RemoteProtocolError,
    SenderRefused,
    ServiceClosing,
    StatusUnknown,
    TimeoutError,
    TransportError,
    UnexpectedReply,
)
from ..message import PreparedMessage
from ..protocol import Bdat, Data, EndOfData, Extensions, MailFrom, RcptTo, Reply
from ..result import SendResult
from ..tls import TLSInfo


@dataclass(frozen=True, slots=True)
class SessionFeatures:
    """What the current session allows, read once from the EHLO reply per batch.

    A batch of thousands of transactions asks these questions for every message;
    the answers cannot change until the next EHLO.
    """

    pipelining: bool
    chunking: bool
    eight_bit_mime: bool
    smtputf8: bool
    size: bool

    @classmethod
    def of(
        cls, extensions: Extensions, *, pipelining: bool, allow_chunking: bool
    ) -> SessionFeatures:
        """``pipelining``: what the connection decided (RFC 2920 advertised, not disabled)."""
        return cls(
            pipelining=pipelining,
            chunking=allow_chunking and extensions.has("CHUNKING"),
            eight_bit_mime=extensions.has("8BITMIME"),
            smtputf8=extensions.has("SMTPUTF8"),
            size=extensions.has("SIZE"),
        )


class Transaction:
    """Replies of one message, and what they add up to."""

    # Slots: a batch keeps thousands of these alive, and each __dict__ is one more
    # object for the garbage collector to walk.
    __slots__ = ("abandoned", "content_sent", "data_reply", "failure", "final_reply",
                 "mail_reply", "number", "prepared", "rcpt_replies", "size", "tls", "use_bdat")

    def __init__(self, prepared: PreparedMessage, tls: TLSInfo | None, *, number: int) -> None:
        self.prepared = prepared
        #: Its place in the batch; its commands carry this as their tag.
        self.number = number
        #: The TLS session the transaction ran in (None: plaintext).
        self.tls = tls
        self.mail_reply: Reply | None = None
        self.rcpt_replies: dict[str, Reply] = {}
        self.data_reply: Reply | None = None
        self.final_reply: Reply | None = None
        self.content_sent = False
        self.use_bdat = False
        self.size = 0
        #: The transaction was given up before its content (refused envelope).
        self.abandoned = False
        #: Set when the connection failed before the verdict arrived.
        self.failure: CdoMailError | None = None

    def on_reply(self, reply: Reply) -> None:
        """Record a reply addressed to this transaction."""
        command = reply.command
        # Exact types, most frequent first: this runs for every reply of a batch.
        if type(command) is RcptTo:
            self.rcpt_replies[command.address] = reply
        elif type(command) is MailFrom:
            self.mail_reply = reply
        elif type(command) is Data:
            self.data_reply = reply
        elif type(command) is EndOfData:
            self.final_reply = reply
        elif (
            isinstance(command, Bdat)
            and (command.last or reply.code >= 400)
            and (self.final_reply is None or self.final_reply.code < 400)
        ):
            # RFC 3030 §2: the reply to the LAST chunk is the verdict; a refused
            # chunk fails the transaction even if later chunks were pipelined.
            self.final_reply = reply

    @property
    def any_accepted(self) -> bool:
        """At least one recipient was accepted (``result()`` lists which)."""
        for reply in self.rcpt_replies.values():  # noqa: SIM110 (no generator: runs per message)
            if reply.code < 400:
                return True
        return False

    @property
    def done(self) -> bool:
        """The verdict is known (or can no longer arrive)."""
        if self.failure is not None or self.final_reply is not None or self.abandoned:
            return True
        if self.use_bdat:
            return False
        return self.data_reply is not None and self.data_reply.code != 354

    def broken_by(self, reply: Reply) -> bool:
        """``reply`` (below 400) answers DATA with other than 354, or the content with other
        than 250: the server and the client disagree about the state (RFC 5321 §4.3.2)."""
        if reply is self.final_reply:
            return reply.code != 250
        return reply is self.data_reply and reply.code != 354

    @property
    def envelope_answered(self) -> bool:
        """MAIL and every RCPT have their replies."""
        return self.mail_reply is not None and len(self.rcpt_replies) == len(
            set(self.prepared.recipients)
        )

    @property
    def failed_before_content(self) -> bool:
        """The transaction cannot deliver: refused MAIL, no recipient, or refused DATA."""
        if self.mail_reply is not None and self.mail_reply.code >= 400:
            return True
        expected = len(self.prepared.recipients)
        if len(self.rcpt_replies) == expected and not self.any_accepted:
            return True
        return self.data_reply is not None and self.data_reply.code != 354

    def error(self) -> CdoMailError | None:
        """The verdict as an exception, or ``None`` when the message was accepted.

        Never ``None`` unless the final reply is 250: a result is either ok or carries an
        error, never neither.
        """
        if self.failure is not None:
            return self.failure
        final = self.final_reply
        if (
            final is not None
            and final.code == 250
            and (self.mail_reply is None or self.mail_reply.code < 400)
            and self.any_accepted
        ):
            # Accepted: the common case, decided before building the refusals below
            # (a 421 would have closed the connection before any final reply).
            return None
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        return self._unexpected()

    def _refusal(self) -> CdoMailError | None:
        """The 4xx/5xx reply that failed the transaction, as an exception."""
        for reply in (self.mail_reply, *self.rcpt_replies.values(), self.data_reply,
                      self.final_reply):
            if reply is not None and reply.code == 421:
                return ServiceClosing(reply.code, reply.text, command=reply.verb,
                                      enhanced_status=reply.enhanced_status)
        if self.mail_reply is not None and self.mail_reply.code >= 400:
            return SenderRefused(self.mail_reply.code, self.mail_reply.text,
                                 sender=self.prepared.sender,
                                 enhanced_status=self.mail_reply.enhanced_status)
        if self.rcpt_replies and not self.any_accepted:
            return RecipientsRefused([
                RecipientRefused(r.code, r.text, recipient=a, enhanced_status=r.enhanced_status)
                for a, r in self.rcpt_replies.items()
            ])
        for reply in (self.data_reply, self.final_reply):
            if reply is not None and reply.code >= 400:
                return DataRefused(reply.code, reply.text, command=reply.verb,
                                   enhanced_status=reply.enhanced_status)
        return None

    def _unexpected(self) -> CdoMailError:
        """No refusal, yet no 250 after the content: the reply that broke the protocol."""
        data, final = self.data_reply, self.final_reply
        if data is not None and data.code != 354:
            return UnexpectedReply(data.code, data.text, command="DATA", expected=354)
        if final is not None:
            command = "the end of the data" if final.verb == "." else final.verb
            return UnexpectedReply(final.code, final.text, command=command, expected=250)
        return RemoteProtocolError("the transaction ended without a reply to its content")

    def failure_after(self, exc: CdoMailError, *, end_written: bool) -> CdoMailError:
        """What the connection breaking with ``exc`` means for this transaction, which has
        no verdict yet; ``end_written``: the end of its content went out to the server."""
        if (
            self.content_sent
            and self.final_reply is None
            and end_written
            and isinstance(exc, TimeoutError | TransportError | RemoteProtocolError)
        ):
            # RFC 5321 §4.5.3.2.6 / §6.1: the end of the data went out, its reply did not
            # come back. The server may have taken responsibility for the message.
            unknown = StatusUnknown(
                "the connection failed after the message content was sent and before its"
                " verdict: the server may or may not have accepted it; do not blindly"
                f" resend ({exc})"
            )
            unknown.__cause__ = exc
            return unknown
        return exc

    def result(self, tls_mode: str) -> SendResult:
        """The SendResult for the caller."""
        accepted: dict[str, Reply] = {}
        refused: dict[str, Reply] = {}
        for address, reply in self.rcpt_replies.items():
            (accepted if reply.code < 400 else refused)[address] = reply
        return SendResult(
            sender=self.prepared.sender,
            recipients=list(self.prepared.recipients),
            tls_mode=tls_mode,
            tls=self.tls,
            accepted=accepted,
            refused=refused,
            reply=self.final_reply,
            error=self.error(),
            content_command="BDAT" if self.use_bdat else "DATA",
            size=self.size,
        )



def unsent_result(
    prepared: PreparedMessage | None,
    error: CdoMailError,
    tls_mode: str,
    tls: TLSInfo | None = None,
) -> SendResult:
    """The result of a message never sent (bad input, or no session to carry it)."""
    return SendResult(
        sender=prepared.sender if prepared else "",
        recipients=list(prepared.recipients) if prepared else [],
        tls_mode=tls_mode,
        tls=tls,
        error=error,
    )
