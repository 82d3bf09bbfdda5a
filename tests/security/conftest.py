"""Fixtures for the security suite (the hostile server's fixtures, re-exported)."""

from __future__ import annotations

from tests._server.fixtures import certs, hostile

__all__ = ["certs", "hostile"]
