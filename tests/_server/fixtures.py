"""pytest fixtures for the hostile server; conftest files re-export them.

* ``certs``: one :class:`CertificateSet` per test session (key generation is the slow part).
* ``hostile``: a factory, ``hostile(script) -> ScriptedServer``, started and later stopped; at
  teardown every server thread must have been joined, or the test errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from .certs import CertificateSet, make_certificate_set
from .script import Script
from .server import ScriptedServer

ServerFactory = Callable[..., ScriptedServer]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """Every certificate kind, with the CA the client should trust at ``certs.ca_path``."""
    return make_certificate_set(tmp_path_factory.mktemp("hostile-certs"))


@pytest.fixture
def hostile(certs: CertificateSet) -> Iterator[ServerFactory]:
    """Start hostile servers on demand: ``server = hostile(Script(...))``."""
    started: list[ScriptedServer] = []

    def start(script: Script | None = None) -> ScriptedServer:
        server = ScriptedServer(script, certs=certs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("hostile-")]
    assert not leaked, f"hostile server threads leaked: {leaked}"
