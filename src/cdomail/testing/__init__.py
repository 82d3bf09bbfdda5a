"""Test helpers for code that sends mail: the ``lab`` pytest fixture and friends.

The fixtures live in :mod:`cdomail.testing.pytest_plugin`, which pytest loads
automatically once cdomail is installed (entry point ``pytest11``). This package itself
does not import pytest: :mod:`cdomail.testing.postgres` and :mod:`cdomail.testing.postfix`
(private PostgreSQL and Postfix instances) serve the benchmarks too.
"""

from __future__ import annotations

__all__ = ["LAB_PASSWORD", "LAB_USER"]

#: The user the ``lab`` fixture accepts (AUTH PLAIN/LOGIN, after TLS).
LAB_USER = "lab-user"
#: Its password.
LAB_PASSWORD = "lab-password-not-secret"
