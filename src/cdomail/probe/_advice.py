"""The verdict for a port, and what to configure in cdomail, CDO, smtplib, Django and MailKit."""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass

from .._cdo_rules import CDO_STARTTLS_PORT, cdo_tls_for_port
from ._cdo_rule import SENT_ENCRYPTED, SENT_UNENCRYPTED, CdoPrediction
from ._facts import Greeting, Handshake, PortFacts, Reach


class Verdict(enum.Enum):
    """What a port offers, in one word."""

    #: TLS from the first byte (RFC 8314 "implicit TLS").
    SMTPS = "smtps"
    #: STARTTLS offered, and mail is refused before it.
    STARTTLS_REQUIRED = "starttls-required"
    #: STARTTLS offered, and mail is accepted without it.
    STARTTLS_OPTIONAL = "starttls-optional"
    #: STARTTLS offered; whether it is required was not checked (``--check-required``).
    STARTTLS = "starttls"
    #: Plain SMTP without STARTTLS: nothing can travel encrypted here.
    PLAINTEXT_ONLY = "plaintext-only"
    #: Nothing listens (or the server refuses service).
    CLOSED = "closed"
    #: No connection, or a connection on which nobody ever speaks.
    TIMEOUT = "timeout"
    #: Something answers, but it is not SMTP.
    NOT_SMTP = "not-smtp"

    @property
    def offers_tls(self) -> bool:
        """Whether mail can travel encrypted on such a port."""
        return self in (Verdict.SMTPS, Verdict.STARTTLS_REQUIRED, Verdict.STARTTLS_OPTIONAL,
                        Verdict.STARTTLS)


def verdict(facts: PortFacts) -> Verdict:
    """Classify a port from what the two attempts saw."""
    plaintext, implicit = facts.plaintext, facts.implicit
    if plaintext.reach is Reach.REFUSED:
        return Verdict.CLOSED
    if plaintext.reach is not Reach.OK:
        return Verdict.TIMEOUT
    if facts.smtp_in_tls:
        return Verdict.SMTPS
    if plaintext.greeting is Greeting.SMTP:
        if not plaintext.starttls_offered:
            return Verdict.PLAINTEXT_ONLY
        required = facts.starttls_required
        if required is None:
            return Verdict.STARTTLS
        return Verdict.STARTTLS_REQUIRED if required else Verdict.STARTTLS_OPTIONAL
    if plaintext.greeting is Greeting.REFUSED:
        return Verdict.CLOSED
    if plaintext.greeting is Greeting.SILENT:
        # Silent in plaintext: a black hole if TLS is silent too, otherwise the port answered
        # our ClientHello with something that is neither TLS nor SMTP (e.g. an HTTP error).
        answered = implicit.handshake in (Handshake.NOT_TLS, Handshake.OK,
                                          Handshake.VERIFY_FAILED)
        return Verdict.NOT_SMTP if answered else Verdict.TIMEOUT
    return Verdict.NOT_SMTP


@dataclass(frozen=True)
class Recommendation:
    """What to configure, per library, for this port."""

    #: Whether mail can travel encrypted here with the settings below.
    secure: bool
    #: cdomail's ``--tls`` mode, or ``None`` when cdomail should not be pointed here.
    cdomail_tls: str | None
    cdomail: str
    #: CDO settings that send encrypted, or ``None`` with the reason in ``cdo``.
    cdo_port: int | None
    cdo_usessl: bool | None
    cdo: str
    smtplib: str
    django: str
    mailkit: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "secure": self.secure,
            "cdomail": {"tls": self.cdomail_tls, "text": self.cdomail},
            "cdo": {"smtpserverport": self.cdo_port, "smtpusessl": self.cdo_usessl,
                    "text": self.cdo},
            "smtplib": self.smtplib,
            "django": self.django,
            "mailkit": self.mailkit,
            "notes": list(self.notes),
        }


CDO_CANNOT = "CDO cannot reach this server securely on this port"


