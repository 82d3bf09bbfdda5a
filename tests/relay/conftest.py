"""Fixtures for the relay's upstream side: a token endpoint and an XOAUTH2 lab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdomail.lab import LabCertificates
from cdomail.testing.token_endpoint import TokenEndpoint


@pytest.fixture
def lab_certs(lab_certs_dir: Path) -> LabCertificates:
    """The session's lab CA and server certificate."""
    return LabCertificates.load_or_create(lab_certs_dir)


@pytest.fixture
def token_endpoint(lab_certs: LabCertificates) -> Iterator[TokenEndpoint]:
    """A running OAuth2 token endpoint trusting nothing but the lab CA's certificate."""
    with TokenEndpoint(lab_certs) as endpoint:
        yield endpoint


from tests.hostile.fixtures import certs, hostile  # noqa: E402

__all__ = ["certs", "hostile", "lab_certs", "token_endpoint"]
