"""The single exception tree of cdomail.

Every error cdomail raises derives from :class:`CdoMailError`. Where a builtin
exception already names the situation, the class mixes it in (as aiosmtplib
does), so ``except ConnectionError`` and ``except TimeoutError`` keep working::

    CdoMailError
    ├─ ProtocolError (abstract)
    │   ├─ LocalProtocolError      we were asked to do something illegal
    │   └─ RemoteProtocolError     the server broke the protocol
    │       ├─ NotSMTPServer (+ConnectError)  the first words were not an SMTP greeting
    │       └─ UnexpectedReply     a reply code that is neither success nor refusal there
    ├─ ReplyError(code, text)      the server refused with a 4xx/5xx reply
    │   ├─ GreetingRefused, HeloRefused, SenderRefused, RecipientRefused,
    │   │  DataRefused, AuthenticationFailed, StartTLSRefused
    │   └─ ServiceClosing (421)    the server is closing the channel
    ├─ RecipientsRefused           every recipient of a message was refused
    ├─ TransportError
    │   ├─ ConnectError (+ConnectionError)
    │   └─ ServerDisconnected (+ConnectionError)
    ├─ TimeoutError (+builtins.TimeoutError)
    │   ├─ ConnectTimeout, ReadTimeout, WriteTimeout
    │   └─ StatusUnknown           no reply after the final "." (the message may be queued)
    ├─ TLSError
    │   ├─ TLSRequired             the policy demands TLS and the server does not offer it
    │   ├─ TLSHandshakeError       the handshake failed (with a plain-words diagnosis)
    │   │   └─ HandshakeDisconnected (+ServerDisconnected)  closed mid-handshake
    │   ├─ CertificateVerifyFailed
    │   └─ FingerprintMismatch
    ├─ AuthenticationRefusedLocally  credentials would cross plaintext, or no usable mechanism
    └─ InputError (+ValueError)    bad caller input, raised before any byte is written
        └─ ConfigurationError
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from ._escape import printable

__all__ = [
    "AuthenticationFailed",
    "AuthenticationRefusedLocally",
    "CdoMailError",
    "CertificateVerifyFailed",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "DataRefused",
    "FingerprintMismatch",
    "GreetingRefused",
    "HandshakeDisconnected",
    "HeloRefused",
    "InputError",
    "LocalProtocolError",
    "NotSMTPServer",
    "ProtocolError",
    "ReadTimeout",
    "RecipientRefused",
    "RecipientsRefused",
    "RemoteProtocolError",
    "ReplyError",
    "SenderRefused",
    "ServerDisconnected",
    "ServiceClosing",
    "StartTLSRefused",
    "StatusUnknown",
    "TLSError",
    "TLSHandshakeError",
    "TLSRequired",
    "TimeoutError",
    "TransportError",
    "UnexpectedReply",
    "WriteTimeout",
    "printable",
]


class CdoMailError(Exception):
    """Root of every error raised by cdomail.

    ``str()`` of every error is escaped with :func:`printable`: messages quote reply texts,
    EHLO keywords and AUTH mechanism names that a server chose (terminal spoofing).
    """

    def __str__(self) -> str:
        return printable(super().__str__())


# --- protocol ---------------------------------------------------------------


class ProtocolError(CdoMailError):
    """The SMTP conversation cannot go on. Abstract: raise a subclass."""

    def __init__(self, message: str, /) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """We were asked to do something the protocol (or the current state) forbids."""


class RemoteProtocolError(ProtocolError):
    """The server sent something that is not valid SMTP, or too much of it."""


class UnexpectedReply(RemoteProtocolError):
    """A reply that is neither the success code nor a refusal (4xx/5xx) for its command.

    RFC 5321 §4.3.2: DATA succeeds only with 354 and the end of the data only with 250
    (RFC 3030 §2: each BDAT chunk, the LAST one included, with 250). A 250 to DATA or a 354
    after the final dot means the server and the client disagree about where the
    conversation is: the message's fate is not known to be success, so it is an error.
    """

    def __init__(self, code: int, text: str, /, *, command: str, expected: int) -> None:
        self.code = code
        self.text = text
        self.command = command
        self.expected = expected
        super().__init__(
            f"protocol error: the server answered {command} with {code}, where success is"
            f" {expected} and a refusal 4xx/5xx (RFC 5321 §4.3.2): {text}"
        )


# --- replies ----------------------------------------------------------------


class ReplyError(CdoMailError):
    """The server answered a command with a refusal (4xx or 5xx).

    ``code`` is the three-digit reply code, ``text`` the reply text (lines
    joined with newlines), ``enhanced_status`` the RFC 3463 code when present,
    and ``command`` the verb it answered.
    """

    def __init__(
        self,
        code: int,
        text: str,
        /,
        *,
        command: str = "",
        enhanced_status: str | None = None,
    ) -> None:
        self.code = code
        self.text = text
        self.command = command
        self.enhanced_status = enhanced_status
        super().__init__(code, text)

    @property
    def is_transient(self) -> bool:
        """True for 4xx replies: the same request may succeed later."""
        return 400 <= self.code < 500

    def __str__(self) -> str:
        where = f" to {self.command}" if self.command else ""
        return f"server replied {self.code}{where}: {printable(self.text)}"


class GreetingRefused(ReplyError):
    """The server's greeting was not 220 (RFC 5321 §4.3.1: 554 means no service)."""


