"""Fixtures of the PostgreSQL queue tests: the relay's (which include the private cluster)."""

from __future__ import annotations

from tests.relay.conftest import *  # noqa: F403 - the relay tests' fixtures
from tests.relay.conftest import __all__ as __all__
