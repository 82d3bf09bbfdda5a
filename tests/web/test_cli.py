"""``cdomail web`` and ``cdomail lab --web`` as people start them: real processes, real ports."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from cdomail.cli import main

_URL = re.compile(r"cdomail web console: (http://127\.0\.0\.1:\d+/)")


class Started:
    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process, self.url, self.output = process, url, output


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    processes: list[subprocess.Popen[str]] = []

    def run(*argv: str, env: dict[str, str] | None = None) -> Started:
        environment = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200"}
        environment.pop("CDOMAIL_WEB_PASSWORD", None)
        environment.update(env or {})
        process = subprocess.Popen([sys.executable, "-m", "cdomail", *argv], env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        output: list[str] = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = _URL.search(line)
            if match:
                return Started(process, match.group(1), output)
        pytest.fail("no console URL printed:\n" + "".join(output))

    yield run
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        if process.stdout is not None:
            process.stdout.close()


def _stop(started: Started) -> int:
    started.process.send_signal(signal.SIGTERM)
    return started.process.wait(15)


def test_lab_web_serves_the_inbox_of_the_lab_it_started(
        start: Callable[..., Started], tmp_path: Path) -> None:
    started = start("lab", "--listen", "plain=0", "--listen", "smtps=0", "--state-dir",
                    str(tmp_path / "lab"), "--web", "127.0.0.1:0")
    page = httpx2.get(started.url + "inbox")
    assert page.status_code == 200 and "No messages yet" in page.text
    found = re.search(r"plain (\d+)", page.text)
    assert found is not None, page.text
    port = int(found.group(1))
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: via the CLI\r\n\r\nhi\r\n")
    assert "via the CLI" in httpx2.get(started.url + "inbox/rows").text
    assert _stop(started) == 0


def test_web_lab_starts_its_own_lab(start: Callable[..., Started]) -> None:
    started = start("web", "--lab", "--lab-listen", "plain=0", "--listen", "127.0.0.1:0")
    assert any(line.startswith("lab listening on 127.0.0.1: plain ") for line in started.output)
    assert httpx2.get(started.url, follow_redirects=True).url.path == "/inbox"
    assert _stop(started) == 0


def test_web_relay_config_serves_the_queue(
        start: Callable[..., Started], tmp_path: Path) -> None:
    from ..relay._relay import relay_toml

    config = tmp_path / "relay.toml"
    config.write_text(relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"'))
    (tmp_path / "spool").mkdir()
    from cdomail.relay.spool import Spool

    Spool.open(tmp_path / "spool").close()
    started = start("web", "--relay-config", str(config), "--listen", "127.0.0.1:0")
    page = httpx2.get(started.url + "relay")
    assert page.status_code == 200 and "Recipients by state" in page.text
    assert httpx2.get(started.url + "inbox").status_code == 404  # no lab, no inbox
    assert _stop(started) == 0


def test_password_from_a_file_turns_the_login_on(
        start: Callable[..., Started], tmp_path: Path) -> None:
    secret = tmp_path / "console-password"
    secret.write_text("file-held secret\n")
    started = start("web", "--listen", "127.0.0.1:0", "--password-file", str(secret))
    response = httpx2.get(started.url + "check", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "file-held secret" not in "".join(started.output)
    assert _stop(started) == 0


def test_non_loopback_without_a_password_refuses_to_start(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDOMAIL_WEB_PASSWORD", raising=False)
    assert main(["web", "--listen", "0.0.0.0:8025"]) == 2
    error = capsys.readouterr().err
    assert "reachable from other machines on 0.0.0.0" in error
    assert "CDOMAIL_WEB_PASSWORD or --password-file" in error


def test_password_never_comes_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "--password", "typed-on-the-command-line"]) == 64  # EX_USAGE
    error = capsys.readouterr().err
    assert "error:" in error and "typed-on-the-command-line" not in error


def test_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["web", "--listen", f"127.0.0.1:{port}"]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
