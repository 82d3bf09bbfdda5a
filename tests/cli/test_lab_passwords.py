"""``cdomail lab --user NAME`` with the password from the environment or a file, so that it
stays out of the process list (issue 11 §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdomail import SMTPClient
from cdomail.cli import _parser, main
from cdomail.cli.lab import build_lab


def _lab_args(tmp_path: Path, *argv: str) -> object:
    return _parser().parse_args(["lab", "--listen", "smtps=0", "--state-dir",
                                 str(tmp_path / "state"), *argv])


@pytest.mark.parametrize("source", ["env", "file"])
def test_password_from_env_or_file_logs_in(source: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDOMAIL_LAB_PW", "pw-from-env")
    secret_file = tmp_path / "pw"
    secret_file.write_text("pw-from-file\n")
    flag = (["--password-env", "CDOMAIL_LAB_PW"] if source == "env"
            else ["--password-file", str(secret_file)])
    password = "pw-from-env" if source == "env" else "pw-from-file"
    with build_lab(_lab_args(tmp_path, "--user", "alice", *flag)) as lab:  # type: ignore[arg-type]
        with SMTPClient("localhost", lab.port("smtps"), tls="implicit", cafile=str(lab.ca_path),
                        username="alice", password=password) as client:
            client.send(b"From: a@cdomail.test\r\nTo: b@cdomail.test\r\n\r\nhi\r\n")
        assert lab.messages[0].authenticated_as == "alice"


def test_help_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "process list" in text and "--password-env" in text and "--password-file" in text
