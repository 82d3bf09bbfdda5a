"""Catch what the garbage collector reports about objects left open (ResourceWarning).

pytest turns such a report into a failure of whatever test the collector happens to run in,
usually not the one that leaked. A test that checks a shutdown path collects here instead.
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["leak_reports"]


@contextmanager
def leak_reports() -> Iterator[list[str]]:
    """Yield a list that holds, on exit, every unraisable report made inside the block."""
    reports: list[str] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda report: reports.append(repr(report.exc_value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            yield reports
            gc.collect()
    finally:
        sys.unraisablehook = previous_hook
