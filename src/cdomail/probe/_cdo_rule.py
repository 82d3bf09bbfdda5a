"""What CDO (CDOSYS) would do on a probed port: cdo.md §1, applied to observed facts.

The rule itself lives in :mod:`cdomail._cdo_rules`; this module applies it to what the probe saw.

CDO's only encryption switch is ``smtpusessl``, and what it does depends on the *configured* port
alone: with ``smtpusessl=True``, port 25 means plain connect + STARTTLS, every other port means TLS
from the first byte; with ``False`` CDO never encrypts. Predictions assume ``smtpauthenticate=0``
unless the probe was given credentials (then ``smtpauthenticate=1``, which CDO sends as AUTH LOGIN),
because authentication changes which error surfaces first.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._cdo_rules import CDO_STARTTLS_PORT, cdo_tls_for_port
from ..cdo.errors import (
    CDO_E_AUTHENTICATION_FAILURE,
    CDO_E_FAILED_TO_CONNECT,
    CDO_E_LOGON_FAILURE,
    CDO_E_SENDER_REJECTED,
    ErrorCode,
    signed_hresult,
)
from ._facts import Greeting, Handshake, LoginResult, PortFacts, Reach

SENT_ENCRYPTED = "sent-encrypted"
SENT_UNENCRYPTED = "sent-unencrypted"
ERROR = "error"
#: The outcome hinges on something the probe was not allowed to find out.
UNKNOWN = "unknown"

IMMEDIATE = "immediate"
AFTER_TIMEOUT = "after-timeout"


@dataclass(frozen=True)
class CdoPrediction:
    """CDO's outcome for one ``smtpusessl`` value on one port."""

    outcome: str
    explanation: str
    error: ErrorCode | None = None
    #: "immediate" or "after-timeout" (``smtpconnectiontimeout``) for errors.
    timing: str | None = None
    #: Something the user should know even when the send works.
    warning: str | None = None

    @property
    def hresult(self) -> int | None:
        """The unsigned HRESULT of the predicted error."""
        return self.error.hresult if self.error else None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; the HRESULT as CDO documents it (``0x80040213``) and as VBA shows it."""
        return {
            "outcome": self.outcome,
            "hresult": f"0x{self.error.hresult:08X}" if self.error else None,
            "number": signed_hresult(self.error.hresult) if self.error else None,
            "error": self.error.name if self.error else None,
            "timing": self.timing,
            "explanation": self.explanation,
            "warning": self.warning,
        }


def _fail(error: ErrorCode, timing: str, explanation: str) -> CdoPrediction:
    return CdoPrediction(ERROR, explanation, error, timing)


def _connection_failure(facts: PortFacts) -> CdoPrediction | None:
    reach = facts.plaintext.reach
    if reach is Reach.REFUSED:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE, "the connection is refused")
    if reach is Reach.TIMEOUT:
        return _fail(CDO_E_FAILED_TO_CONNECT, AFTER_TIMEOUT,
                     "no TCP connection: CDO waits smtpconnectiontimeout seconds")
    if reach is Reach.ERROR:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE, "no TCP connection")
    return None


def _plaintext_greeting_failure(facts: PortFacts, what: str) -> CdoPrediction | None:
    greeting = facts.plaintext.greeting
    if greeting is Greeting.SILENT:
        why = ("the server expects TLS from the first byte" if facts.smtp_in_tls
               else "the server never answers")
        return _fail(CDO_E_FAILED_TO_CONNECT, AFTER_TIMEOUT,
                     f"{what} and waits for a 220 greeting that never comes ({why})")
    if greeting is not Greeting.SMTP:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE, "no SMTP greeting on this port")
    return None


def _after_tls(facts: PortFacts, login: LoginResult | None, how: str) -> CdoPrediction:
    """The session is encrypted; only authentication can still stop the send."""
    warning = None
    tls = facts.implicit.tls if how == "implicit TLS" else facts.plaintext.tls
    if tls is not None and tls.verified is None:
        warning = ("the certificate was not checked (verify off): CDO needs one that Windows "
                   "trusts, for this host name")
    if facts.login_given and login is not None:
        if login.status == "failed":
            return _fail(CDO_E_AUTHENTICATION_FAILURE, IMMEDIATE,
                         f"{how} works, but the server refused the credentials")
        if login.status == "not-offered":
            return _fail(CDO_E_LOGON_FAILURE, IMMEDIATE,
                         f"{how} works, but the server offers no AUTH CDO can use")
    return CdoPrediction(SENT_ENCRYPTED, f"{how}, then the message: sent encrypted",
                         warning=warning)


def _handshake_failure(
    handshake: Handshake, failure: tuple[str, str] | None, how: str
) -> CdoPrediction:
    if handshake is Handshake.SILENT:
        return _fail(CDO_E_FAILED_TO_CONNECT, AFTER_TIMEOUT,
                     f"{how}: the server never answers the TLS handshake")
    if handshake is Handshake.VERIFY_FAILED:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE,
                     f"{how}: the certificate fails verification"
                     f" ({failure[1] if failure else 'unknown reason'})")
    return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE,
                 f"{how}: the TLS handshake fails at once (the server does not speak TLS there)")


def predict_usessl_false(facts: PortFacts) -> CdoPrediction:
    """``smtpusessl=False``: plain SMTP, never STARTTLS, on any port."""
    early = _connection_failure(facts) or _plaintext_greeting_failure(
        facts, "with smtpusessl=False CDO connects in plaintext")
    if early is not None:
        return early
    plaintext = facts.plaintext
    warning = None
    if facts.login_given:
        before = plaintext.extensions_before
        if before is None or not before.auth_mechanisms:
            return _fail(CDO_E_LOGON_FAILURE, IMMEDIATE,
                         "AUTH is not offered before STARTTLS, and CDO never sends STARTTLS "
                         "with smtpusessl=False")
        warning = "CDO would send the user name and password unencrypted"
    mail = plaintext.mail_before_tls
    if mail is not None and mail.code >= 400:
        if facts.login_given and facts.starttls_required is not True:
            return CdoPrediction(UNKNOWN, f"MAIL is refused anonymously ({mail}); it may be "
                                 "accepted after AUTH, in plaintext", warning=warning)
        return CdoPrediction(ERROR, f"the server refuses MAIL before STARTTLS: {mail}",
                             CDO_E_SENDER_REJECTED, IMMEDIATE, warning)
    if mail is not None or not plaintext.starttls_offered:
        return CdoPrediction(SENT_UNENCRYPTED, "plain SMTP throughout: the message travels "
                             "unencrypted", warning=warning)
    return CdoPrediction(
        UNKNOWN,
        "sent unencrypted if STARTTLS is optional, or error 0x8004020E (sender rejected) if "
        "the server requires it; probe with --check-required to know",
        warning=warning,
    )


def predict_usessl_true(facts: PortFacts) -> CdoPrediction:
    """``smtpusessl=True``: STARTTLS on configured port 25, implicit TLS on every other port."""
    early = _connection_failure(facts)
    if early is not None:
        return early
    if cdo_tls_for_port(facts.port) == "starttls":
        return _starttls_on_25(facts)
    implicit = facts.implicit
    how = f"port {facts.port} is not {CDO_STARTTLS_PORT}, so CDO does implicit TLS"
    if implicit.handshake is Handshake.OK:
        if implicit.greeting is Greeting.SMTP:
            return _after_tls(facts, implicit.login, "implicit TLS")
        timing = AFTER_TIMEOUT if implicit.greeting is Greeting.SILENT else IMMEDIATE
        return _fail(CDO_E_FAILED_TO_CONNECT, timing, f"{how}: no SMTP greeting inside TLS")
    return _handshake_failure(implicit.handshake, implicit.verify_failure, how)


def _starttls_on_25(facts: PortFacts) -> CdoPrediction:
    early = _plaintext_greeting_failure(facts, "on port 25 CDO connects in plaintext")
    if early is not None:
        return early
    plaintext = facts.plaintext
    if not plaintext.starttls_offered:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE,
                     "STARTTLS is not offered, so CDO gives up (it did connect; the error text "
                     "is misleading)")
    if plaintext.starttls_refused is not None:
        return _fail(CDO_E_FAILED_TO_CONNECT, IMMEDIATE,
                     f"the server refuses STARTTLS: {plaintext.starttls_refused}")
    if plaintext.handshake is Handshake.OK:
        return _after_tls(facts, plaintext.login, "STARTTLS on port 25")
    return _handshake_failure(plaintext.handshake, plaintext.verify_failure,
                              "STARTTLS on port 25")
