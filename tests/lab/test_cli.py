"""``cdomail lab``: argument handling in-process, and one real run in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from cdomail.cli import _parser, main
from cdomail.cli.lab import build_lab

SRC = Path(__file__).resolve().parents[2] / "src"


def _args(*argv: str) -> object:
    return _parser().parse_args(["lab", *argv])


def test_build_lab_from_arguments(tmp_path: Path) -> None:
    args = _args(
        "--listen",
        "plain=0",
        "--listen",
        "smtps=0",
        "--user",
        "bob:hunter2",
        "--latency",
        "5",
        "--state-dir",
        str(tmp_path),
        "--auth-plaintext",
    )
    with build_lab(args) as lab:  # type: ignore[arg-type]
        assert set(lab.listeners) == {"plain", "smtps"}
        assert lab.users == ["bob"]
        assert lab.auth_require_tls is False
        assert lab.ca_path == tmp_path / "tls" / "ca.pem"
        with smtplib.SMTP(lab.host, lab.port("plain")) as client:
            client.login("bob", "hunter2")  # plaintext AUTH allowed by --auth-plaintext


def test_default_listeners_are_the_fixed_high_ports() -> None:
    lab = build_lab(_args())  # type: ignore[arg-type]
    assert lab.listeners == {
        "plain": 2525,
        "starttls": 2587,
        "starttls-required": 2588,
        "smtps": 2465,
    }


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--listen", "smtp=25"], "MODE=PORT"),
        (["--listen", "plain"], "MODE=PORT"),
        (["--listen", "plain=99999"], "MODE=PORT"),
        (["--user", "bob"], "--password-env"),
        (["--latency", "-3"], "latency"),
    ],
)
def test_bad_arguments_are_refused(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lab", *argv]) == 64  # EX_USAGE
    assert complaint in capsys.readouterr().err


def test_user_password_is_not_echoed_on_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--user", ":sekrit-pass"]) == 64
    assert "sekrit-pass" not in capsys.readouterr().err


def test_port_in_use_exits_69(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with build_lab(_args("--listen", "plain=0", "--state-dir", str(tmp_path))) as lab:  # type: ignore[arg-type]
        taken = lab.port("plain")
        code = main(["lab", "--listen", f"plain={taken}", "--state-dir", str(tmp_path)])
    assert code == 69  # EX_UNAVAILABLE
    assert "--listen" in capsys.readouterr().err


def test_subprocess_prints_table_logs_mail_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "COLUMNS": "120",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdomail",
            "lab",
            "--listen",
            "plain=0",
            "--listen",
            "smtps=0",
            "--user",
            "bob:hunter2",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Waiting for mail"):
                break
        output = "".join(seen)
        assert f"CA certificate: {tmp_path / 'tls' / 'ca.pem'}" in output
        assert "hunter2" not in output
        match = re.search(r"\bplain\b\D+(\d+)", output)
        assert match, output
        with smtplib.SMTP("127.0.0.1", int(match.group(1)), timeout=10) as client:
            client.sendmail("a@example.com", ["b@example.org"], b"Subject: x\r\n\r\nhi\r\n")
        logged = process.stdout.readline()
        assert "plain: a@example.com -> b@example.org" in logged
        assert "encrypted: NO" in logged
        process.send_signal(signal.SIGTERM)
        remaining, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert "stopped" in remaining
    assert list((tmp_path / "maildir" / "new").iterdir())
