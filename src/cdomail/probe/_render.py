"""The probe report for people: a rich table, then the advice per port, then transcripts.

Every string that came from the server or its certificate is escaped here, at the last
step before the terminal, with the one shared function (:func:`cdomail.errors.printable`):
each line of the details and every table cell, server words escaped with their line breaks,
so a hostile banner, EHLO keyword, AUTH mechanism or certificate subject cannot restyle the
terminal, move the cursor, reorder text (bidi controls) or start a fake line. Everything is
printed with markup off as well.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import printable
from ._cdo_rule import CdoPrediction
from ._report import PortReport, ProbeReport

_VERDICT_STYLE = {
    "smtps": "green",
    "starttls-required": "green",
    "starttls-optional": "yellow",
    "starttls": "yellow",
    "plaintext-only": "red",
    "closed": "dim",
    "timeout": "dim",
    "not-smtp": "dim",
}


def describe_cdo(prediction: CdoPrediction) -> str:
    """``sent encrypted`` or ``0x80040213 immediate`` etc."""
    if prediction.error is not None:
        timing = prediction.timing.replace("-", " ") if prediction.timing else ""
        return f"0x{prediction.error.hresult:08X} {timing}".strip()
    return prediction.outcome.replace("-", " ")


def _tls_cell(report: PortReport) -> str:
    tls = report.tls
    if tls is None:
        return "-"
    verified = {True: "verified", False: f"NOT verified: {tls.verify_error}",
                None: "not checked"}[tls.verified]
    return f"{tls.mode} {tls.version}\n{verified}"


def _words(words: tuple[str, ...]) -> str:
    """Words the server chose (AUTH mechanisms), one line whatever they hold."""
    return " ".join(printable(word, newlines=False) for word in words)


def _auth_cell(report: PortReport) -> str:
    before = _words(report.auth_before_tls) or "-"
    after = _words(report.auth_after_tls) if report.auth_after_tls else "-"
    return f"plain: {before}\ntls: {after}"


def _cell(text: str, style: str = "") -> Text:
    """A table cell: our own line breaks kept, everything else escaped."""
    return Text(printable(text), style=style)


def render_table(report: ProbeReport) -> Table:
    """One row per port."""
    table = Table(title=f"{report.host}: {len(report.ports)} port(s) in {report.elapsed:.1f} s",
                  show_lines=True)
    for column in ("port", "verdict", "TLS", "AUTH", "CDO usessl=True", "CDO usessl=False",
                   "cdomail"):
        table.add_column(column, overflow="fold")
    for port in report.ports:
        cdomail = port.recommendation.cdomail_tls
        # Text(), not markup: the AUTH cell holds words the server chose.
        table.add_row(
            _cell(str(port.port)),
            _cell(port.verdict.value, _VERDICT_STYLE[port.verdict.value]),
            _cell(_tls_cell(port)),
            _cell(_auth_cell(port)),
            _cell(describe_cdo(port.cdo_usessl_true)),
            _cell(describe_cdo(port.cdo_usessl_false)),
            _cell(f"--tls {cdomail}" if cdomail else "-"),
        )
    return table


def render_details(port: PortReport) -> list[str]:
    """Plain lines: facts, CDO's outcomes explained, and the settings per library."""
    lines = [f"Port {port.port} ({port.address}): {port.verdict.value}"]
    if port.greeting:
        lines.append(f"  greeting: {port.greeting}")
    if port.connect_ms is not None:
        lines.append(f"  TCP connect: {port.connect_ms} ms")
    if port.certificate is not None:
        cert = port.certificate
        lines.append(f"  certificate: {cert.subject} issued by {cert.issuer}")
        lines.append(f"    SANs: {', '.join(cert.sans) or '-'}; not after {cert.not_after}")
        lines.append(f"    SHA-256 {cert.fingerprint_sha256}")
    features = port.features()
    if features:
        shown = [f"{name}={value}" if not isinstance(value, bool) else name
                 for name, value in features.items() if value]
        lines.append(f"  extensions: {' '.join(shown) or '-'}")
    if port.mail_before_tls is not None:
        lines.append(f"  MAIL FROM:<> before STARTTLS: {port.mail_before_tls}")
    if port.login is not None:
        lines.append(f"  login: {port.login.status} ({port.login.detail})")
    for label, prediction in (("smtpusessl=True ", port.cdo_usessl_true),
                              ("smtpusessl=False", port.cdo_usessl_false)):
        lines.append(f"  CDO {label}: {describe_cdo(prediction)}: {prediction.explanation}")
        if prediction.warning:
            lines.append(f"    warning: {prediction.warning}")
    advice = port.recommendation
    lines += [
        f"  cdomail: {advice.cdomail}",
        f"  CDO:     {advice.cdo}",
        f"  smtplib: {advice.smtplib}",
        f"  Django:  {advice.django}",
        f"  MailKit: {advice.mailkit}",
    ]
    lines += [f"  note: {note}" for note in (*advice.notes, *port.notes)]
    # One entry, one line: a line break a server or certificate smuggled in stays visible.
    return [printable(line, newlines=False) for line in lines]


def render_transcripts(port: PortReport) -> list[str]:
    """Every connection the probe made on this port, redacted (AUTH secrets are ``***``)."""
    lines: list[str] = []
    for label, transcript in port.transcripts:
        lines.append(f"--- port {port.port}: {label} ---")
        lines.append(transcript.render())
    return lines


def print_report(report: ProbeReport, console: Console, *, transcript: bool = False) -> None:
    """The whole report for a terminal."""
    console.print(render_table(report))
    for port in report.ports:
        console.print("\n".join(render_details(port)), markup=False, highlight=False)
    summary = report.summary()
    for label, key in (("Best for cdomail: ", "cdomail"), ("Best for CDO:     ", "cdo")):
        console.print(printable(label + summary[key], newlines=False), markup=False,
                      highlight=False)
    if transcript:
        for port in report.ports:
            console.print("\n".join(render_transcripts(port)), markup=False, highlight=False)
