"""Throwaway certificates for the benchmark's implicit-TLS front (a private trustme CA), and a
system trust store that also trusts it."""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["BenchCertificates", "make_certificates", "system_bundle_with", "trusted_by_default"]


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


#: Debian's system bundle (what OpenSSL's default cafile points to there).
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def system_bundle_with(ca_path: Path, directory: Path) -> Path:
    """A copy of the system trust store with the benchmark CA appended.

    Loading a verifying context reads every certificate of the store, so a scenario about
    the system store must use one of its real size, not a one-CA file.
    """
    system = SYSTEM_BUNDLE
    if not system.is_file():
        system = Path(ssl.get_default_verify_paths().cafile or "")
    if not system.is_file():
        raise FileNotFoundError(f"no system CA bundle at {SYSTEM_BUNDLE} or OpenSSL's default")
    bundle = directory / "system-bundle-plus-bench-ca.pem"
    bundle.write_bytes(system.read_bytes().rstrip(b"\n") + b"\n" + ca_path.read_bytes())
    return bundle


@contextlib.contextmanager
def trusted_by_default(bundle: Path) -> Iterator[None]:
    """Make ``bundle`` the system store of this process (SSL_CERT_FILE) for a while."""
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(bundle)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = previous
