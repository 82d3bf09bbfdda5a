"""Smoke tests of the benchmark harness (src/cdomail/bench)."""

from __future__ import annotations
