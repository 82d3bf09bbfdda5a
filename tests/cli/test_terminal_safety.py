"""What reaches a person's terminal: no raw ClientHello bytes from the lab, server text
escaped in text and JSON output, suggested commands that work when pasted."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.cli._output import dumps_json
from cdomail.lab import Lab
from cdomail.testing.ports import free_port
from tests._server.script import Script
from tests._server.server import ScriptedServer

from .conftest import SUBPROCESS_TIMEOUT

CONTROLS = ("\x1b", "\x9b", "\x7f", "\u202e", "\u2066")


def test_lab_does_not_print_a_client_hello(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cdomail", "lab", "--listen", f"plain={port}", "--state-dir",
         str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL)
    try:
        limit = time.monotonic() + SUBPROCESS_TIMEOUT
        while time.monotonic() < limit:
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        with raw:
            raw.recv(1024)  # the greeting
            # The start of a TLS ClientHello (record header, handshake type, version) with
            # terminal controls, in bytes below 0x80 so the server decodes and logs it, ended
            # by CRLF so it is one command line (a real ClientHello may hold no LF at all).
            raw.sendall(b"\x16\x03\x01\x00\x48\x01\x00\x00\x44\x03\x03\x1b[2J\x07\x7f\r\n")
            raw.recv(1024)  # the 500 reply: the line was processed
        time.sleep(0.5)  # the warning is written by the lab's thread
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert b"\x16\x03" not in out + err  # a TLS record header
    assert b"not SMTP" in err
    assert b"Traceback" not in err


def test_json_escapes_c0_del_c1_and_bidi() -> None:
    text = dumps_json({"reply": "ok\x1b[2J\x07\x7f\x9b31m\u202eevil\u2066"})
    assert text.isascii() and "\x7f" not in text
    for escaped in ("\\u001b", "\\u0007", "\\u007f", "\\u009b", "\\u202e", "\\u2066"):
        assert escaped in text
    assert json.loads(text)["reply"] == "ok\x1b[2J\x07\x7f\x9b31m\u202eevil\u2066"


NASTY_REPLY = "550 5.1.1 \x1b[32mENCRYPTED\x1b[0m \x9b2K \u202eno such user\x7f\r\n"


@pytest.mark.parametrize("as_json", [False, True])
def test_server_text_is_escaped_in_send_output(
    as_json: bool, hostile: Callable[..., ScriptedServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(replies={"RCPT": NASTY_REPLY.encode("utf-8")}))
    code = main(["send", "--server", f"127.0.0.1:{server.port}", "--tls", "none", "--from",
                 "a@cdomail.test", "--to", "b@cdomail.test", *(["--json"] if as_json else [])])
    assert code == 67
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "550" in shown
    for control in CONTROLS:
        assert control not in shown


def test_probe_suggests_commands_that_work_when_pasted(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "localhost", "--ports", str(lab.port("starttls")), "--cafile",
                 str(lab.ca_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    command = document["ports"][0]["recommendation"]["cdomail"]["text"]
    assert f"--cafile {lab.ca_path}" in command
    # Pasted as it is, the suggestion sends encrypted through the lab.
    import shlex

    words = shlex.split(command)
    assert words[:2] == ["cdomail", "send"]
    assert main([*words[1:], "--from", "a@cdomail.test", "--to", "b@cdomail.test"]) == 0
    assert lab.messages[0].encrypted


def test_probe_brackets_an_ipv6_literal() -> None:
    from cdomail.probe._advice import send_command

    assert send_command("2001:db8::25", 587, "starttls", "/tmp/my ca.pem") == (
        "cdomail send --server '[2001:db8::25]:587' --tls starttls --cafile '/tmp/my ca.pem'")
    assert send_command("mail.example", 465, "implicit", None) == (
        "cdomail send --server mail.example:465 --tls implicit")


def test_probe_of_a_name_that_does_not_resolve_is_a_dns_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["probe", "no-such-host.invalid", "--ports", "25"]) == 68
    err = capsys.readouterr().err
    assert "DNS failure" in err and "timeout" not in err
