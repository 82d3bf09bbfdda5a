"""Find the external programs the interop tests drive, or explain why a test cannot run.

Locally, a missing program skips the test with a stated reason. Under CI (``CI=true``) the
same situation is a failure: the CI image is supposed to install everything
(``.ci/install-interop.sh``), so a missing program there means the suite silently lost coverage.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["find_program", "in_ci", "require_program", "require_root", "skip_or_fail"]

# Debian puts postfix, postconf and saslpasswd2 in /usr/sbin, which is not on every user's PATH.
_EXTRA_DIRS = ("/usr/sbin", "/sbin", "/usr/lib/postfix/sbin")


def in_ci() -> bool:
    """True when the ``CI`` environment variable says we run under continuous integration."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test with *reason* locally; fail it with the same reason under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is a failure, not a skip)")
    pytest.skip(reason)


def find_program(name: str) -> str | None:
    """Return the absolute path of program *name*, or None when it is not installed."""
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_EXTRA_DIRS])
    return shutil.which(name, path=search_path)


def require_program(name: str) -> str:
    """Return the absolute path of program *name*, or skip (locally) / fail (under CI)."""
    found = find_program(name)
    if found is None:
        skip_or_fail(
            f"program {name!r} is not installed; run .ci/install-interop.sh "
            "(Debian/Ubuntu) or install it with your package manager"
        )
    return found


def require_root(what: str) -> None:
    """Skip (locally) or fail (under CI) unless we run as root, which *what* needs."""
    if os.geteuid() != 0:
        skip_or_fail(f"{what} must run as root (Postfix's master(8) refuses otherwise)")
