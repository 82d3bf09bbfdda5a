"""Fixtures of the relay tests: intake certificates, a token endpoint, the hostile server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cdomail.lab import LabCertificates
from cdomail.relay.config import SpoolConfig
from cdomail.relay.queue import open_queue
from cdomail.relay.spool import Spool
from cdomail.testing.token_endpoint import TokenEndpoint
from tests._server.fixtures import certs, hostile

from ._relay import Certificates

__all__ = ["backend", "certificates", "certs", "hostile", "lab_certs", "open_spool",
           "token_endpoint"]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_spool(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Spool]:
    """Opens the test's queue, on each backend in turn (the same queue at every call)."""
    if request.param == "sqlite":
        return lambda: Spool.open(tmp_path / "spool")
    config = request.getfixturevalue("pg_spool_config")
    return lambda: open_queue(config)  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> SpoolConfig:
    """The test's ``[spool]``, on each backend in turn: a SQLite spool directory, or a fresh
    migrated PostgreSQL database (``relay_toml`` and ``open_queue`` take either)."""
    if request.param == "sqlite":
        return SpoolConfig(path=tmp_path / "spool")
    config: SpoolConfig = request.getfixturevalue("pg_spool_config")
    return config


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
from tests.relay_pg.cluster import pg_cluster, pg_spool_config  # noqa: E402

__all__ += ["pg_cluster", "pg_spool_config", "postfix"]
