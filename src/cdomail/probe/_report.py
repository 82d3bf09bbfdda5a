"""The probe's result: frozen dataclasses with one stable JSON form."""

from __future__ import annotations

from dataclasses import dataclass

from .._escape import json_dumps
from ..protocol import Extensions
from ..tls import TLSInfo
from ..transcript import Transcript
from ._advice import Recommendation, Verdict, recommend, verdict
from ._cdo_rule import SENT_ENCRYPTED, CdoPrediction, predict_usessl_false, predict_usessl_true
from ._facts import (
    CertificateInfo,
    Greeting,
    Handshake,
    LoginResult,
    PortFacts,
    ReplySummary,
)

#: The capabilities a report lists by name (RFC 1870, 2920, 3030, 6531, 6152, 3461).
FEATURES = ("SIZE", "PIPELINING", "CHUNKING", "SMTPUTF8", "8BITMIME", "DSN")


@dataclass(frozen=True)
class PortReport:
    """Everything the probe learned about one configured port."""

    port: int
    #: Where the probe really connected, ``host:port``.
    address: str
    verdict: Verdict
    reachable: bool
    connect_ms: float | None
    greeting: str | None
    implicit_tls: bool
    starttls_offered: bool
    #: ``None`` unless ``check_required`` gave a clear answer.
    starttls_required: bool | None
    mail_before_tls: ReplySummary | None
    #: The TLS session of the verdict's mode (implicit for smtps, else STARTTLS).
    tls: TLSInfo | None
    certificate: CertificateInfo | None
    auth_before_tls: tuple[str, ...]
    #: ``None`` when no TLS session was established.
    auth_after_tls: tuple[str, ...] | None
    extensions_before_tls: Extensions | None
    extensions_after_tls: Extensions | None
    login: LoginResult | None
    cdo_usessl_true: CdoPrediction
    cdo_usessl_false: CdoPrediction
    recommendation: Recommendation
    notes: tuple[str, ...]
    transcripts: tuple[tuple[str, Transcript], ...]

    def features(self) -> dict[str, object]:
        """SIZE (its limit), PIPELINING, CHUNKING, SMTPUTF8, 8BITMIME, DSN: after TLS if any."""
        extensions = self.extensions_after_tls or self.extensions_before_tls
        if extensions is None:
            return {}
        found: dict[str, object] = {name: extensions.has(name) for name in FEATURES}
        if extensions.has("SIZE"):
            found["SIZE"] = extensions.max_size or True
        return found

    def to_dict(self, *, transcript: bool = False) -> dict[str, object]:
        """JSON-ready form (transcripts only when asked: they are long)."""
        document: dict[str, object] = {
            "port": self.port,
            "address": self.address,
            "verdict": self.verdict.value,
            "reachable": self.reachable,
            "connect_ms": self.connect_ms,
            "greeting": self.greeting,
            "implicit_tls": self.implicit_tls,
            "starttls_offered": self.starttls_offered,
            "starttls_required": self.starttls_required,
            "mail_before_tls": str(self.mail_before_tls) if self.mail_before_tls else None,
            "tls": _tls_dict(self.tls) if self.tls else None,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "auth_before_tls": list(self.auth_before_tls),
            "auth_after_tls": None if self.auth_after_tls is None else list(self.auth_after_tls),
            "extensions": {
                "before_tls": _extension_dict(self.extensions_before_tls),
                "after_tls": _extension_dict(self.extensions_after_tls),
                "features": self.features(),
            },
            "login": self.login.to_dict() if self.login else None,
            "cdo": {
                "usessl_true": self.cdo_usessl_true.to_dict(),
                "usessl_false": self.cdo_usessl_false.to_dict(),
            },
            "recommendation": self.recommendation.to_dict(),
            "notes": list(self.notes),
        }
        if transcript:
            document["transcript"] = {label: t.to_list() for label, t in self.transcripts}
        return document