def recommend(
    facts: PortFacts, kind: Verdict, usessl_true: CdoPrediction, usessl_false: CdoPrediction
) -> Recommendation:
    """The settings that send encrypted here (or say plainly that none can)."""
    host, port = facts.host, facts.port
    notes = list(_certificate_notes(facts, kind))
    if usessl_true.outcome == SENT_ENCRYPTED:
        cdo_port: int | None = port
        cdo_usessl: bool | None = True
        cdo = f"smtpserverport={port}, smtpusessl=True"
    else:
        cdo_port = cdo_usessl = None
        cdo = f"{CDO_CANNOT} ({_cdo_hint(facts, kind)})"
    if usessl_false.outcome == SENT_UNENCRYPTED:
        notes.append("CDO with smtpusessl=False sends here UNENCRYPTED; no 'sendtls' setting "
                     "changes that (it does not exist in cdosys.dll)")
    if kind is Verdict.SMTPS:
        return Recommendation(
            True, "implicit", send_command(host, port, "implicit", facts.cafile),
            cdo_port, cdo_usessl, cdo,
            smtplib=f"smtplib.SMTP_SSL({host!r}, {port}, context=ssl.create_default_context())",
            django=f"EMAIL_HOST={host!r}, EMAIL_PORT={port}, EMAIL_USE_SSL=True",
            mailkit=f'client.Connect("{host}", {port}, SecureSocketOptions.SslOnConnect)',
            notes=tuple(notes))
    if kind.offers_tls:
        if kind is Verdict.STARTTLS_OPTIONAL:
            notes.append("STARTTLS is optional here: a client that does not insist on it "
                         "(opportunistic) can be silently downgraded by an attacker")
        return Recommendation(
            True, "starttls", send_command(host, port, "starttls", facts.cafile),
            cdo_port, cdo_usessl, cdo,
            smtplib=(f"s = smtplib.SMTP({host!r}, {port}); "
                     "s.starttls(context=ssl.create_default_context())"),
            django=f"EMAIL_HOST={host!r}, EMAIL_PORT={port}, EMAIL_USE_TLS=True",
            mailkit=f'client.Connect("{host}", {port}, SecureSocketOptions.StartTls)',
            notes=tuple(notes))
    if kind is Verdict.PLAINTEXT_ONLY:
        unencrypted = "(unencrypted: no TLS on this port)"
        return Recommendation(
            False, None,
            "no TLS on this port: cdomail refuses to send here unless told --tls none "
            "(then in plaintext)",
            cdo_port, cdo_usessl, cdo,
            smtplib=f"smtplib.SMTP({host!r}, {port})  {unencrypted}",
            django=f"EMAIL_HOST={host!r}, EMAIL_PORT={port}, EMAIL_USE_TLS=False  {unencrypted}",
            mailkit=f'client.Connect("{host}", {port}, SecureSocketOptions.None)  {unencrypted}',
            notes=tuple(notes))
    nothing = "no SMTP server answers on this port"
    return Recommendation(False, None, nothing, None, None, f"{CDO_CANNOT} ({nothing})",
                          smtplib=nothing, django=nothing, mailkit=nothing, notes=tuple(notes))


def send_command(host: str, port: int, mode: str, cafile: str | None) -> str:
    """A ``cdomail send`` command line that works when pasted into a POSIX shell."""
    server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 literal
    words = ["cdomail", "send", "--server", server, "--tls", mode]
    if cafile:
        words += ["--cafile", cafile]
    return shlex.join(words)


def _cdo_hint(facts: PortFacts, kind: Verdict) -> str:
    plaintext, implicit = facts.plaintext, facts.implicit
    if Handshake.VERIFY_FAILED in (plaintext.handshake, implicit.handshake):
        return "the certificate fails verification; CDO needs one Windows trusts"
    cdo_does = cdo_tls_for_port(facts.port)
    if kind is Verdict.SMTPS and cdo_does == "starttls":
        return (f"on port {CDO_STARTTLS_PORT} CDO does STARTTLS, but this port wants TLS from "
                "the first byte")
    if kind.offers_tls and cdo_does == "implicit":
        return (f"on port {facts.port} CDO does implicit TLS, but this port wants STARTTLS; "
                f"use port {CDO_STARTTLS_PORT} if the server offers STARTTLS there, or 465 for "
                "implicit TLS")
    if kind is Verdict.PLAINTEXT_ONLY:
        return "the server offers no TLS here"
    return "no SMTP server answers"


def _certificate_notes(facts: PortFacts, kind: Verdict) -> list[str]:
    tls = facts.implicit.tls if kind is Verdict.SMTPS else facts.plaintext.tls
    certificate = facts.implicit.certificate if kind is Verdict.SMTPS else (
        facts.plaintext.certificate)
    if tls is None or tls.verified is not False:
        return []
    advice = {
        "expired": "the certificate has expired: the server's administrator must renew it",
        "not-yet-valid": "the certificate is not valid yet (check the clocks)",
        "name-mismatch": f"the certificate is not issued for {facts.host!r}: connect by a "
                         "name it carries (see its SANs)",
        "unknown-ca": "the certificate comes from a CA this machine does not trust: "
                      "pass --cafile with that CA",
        "self-signed": "the certificate is self-signed",
    }.get(tls.verify_error or "", f"the certificate failed verification: {tls.verify_message}")
    notes = [advice]
    if certificate is not None and tls.verify_error in ("unknown-ca", "self-signed"):
        notes.append(f"or pin it: --fingerprint {certificate.fingerprint_sha256}")
    return notes
