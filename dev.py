#!/usr/bin/env python3
"""Bootstrap and run cdomail's everyday commands with nothing but Python 3.11.

    python3 dev.py demo     # start the lab, send through every TLS mode, show the matrix
    python3 dev.py test     # lint, type-check, the generated-code check, the whole test suite
    python3 dev.py bench    # the throughput benchmark (needs Postfix's smtp-sink)

The first run creates .venv and installs cdomail with its test dependencies;
later runs reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".cdomail-installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"cdomail needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("dev.py: creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("dev.py: installing cdomail and its test dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[all,test,bench]"], check=True)
    STAMP.write_text(wanted)


def run(*command: str) -> int:
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT).returncode


def package_check() -> int:
    """Build the wheel and the sdist as PyPI would get them, and check their metadata."""
    with tempfile.TemporaryDirectory(prefix="cdomail-dist-") as outdir:
        built = run(str(BIN / "python"), "-m", "build", "--no-isolation", "--sdist", "--wheel",
                    "--outdir", outdir, str(ROOT))
        if built != 0:
            return built
        return run(str(BIN / "twine"), "check", "--strict",
                   *sorted(str(p) for p in Path(outdir).iterdir()))


def test(extra: list[str]) -> int:
    python = str(BIN / "python")
    checks = [
        (python, "scripts/unasync.py", "--check"),
        (str(BIN / "ruff"), "check", "src", "tests", "scripts", "dev.py"),
        (str(BIN / "mypy"),),
    ]
    for check in checks:
        if run(*([check] if isinstance(check, str) else check)) != 0:
            return 1
    if package_check() != 0:
        return 1
    return run(python, "-m", "pytest", "-n", "2", *extra)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "bench", "cdomail"):
        print(__doc__)
        return 2
    ensure_environment()
    command, extra = argv[0], argv[1:]
    if command == "test":
        return test(extra)
    if command == "bench":
        return run(str(BIN / "python"), "-m", "cdomail.bench", *extra)
    if command == "demo":
        return run(str(BIN / "cdomail"), "demo", *extra)
    return run(str(BIN / "cdomail"), *extra)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
