"""With a real terminal (a pseudo-terminal): the password prompt and the progress bar."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER


def run_on_terminal(argv: list[str], answers: dict[bytes, bytes], env: dict[str, str],
                    timeout: float = 60) -> tuple[int, bytes]:
    """Run ``cdomail ARGV`` with a pseudo-terminal as its controlling terminal; answer each
    prompt in ``answers`` once it appears; return the exit status and everything shown."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes cdomail, and never returns into pytest
        try:
            os.execve(sys.executable, [sys.executable, "-m", "cdomail", *argv], env)
        finally:
            os._exit(127)
    shown = b""
    pending = dict(answers)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal: it has ended
                    break
                if not chunk:
                    break
                shown += chunk
            for prompt in [p for p in pending if p in shown]:
                os.write(fd, pending.pop(prompt))
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDOMAIL_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "100", "TERM": "xterm"})
    return env


def test_password_is_prompted_for_on_a_terminal(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "cdomail" / "config.toml"
    config.parent.mkdir()
    config.write_text(f"""
[accounts.lab]
host = "localhost"
port = {lab.port("starttls-required")}
cafile = "{lab.ca_path}"
username = "{LAB_USER}"
password_source = "prompt"
""")
    code, shown = run_on_terminal(
        ["send", "-a", "lab", "--from", "a@cdomail.test", "--to", "b@cdomail.test"],
        {b"password_source: ": LAB_PASSWORD.encode() + b"\n"}, _environment(tmp_path))
    assert code == 0, shown
    assert b"ENCRYPTED" in shown
    assert LAB_PASSWORD.encode() not in shown  # getpass does not echo it
    assert lab.messages[0].authenticated_as == LAB_USER


def test_send_many_shows_a_progress_bar_on_a_terminal(lab: Lab, tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    for number in range(20):
        (folder / f"{number:02}.eml").write_bytes(
            f"From: a@cdomail.test\nTo: r{number}@cdomail.test\nSubject: s\n\nb\n".encode())
    code, shown = run_on_terminal(
        ["send-many", "--server", f"localhost:{lab.port('starttls')}", "--cafile",
         str(lab.ca_path), "--messages", str(folder)], {}, _environment(tmp_path))
    assert code == 0, shown
    assert b"sending" in shown and b"\x1b[" in shown  # a rich progress bar was drawn
    assert b"messages: 20, sent: 20" in shown
    assert len(lab.messages) == 20
