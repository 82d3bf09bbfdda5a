"""The lab CA is made once per state folder and reused; the server cert fits the names."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from cryptography import x509

from cdomail.errors import ConfigurationError
from cdomail.lab import Lab, LabCertificates


def _san(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(san.get_values_for_type(x509.DNSName))
    return names | {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_ca_is_reused_by_a_second_lab(tmp_path: Path) -> None:
    with Lab({"smtps": 0}, state_dir=tmp_path) as first:
        ca_pem = first.ca_path.read_bytes()
        server_pem = first.cert_path.read_bytes()
    with Lab({"smtps": 0}, state_dir=tmp_path) as second:
        assert second.ca_path.read_bytes() == ca_pem
        assert second.cert_path.read_bytes() == server_pem
        # A client holding the CA from the first run still verifies the second.
        with smtplib.SMTP_SSL(second.host, second.port("smtps"), context=second.client_context()):
            pass


def test_server_certificate_names(tmp_path: Path) -> None:
    certs = LabCertificates.load_or_create(tmp_path, "mail.lab.test")
    assert _san(certs.cert_path) == {"localhost", "127.0.0.1", "::1", "mail.lab.test"}
    assert (certs.key_path.stat().st_mode & 0o777) == 0o600


def test_new_hostname_reissues_server_cert_with_same_ca(tmp_path: Path) -> None:
    first = LabCertificates.load_or_create(tmp_path, "localhost")
    ca_pem, server_pem = first.ca_path.read_bytes(), first.cert_path.read_bytes()
    second = LabCertificates.load_or_create(tmp_path, "other.lab.test")
    assert second.ca_path.read_bytes() == ca_pem
    assert second.cert_path.read_bytes() != server_pem
    assert "other.lab.test" in _san(second.cert_path)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"listeners": {"smtp": 25}}, "listeners"),
        ({"listeners": {"plain": 70000}}, "listeners"),
        ({"listeners": {}}, "listeners"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"users": {"bob": "pass\r\nword"}}, "users"),
        ({"hostname": "two words"}, "hostname"),
    ],
)
def test_bad_configuration_is_refused_before_start(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Lab(**kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert "pass\r\nword" not in str(refused.value)


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with Lab({"plain": 0}, state_dir=tmp_path) as first:
        taken = first.port("plain")
        with pytest.raises(OSError):
            Lab({"plain": taken}, state_dir=tmp_path).start()
