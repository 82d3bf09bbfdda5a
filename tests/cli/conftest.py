"""Helpers for the command-line tests: run the real programs as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests._server.fixtures import certs, hostile

__all__ = ["certs", "hostile", "run_cli", "sendmail_program"]

# Every subprocess is bounded: a test must fail, not hang, when the CLI waits too long.
SUBPROCESS_TIMEOUT = 60


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDOMAIL_")}
    # No test reads the real user's accounts file; a test passes its own XDG_CONFIG_HOME.
    env["XDG_CONFIG_HOME"] = "/nonexistent-cdomail-config"
    env.update(extra or {})
    return env


def run_cli(*args: str | bytes, stdin: bytes = b"", env: dict[str, str] | None = None,
            program: list[str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``cdomail ARGS`` in a child process; stdout and stderr captured as bytes."""
    command = [*(program or [sys.executable, "-m", "cdomail"]), *args]
    return subprocess.run(command, input=stdin, capture_output=True, env=_environment(env),
                          timeout=SUBPROCESS_TIMEOUT, check=False)


def sendmail_program() -> list[str]:
    """The installed ``cdomail-sendmail`` console script (what a ``sendmail`` link runs)."""
    script = Path(sys.executable).parent / "cdomail-sendmail"
    assert script.exists(), f"{script} is not installed: run python3 dev.py to reinstall"
    return [str(script)]
