"""Fixtures of the relay tests."""

from __future__ import annotations

import pytest

from ._relay import Certificates


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("relay-certs"))