@dataclass(frozen=True)
class ProbeReport:
    """The probe of one host: a :class:`PortReport` per port, in the order asked."""

    host: str
    timeout: float
    ports: tuple[PortReport, ...]
    #: Seconds the whole probe took.
    elapsed: float

    def port(self, number: int) -> PortReport:
        """The report for one configured port."""
        for report in self.ports:
            if report.port == number:
                return report
        raise KeyError(number)

    def summary(self) -> dict[str, str]:
        """One line for cdomail and one for CDO: the best port to use, if any."""
        order = (Verdict.SMTPS, Verdict.STARTTLS_REQUIRED, Verdict.STARTTLS,
                 Verdict.STARTTLS_OPTIONAL)
        secure = sorted((r for r in self.ports if r.verdict in order),
                        key=lambda r: order.index(r.verdict))
        cdomail = (secure[0].recommendation.cdomail if secure
                   else "no port offers TLS: cdomail cannot send securely to this host")
        cdo_ok = [r for r in self.ports if r.cdo_usessl_true.outcome == SENT_ENCRYPTED]
        cdo = (f"smtpserverport={cdo_ok[0].port}, smtpusessl=True" if cdo_ok
               else "CDO cannot reach this server securely on any probed port")
        return {"cdomail": cdomail, "cdo": cdo}

    def to_dict(self, *, transcript: bool = False) -> dict[str, object]:
        """JSON-ready form: ``host``, ``ports`` (one object per port), ``summary``."""
        return {
            "host": self.host,
            "timeout": self.timeout,
            "elapsed": round(self.elapsed, 3),
            "ports": [report.to_dict(transcript=transcript) for report in self.ports],
            "summary": self.summary(),
        }

    def to_json(self, *, transcript: bool = False, indent: int | None = 2) -> str:
        """One JSON document; control, DEL, C1 and bidi characters in server text (banners,
        EHLO keywords, certificate names) are ``\\uNNNN`` escapes, never raw."""
        return json_dumps(self.to_dict(transcript=transcript), indent=indent)


def _tls_dict(tls: TLSInfo) -> dict[str, object]:
    """The probe's JSON form of a TLS session: what the check found, and why it failed."""
    return {
        "mode": tls.mode,
        "version": tls.version,
        "cipher": tls.cipher,
        "verified": tls.verified,
        "verify_error": tls.verify_error,
        "verify_message": tls.verify_message,
    }


def _extension_dict(extensions: Extensions | None) -> dict[str, list[str]] | None:
    if extensions is None:
        return None
    return {name: list(extensions.params[name]) for name in extensions.names}


def build_port_report(facts: PortFacts) -> PortReport:
    """Interpret the facts: verdict, CDO predictions, recommendation."""
    kind = verdict(facts)
    plaintext, implicit = facts.plaintext, facts.implicit
    usessl_true = predict_usessl_true(facts)
    usessl_false = predict_usessl_false(facts)
    smtps = kind is Verdict.SMTPS
    tls = implicit.tls if smtps else plaintext.tls
    certificate = implicit.certificate if smtps else plaintext.certificate
    after = implicit.extensions if smtps else plaintext.extensions_after
    before = None if smtps else plaintext.extensions_before
    login = implicit.login if smtps else plaintext.login
    notes = _notes(facts, kind)
    if smtps and plaintext.greeting is Greeting.SMTP:
        notes.append("the port also greets in plaintext (a protocol multiplexer?)")
    if plaintext.starttls_refused is not None:
        notes.append(f"STARTTLS is advertised but refused: {plaintext.starttls_refused}")
    if (facts.check_required and plaintext.mail_before_tls is not None
            and facts.starttls_required is None):
        notes.append(f"MAIL before STARTTLS was refused for another reason: "
                     f"{plaintext.mail_before_tls}")
    return PortReport(
        port=facts.port,
        address=f"{facts.address[0]}:{facts.address[1]}",
        verdict=kind,
        reachable=plaintext.connect_ms is not None,
        connect_ms=plaintext.connect_ms,
        greeting=implicit.greeting_text if smtps else plaintext.greeting_text,
        implicit_tls=implicit.handshake in (Handshake.OK, Handshake.VERIFY_FAILED),
        starttls_offered=plaintext.starttls_offered,
        starttls_required=facts.starttls_required if plaintext.starttls_offered else None,
        mail_before_tls=plaintext.mail_before_tls,
        tls=tls,
        certificate=certificate,
        auth_before_tls=before.auth_mechanisms if before else (),
        auth_after_tls=after.auth_mechanisms if after is not None else None,
        extensions_before_tls=before,
        extensions_after_tls=after,
        login=login,
        cdo_usessl_true=usessl_true,
        cdo_usessl_false=usessl_false,
        recommendation=recommend(facts, kind, usessl_true, usessl_false),
        notes=tuple(notes),
        transcripts=tuple(implicit.transcripts + plaintext.transcripts),
    )


def _notes(facts: PortFacts, kind: Verdict) -> list[str]:
    """The attempts' details, minus what the verdict already says."""
    plaintext, implicit = facts.plaintext, facts.implicit
    expected_plaintext = kind is Verdict.SMTPS and plaintext.greeting is Greeting.SILENT
    expected_implicit = facts.smtp_in_plaintext and implicit.handshake is Handshake.NOT_TLS
    notes = []
    if plaintext.detail and not expected_plaintext:
        notes.append(plaintext.detail)
    if implicit.detail and not expected_implicit and implicit.detail != plaintext.detail:
        notes.append(implicit.detail)
    return notes
