"""Throwaway certificates for the benchmark's implicit-TLS front (a private trustme CA)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["BenchCertificates", "make_certificates"]


@dataclass(frozen=True)
class BenchCertificates:
    """Paths of the PEM files written by :func:`make_certificates`."""

    ca_path: Path
    cert_chain_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the benchmark CA."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        """A server context presenting the ``127.0.0.1``/``localhost`` certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_chain_path), str(self.key_path))
        return context


def make_certificates(directory: Path) -> BenchCertificates:
    """Create a CA and a server certificate for 127.0.0.1 and localhost in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    certs = BenchCertificates(
        ca_path=directory / "ca.pem",
        cert_chain_path=directory / "server-chain.pem",
        key_path=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(certs.ca_path))
    server.private_key_pem.write_to_path(str(certs.key_path))
    certs.cert_chain_path.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return certs
