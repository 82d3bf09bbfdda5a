"""pytest plugin: a fresh :class:`~cdomail.lab.Lab` per test, certificates made once.

Fixtures:

``lab``
    A running lab with all four listeners on free loopback ports and one user
    (:data:`LAB_USER` / :data:`LAB_PASSWORD`). Options can be changed per test
    with the ``lab`` marker, whose keyword arguments go to :class:`Lab`::

        @pytest.mark.lab(latency_ms=50, chunking=False)
        def test_slow_server(lab): ...

``lab_certs_dir``
    The session-wide folder holding the lab CA and server certificate, so
    every lab of a test run shares one CA (pass it as ``certs_dir=`` when
    building a :class:`Lab` by hand).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cdomail.testing import LAB_PASSWORD, LAB_USER

if TYPE_CHECKING:
    from cdomail.lab import Lab

__all__ = ["LAB_PASSWORD", "LAB_USER", "lab", "lab_certs_dir"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``lab`` marker."""
    config.addinivalue_line(
        "markers", "lab(**options): keyword arguments for the Lab behind the `lab` fixture"
    )


@pytest.fixture(scope="session")
def lab_certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One certificate folder for the whole test session (the CA is created once)."""
    return tmp_path_factory.mktemp("cdomail-lab-tls")


@pytest.fixture
def lab(request: pytest.FixtureRequest, lab_certs_dir: Path, tmp_path: Path) -> Iterator[Lab]:
    """A running lab, stopped (connections closed, thread joined) after the test."""
    # Imported here, not at the top: pytest loads this plugin in every environment where
    # cdomail is installed, and a core install without the 'lab' extra must still run pytest
    # (a test that asks for the fixture then fails with the line naming the extra).
    from cdomail.lab import Lab

    options: dict[str, Any] = {"users": {LAB_USER: LAB_PASSWORD}}
    marker = request.node.get_closest_marker("lab")
    if marker is not None:
        options.update(marker.kwargs)
    options.setdefault("state_dir", tmp_path / "cdomail-lab")
    options.setdefault("certs_dir", lab_certs_dir)
    with Lab(**options) as running:
        yield running
