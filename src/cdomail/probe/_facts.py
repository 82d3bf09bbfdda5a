"""What the probe observed on one port, before any interpretation.

The attempts in :mod:`cdomail.probe._probe` fill these in; the verdict, the
CDO predictions and the recommendations are pure functions of them, so they
can be tested (and reasoned about) without a network.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..protocol import Extensions
from ..tls import TLSInfo
from ..transcript import Transcript


class Reach(enum.Enum):
    """Whether a TCP connection could be made."""

    OK = "ok"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    #: Another network failure (unreachable network, unknown host, ...).
    ERROR = "error"


class Greeting(enum.Enum):
    """What the server said first on a plaintext connection."""

    #: A 220 greeting: an SMTP server talking plaintext.
    SMTP = "smtp"
    #: Not a word within the timeout (an implicit-TLS server, or a black hole).
    SILENT = "silent"
    #: Bytes that are not an SMTP reply (HTTP, SSH, ...).
    NOT_SMTP = "not-smtp"
    #: Closed the connection before greeting.
    CLOSED = "closed"
    #: A valid reply that is not 220 (RFC 5321 §3.1: 554 means "no service here").
    REFUSED = "refused"
    #: No connection was made.
    UNREACHABLE = "unreachable"


class Handshake(enum.Enum):
    """How a TLS handshake went (implicit from the first byte, or after STARTTLS)."""

    OK = "ok"
    #: The certificate failed verification (a second, unverified handshake read it).
    VERIFY_FAILED = "verify-failed"
    #: The peer does not speak TLS here (it sent plaintext, or closed).
    NOT_TLS = "not-tls"
    #: No answer to the ClientHello within the timeout.
    SILENT = "silent"
    #: No TCP connection, or not attempted.
    NOT_ATTEMPTED = "not-attempted"


@dataclass(frozen=True)
class CertificateInfo:
    """The server certificate, parsed from its DER bytes."""

    subject: str
    issuer: str
    #: Subject alternative names: DNS names and IP addresses.
    sans: tuple[str, ...]
    not_before: str
    not_after: str
    fingerprint_sha256: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True)
class ReplySummary:
    """A server reply reduced to what a report shows."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


@dataclass(frozen=True)
class LoginResult:
    """The outcome of ``--login``: ``ok``, ``failed``, ``not-offered`` or ``skipped``."""

    status: str
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"status": self.status, "detail": self.detail}


@dataclass
class ImplicitFacts:
    """The implicit-TLS attempt: a TLS handshake from the first byte."""

    handshake: Handshake = Handshake.NOT_ATTEMPTED
    detail: str = ""
    #: ``(reason, message)`` when the certificate failed verification.
    verify_failure: tuple[str, str] | None = None
    tls: TLSInfo | None = None
    certificate: CertificateInfo | None = None
    #: The greeting inside TLS: SMTP, or something else.
    greeting: Greeting = Greeting.UNREACHABLE
    greeting_text: str | None = None
    extensions: Extensions | None = None
    login: LoginResult | None = None
    transcripts: list[tuple[str, Transcript]] = field(default_factory=list)


@dataclass
class PlaintextFacts:
    """The plaintext attempt: greeting, EHLO, optionally MAIL FROM:<>, STARTTLS."""

    reach: Reach = Reach.ERROR
    connect_ms: float | None = None
    detail: str = ""
    greeting: Greeting = Greeting.UNREACHABLE
    greeting_text: str | None = None
    extensions_before: Extensions | None = None
    #: The reply to ``MAIL FROM:<>`` before STARTTLS (``--check-required`` only).
    mail_before_tls: ReplySummary | None = None
    starttls_offered: bool = False
    #: The reply to STARTTLS when it was not 220.
    starttls_refused: ReplySummary | None = None
    handshake: Handshake = Handshake.NOT_ATTEMPTED
    #: ``(reason, message)`` when the certificate failed verification.
    verify_failure: tuple[str, str] | None = None
    tls: TLSInfo | None = None
    certificate: CertificateInfo | None = None
    extensions_after: Extensions | None = None
    login: LoginResult | None = None
    transcripts: list[tuple[str, Transcript]] = field(default_factory=list)


@dataclass(frozen=True)
class PortFacts:
    """Everything observed on one configured port."""

    host: str
    port: int
    #: Where the probe really connected (differs from host:port with ``connect_to``).
    address: tuple[str, int]
    timeout: float
    check_required: bool
    #: Whether credentials were given (CDO predictions then assume smtpauthenticate=1).
    login_given: bool
    verify: bool
    plaintext: PlaintextFacts
    implicit: ImplicitFacts
    #: The extra CA the probe trusted: a suggested command needs it too.
    cafile: str | None = None

    @property
    def starttls_required(self) -> bool | None:
        """Whether mail is refused before STARTTLS: ``None`` when not checked or unclear."""
        reply = self.plaintext.mail_before_tls
        if reply is None:
            return None
        if reply.code < 400:
            return False
        upper = reply.text.upper()
        # RFC 3207 §4 gives 530 for "must issue STARTTLS first"; RFC 4954 §6 reuses 530 for
        # "authentication required", which says nothing about TLS.
        if "TLS" in upper or (reply.code == 530 and "AUTH" not in upper):
            return True
        return None

    @property
    def smtp_in_tls(self) -> bool:
        """An SMTP server answers inside TLS from the first byte."""
        return (
            self.implicit.handshake in (Handshake.OK, Handshake.VERIFY_FAILED)
            and self.implicit.greeting is Greeting.SMTP
        )

    @property
    def smtp_in_plaintext(self) -> bool:
        """An SMTP server greets in plaintext."""
        return self.plaintext.greeting is Greeting.SMTP