class HeloRefused(ReplyError):
    """EHLO (and HELO, where policy allowed it) was refused."""


class StartTLSRefused(ReplyError):
    """STARTTLS was answered with anything but an exact 220 (RFC 3207 §4)."""


class SenderRefused(ReplyError):
    """MAIL FROM was refused."""

    def __init__(
        self,
        code: int,
        text: str,
        /,
        *,
        sender: str = "",
        command: str = "MAIL",
        enhanced_status: str | None = None,
    ) -> None:
        super().__init__(code, text, command=command, enhanced_status=enhanced_status)
        self.sender = sender


class RecipientRefused(ReplyError):
    """One RCPT TO was refused."""

    def __init__(
        self,
        code: int,
        text: str,
        /,
        *,
        recipient: str = "",
        command: str = "RCPT",
        enhanced_status: str | None = None,
    ) -> None:
        super().__init__(code, text, command=command, enhanced_status=enhanced_status)
        self.recipient = recipient


class DataRefused(ReplyError):
    """DATA/BDAT, or the message content after it, was refused."""


class AuthenticationFailed(ReplyError):
    """The server refused our credentials (e.g. 535). The message never holds them."""


class ServiceClosing(ReplyError):
    """421: the server is closing the transmission channel (RFC 5321 §3.8)."""


class RecipientsRefused(CdoMailError):
    """Every recipient of a message was refused, so no content was sent."""

    def __init__(self, refused: Sequence[RecipientRefused], /) -> None:
        self.refused = list(refused)
        super().__init__(self.refused)

    def __str__(self) -> str:
        parts = "; ".join(f"<{r.recipient}>: {r.code} {printable(r.text)}" for r in self.refused)
        return f"every recipient was refused: {parts}"


# --- transport --------------------------------------------------------------


class TransportError(CdoMailError):
    """The network failed under us."""


class ConnectError(TransportError, ConnectionError):
    """No connection could be made (refused, unreachable, name not found)."""


class NotSMTPServer(RemoteProtocolError, ConnectError):
    """The server's first words were not an SMTP greeting (wrong port, or not a mail server)."""


class ServerDisconnected(TransportError, ConnectionError):
    """The server closed the connection while we expected more."""


class TimeoutError(CdoMailError, builtins.TimeoutError):
    """A time limit ran out. The connection is closed and never reused."""


class ConnectTimeout(TimeoutError):
    """Connecting (TCP, implicit TLS handshake, or the greeting) took too long."""


class ReadTimeout(TimeoutError):
    """The server did not answer in time."""


class WriteTimeout(TimeoutError):
    """The server stopped reading what we wrote."""


class StatusUnknown(TimeoutError):
    """No final reply after the message content was sent (RFC 5321 §4.5.3.2.6).

    The server may or may not have accepted the message: do not blindly resend.
    """


class SendInterrupted(CdoMailError):
    """The batch was interrupted (Ctrl-C, task cancelled) before this message went out.

    Certainly not sent: none of its content reached the server. A message whose
    content went out before the interruption is reported as :class:`StatusUnknown`.
    """


# --- TLS --------------------------------------------------------------------


class TLSError(CdoMailError):
    """Encryption could not be established as the policy demands."""


class TLSRequired(TLSError):
    """The policy requires TLS and the server did not offer STARTTLS."""


class TLSHandshakeError(TLSError):
    """The TLS handshake failed; the message says what probably happened."""


class CertificateVerifyFailed(TLSHandshakeError):
    """The server's certificate could not be verified (unknown CA, expired, wrong name)."""


class HandshakeDisconnected(TLSHandshakeError, ServerDisconnected):
    """The server closed the connection in the middle of the TLS handshake."""


class FingerprintMismatch(TLSError):
    """The certificate's SHA-256 fingerprint is not the pinned one."""


# --- local refusals and bad input ------------------------------------------------


class AuthenticationRefusedLocally(CdoMailError):
    """We refused to authenticate: the link is not encrypted, or no mechanism fits."""


class InputError(CdoMailError, ValueError):
    """The caller's input is invalid; raised before any byte is written.

    ``field`` names what was wrong (``"subject"``, ``"recipient"``, ...).
    """

    def __init__(self, message: str, /, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class ConfigurationError(InputError):
    """A setting is invalid or settings contradict each other."""
