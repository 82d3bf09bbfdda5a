"""Property-based checks of the sans-IO core and the standalone fuzz run (``fuzz_core.py``)."""

from __future__ import annotations
