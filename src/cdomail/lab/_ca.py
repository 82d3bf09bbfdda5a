"""The lab's private certificate authority and its server certificate.

Created on the first start and kept in a folder, so a client configured with
``--cafile <folder>/ca.pem`` keeps working across restarts. The server
certificate is reissued (by the same CA) when the configured host name is not
among its names or when it is about to expire.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509

__all__ = ["LabCertificates", "server_identities"]

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca-key.pem"
SERVER_CERT_NAME = "server.pem"
SERVER_KEY_NAME = "server-key.pem"

#: Names every lab server certificate carries, so loopback clients verify.
DEFAULT_IDENTITIES = ("localhost", "127.0.0.1", "::1")

# Reissue a server certificate that has less than this left (trustme gives ~10 years).
_RENEW_MARGIN = datetime.timedelta(days=30)


def server_identities(hostname: str) -> tuple[str, ...]:
    """The subject alternative names of the server certificate for ``hostname``."""
    names = list(DEFAULT_IDENTITIES)
    if hostname and hostname not in names:
        names.append(hostname)
    return tuple(names)


def _write_atomically(path: Path, data: bytes, *, private: bool = False) -> None:
    # Write then rename, so a concurrent reader never sees half a PEM file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _names_in(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = set(san.get_values_for_type(x509.DNSName))
    names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return names


def _normalise(identity: str) -> str:
    try:
        return str(ipaddress.ip_address(identity))
    except ValueError:
        return identity.lower()


@dataclass(frozen=True)
class LabCertificates:
    """Paths of the lab's CA certificate and of the server's certificate and key."""

    directory: Path
    ca_path: Path
    cert_path: Path
    key_path: Path

    @classmethod
    def load_or_create(cls, directory: Path, hostname: str = "localhost") -> LabCertificates:
        """Reuse the CA in ``directory`` or create one; make sure the server cert fits.

        Raises:
            OSError: the folder cannot be created or written.
        """
        directory.mkdir(parents=True, exist_ok=True)
        paths = cls(
            directory=directory,
            ca_path=directory / CA_CERT_NAME,
            cert_path=directory / SERVER_CERT_NAME,
            key_path=directory / SERVER_KEY_NAME,
        )
        ca_key_path = directory / CA_KEY_NAME
        if paths.ca_path.exists() and ca_key_path.exists():
            ca = trustme.CA.from_pem(paths.ca_path.read_bytes(), ca_key_path.read_bytes())
        else:
            ca = trustme.CA(organization_name="cdomail lab")
            _write_atomically(ca_key_path, ca.private_key_pem.bytes(), private=True)
            _write_atomically(paths.ca_path, ca.cert_pem.bytes())
        wanted = server_identities(hostname)
        if not paths._server_cert_fits(wanted):
            leaf = ca.issue_cert(*wanted, organization_name="cdomail lab")
            _write_atomically(paths.key_path, leaf.private_key_pem.bytes(), private=True)
            chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
            _write_atomically(paths.cert_path, chain)
        return paths

    def _server_cert_fits(self, wanted: tuple[str, ...]) -> bool:
        if not (self.cert_path.exists() and self.key_path.exists()):
            return False
        try:
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            ca = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        except ValueError:
            return False
        if cert.issuer != ca.subject:
            return False
        remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
        if remaining < _RENEW_MARGIN:
            return False
        return {_normalise(n) for n in wanted} <= {_normalise(n) for n in _names_in(cert)}

    def server_context(
        self,
        minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ) -> ssl.SSLContext:
        """A server-side SSLContext presenting the lab certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = minimum_version
        context.maximum_version = maximum_version
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side SSLContext that trusts only the lab CA (handy in tests)."""
        return ssl.create_default_context(cafile=str(self.ca_path))
