"""Test helpers for code that sends mail: the ``lab`` pytest fixture and friends.

The fixtures live in :mod:`cdomail.testing.pytest_plugin`, which pytest loads
automatically once cdomail is installed (entry point ``pytest11``).
"""

from __future__ import annotations

from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

__all__ = ["LAB_PASSWORD", "LAB_USER"]
