"""The throughput benchmark of issue 6: ``python -m cdomail.bench`` (see docs/benchmarks.md)."""

from __future__ import annotations

from .._extras import require

require("bench", "rich", "trustme", part="benchmark")
