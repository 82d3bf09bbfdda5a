"""Certificates for the hostile server: one good chain and every way a certificate can be bad.

The client under test trusts only :attr:`CertificateSet.ca_path` (pass it as ``cafile``). Every
other certificate here fails verification for exactly one reason, so a test can tell the causes
apart (RFC 3207 §4.1, RFC 6125 §6):

* ``good``       issued by the trusted test CA for ``localhost`` and ``127.0.0.1``
* ``expired``    same CA and names, but ``notAfter`` is in the past
* ``wrong_name`` same CA, valid dates, issued for ``wrong.invalid`` only
* ``unknown_ca`` valid names and dates, but issued by a CA the client does not trust
* ``self_signed`` a leaf that signs itself (no CA at all), built with ``cryptography``
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Names every "right name" certificate is issued for; the client connects to 127.0.0.1.
SERVER_NAMES = ("localhost", "127.0.0.1")

CERT_KINDS = ("good", "expired", "wrong_name", "unknown_ca", "self_signed")


@dataclass(frozen=True)
class CertificateSet:
    """Files on disk for every certificate kind, plus the CA bundle the client should trust."""

    directory: Path
    ca_path: Path
    #: kind -> (certificate chain PEM path, private key PEM path)
    pairs: dict[str, tuple[Path, Path]]

    def server_context(self, kind: str) -> ssl.SSLContext:
        """A server-side context presenting the certificate ``kind`` (one of :data:`CERT_KINDS`)."""
        chain, key = self.pairs[kind]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(chain), str(key))
        return context


def _self_signed_pem(names: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A leaf certificate signed by its own key: valid names and dates, no trusted issuer."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = []
    for name in names:
        if name.replace(".", "").isdigit():
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        else:
            alt_names.append(x509.DNSName(name))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def make_certificate_set(directory: Path | None = None) -> CertificateSet:
    """Create every certificate kind under ``directory`` (a new temporary one if None)."""
    where = Path(tempfile.mkdtemp(prefix="hostile-certs-")) if directory is None else directory
    where.mkdir(parents=True, exist_ok=True)
    trusted = trustme.CA(organization_name="cdomail hostile test CA")
    untrusted = trustme.CA(organization_name="cdomail untrusted CA")
    now = datetime.datetime.now(datetime.UTC)
    leaves = {
        "good": trusted.issue_cert(*SERVER_NAMES),
        "expired": trusted.issue_cert(
            *SERVER_NAMES,
            not_before=now - datetime.timedelta(days=60),
            not_after=now - datetime.timedelta(days=30),
        ),
        "wrong_name": trusted.issue_cert("wrong.invalid"),
        "unknown_ca": untrusted.issue_cert(*SERVER_NAMES),
    }
    ca_path = where / "ca.pem"
    trusted.cert_pem.write_to_path(str(ca_path))
    pairs: dict[str, tuple[Path, Path]] = {}
    for kind, leaf in leaves.items():
        chain_path, key_path = where / f"{kind}.pem", where / f"{kind}.key"
        leaf.private_key_pem.write_to_path(str(key_path))
        with chain_path.open("wb") as chain_file:
            for blob in leaf.cert_chain_pems:
                chain_file.write(blob.bytes())
        pairs[kind] = (chain_path, key_path)
    cert_pem, key_pem = _self_signed_pem(SERVER_NAMES)
    (where / "self_signed.pem").write_bytes(cert_pem)
    (where / "self_signed.key").write_bytes(key_pem)
    pairs["self_signed"] = (where / "self_signed.pem", where / "self_signed.key")
    return CertificateSet(directory=where, ca_path=ca_path, pairs=pairs)
