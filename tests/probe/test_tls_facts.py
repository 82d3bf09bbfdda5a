"""One TLS-facts type: the probe reports a TLS session with the client's ``cdomail.TLSInfo``."""

from __future__ import annotations

import asyncio
import json

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cdomail import SMTPClient, TLSInfo
from cdomail.lab import Lab
from cdomail.probe import probe
from cdomail.tls import certificate_fingerprint

#: The probe's JSON form of a TLS session (docs/probe.md), unchanged by the shared type.
PROBE_TLS_KEYS = {"mode", "version", "cipher", "verified", "verify_error", "verify_message"}


def _lab_fingerprint(lab: Lab) -> str:
    cert = x509.load_pem_x509_certificate(lab.cert_path.read_bytes())
    return certificate_fingerprint(cert.public_bytes(Encoding.DER))


def test_probe_and_client_describe_one_session_with_the_same_type(lab: Lab) -> None:
    port = lab.port("smtps")
    report = asyncio.run(probe("localhost", [port], cafile=str(lab.ca_path), timeout=2.0))
    with SMTPClient("localhost", port, tls="implicit", cafile=str(lab.ca_path)) as client:
        client_tls = client.tls_info
    probed = report.port(port).tls

    assert type(probed) is TLSInfo and type(client_tls) is TLSInfo
    assert probed.fingerprint == client_tls.fingerprint == _lab_fingerprint(lab)
    assert (probed.mode, probed.version, probed.verified, probed.verified_by) == (
        client_tls.mode, client_tls.version, True, "ca")  # fmt: skip
    assert probed.verify_error is None and probed.verify_message is None
    tls_json = json.loads(report.to_json())["ports"][0]["tls"]
    assert set(tls_json) == PROBE_TLS_KEYS
    assert tls_json["verified"] is True and tls_json["mode"] == "implicit"


def test_probe_without_verification_says_not_checked(lab: Lab) -> None:
    port = lab.port("smtps")
    report = asyncio.run(probe("localhost", [port], verify=False, timeout=2.0))
    probed = report.port(port).tls

    assert isinstance(probed, TLSInfo)
    assert probed.verified is None and probed.verified_by == "none"
    assert probed.fingerprint == _lab_fingerprint(lab)
    assert json.loads(report.to_json())["ports"][0]["tls"]["verified"] is None
