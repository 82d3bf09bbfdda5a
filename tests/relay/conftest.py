"""Fixtures of the relay tests: intake certificates, a token endpoint, the hostile server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdomail.lab import LabCertificates
from cdomail.testing.token_endpoint import TokenEndpoint
from tests._server.fixtures import certs, hostile

from ._relay import Certificates

__all__ = ["certificates", "certs", "hostile", "lab_certs", "token_endpoint"]


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("relay-certs"))


@pytest.fixture
def lab_certs(lab_certs_dir: Path) -> LabCertificates:
    """The session's lab CA and server certificate."""
    return LabCertificates.load_or_create(lab_certs_dir)


@pytest.fixture
def token_endpoint(lab_certs: LabCertificates) -> Iterator[TokenEndpoint]:
    """A running OAuth2 token endpoint trusting nothing but the lab CA's certificate."""
    with TokenEndpoint(lab_certs) as endpoint:
        yield endpoint


from tests.interop.conftest import postfix  # noqa: E402

__all__ += ["postfix"]
