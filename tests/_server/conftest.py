"""Fixtures for the hostile server's own tests."""

from __future__ import annotations

from .fixtures import certs, hostile

__all__ = ["certs", "hostile"]
