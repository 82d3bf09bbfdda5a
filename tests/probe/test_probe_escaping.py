"""The probe's output cannot be forged: a plaintext man in the middle or a
certificate with control characters cannot print a fake "ENCRYPTED" line, restyle the terminal
or reorder text, in the table, the details, the transcript or the JSON."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rich.console import Console

from cdomail.cli import main
from cdomail.probe import ProbeReport, probe
from cdomail.probe._render import print_report
from tests._server import CertificateSet, Script
from tests._server.fixtures import ServerFactory, certs, hostile

from ._servers import smtps_with

__all__ = ["certs", "hostile"]  # the hostile server's fixtures, used below

#: A fake line: erase this line, go up one, erase it, then claim encryption; plus an OSC title,
#: the one-byte C1 CSI, DEL, a bare CR and bidi controls that reorder what follows.
FAKE = (
    "\x1b[2K\x1b[1A\x1b[2K\x1b]0;owned\x07\r\u009b32mTLS: ENCRYPTED, certificate verified\x7f"
    "\u202e\u2066 \u2069\u200e"
)
RAW = ("\x1b", "\x07", "\r", "\u009b", "\x7f", "\u202e", "\u2066", "\u2069", "\u200e")


def assert_clean(text: str, where: str) -> None:
    for char in RAW:
        assert char not in text, f"{where} shows {char!r} raw"
    for line in text.splitlines():
        assert not line.lstrip(" │|").startswith("TLS: ENCRYPTED"), f"{where}: forged line"


def mitm_script() -> Script:
    """A plaintext man in the middle: STARTTLS stripped, its own words everywhere."""
    words = FAKE.encode()
    ehlo = (b"250-mitm.test " + words + b"\r\n250-X-" + words + b"\r\n"
            b"250 AUTH PLAIN " + words + b"\r\n")
    return Script(greeting=b"220 mitm.test " + words + b"\r\n", replies={"EHLO": ehlo},
                  advertise_starttls=False)


def rendered(report: ProbeReport) -> str:
    out = io.StringIO()
    print_report(report, Console(file=out, width=240, color_system=None), transcript=True)
    return out.getvalue()


def test_plaintext_mitm_cannot_forge_the_report(
    hostile: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(mitm_script())
    report = asyncio.run(probe("localhost", [server.port], timeout=2.0))
    port = report.port(server.port)
    assert port.tls is None and not port.starttls_offered
    assert any("ENCRYPTED" in mechanism for mechanism in port.auth_before_tls)  # it got there
    text = rendered(report)
    assert "ENCRYPTED" in text  # shown, as inert text
    assert_clean(text, "the probe report")
    assert_clean(report.to_json(transcript=True), "the probe JSON")
    assert json.loads(report.to_json())["ports"][0]["greeting"].startswith("220 mitm.test")
    for argv in (["probe", "localhost", "--ports", str(server.port), "--timeout", "2"],
                 ["probe", "localhost", "--ports", str(server.port), "--timeout", "2", "--json",
                  "--transcript"]):
        main(argv)
        assert_clean(capsys.readouterr().out, " ".join(argv[4:]))


def hostile_certificate(directory: Path) -> ssl.SSLContext:
    """A server context whose self-signed certificate names itself with control characters."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "\x1b[1A\r\u009bTLS: ENCRYPTED\u202e"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "\x07\x7f\u2066\u2069\u200e"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "\u202eTrusted CA\u202c\x1b[0m"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "evil.pem", directory / "evil.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def test_certificate_subject_and_issuer_are_escaped(tmp_path: Path, certs: CertificateSet) -> None:
    with smtps_with(hostile_certificate(tmp_path)) as server:
        report = asyncio.run(probe("localhost", [server.port], timeout=2.0))
    port = report.port(server.port)
    assert port.certificate is not None
    assert "\x1b" in port.certificate.subject  # the fact is kept as it is...
    text = rendered(report)
    assert "certificate: " in text
    assert_clean(text, "the report's certificate line")  # ...and never shown raw
    assert_clean(report.to_json(), "the JSON certificate")
    document = json.loads(report.to_json())
    assert document["ports"][0]["certificate"]["subject"] == port.certificate.subject
