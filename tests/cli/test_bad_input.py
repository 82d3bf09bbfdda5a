"""Every subcommand over a table of bad input: one clear line on stderr, its documented exit
status, never a traceback (issue 14). Real child processes, the real lab where a server is
needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdomail.lab import Lab

from .conftest import run_cli, sendmail_program

# The documented statuses (cdomail.cli._exit.ExitCode, --help epilog, README).
USAGE, DATA, NO_INPUT, NO_HOST, UNAVAILABLE, CONFIG = 64, 65, 66, 68, 69, 78


@dataclass(frozen=True)
class Case:
    """``argv`` (``{lab:starttls}``, ``{ca}``, ``{tmp}`` filled in), stdin, the status, a word
    stderr must contain."""

    argv: tuple[str | bytes, ...]
    code: int
    says: str
    stdin: bytes = b""


def _send(*extra: str | bytes) -> tuple[str | bytes, ...]:
    return ("send", "--server", "localhost:{lab:starttls}", "--cafile", "{ca}", "--from",
            "me@cdomail.test", "--to", "you@cdomail.test", *extra)


CASES: dict[str, Case] = {
    "send cafile missing": Case(("send", "--server", "localhost:{lab:starttls}", "--cafile",
                                 "{tmp}/nope.pem", "--from", "a@cdomail.test", "--to",
                                 "b@cdomail.test"), CONFIG, "--cafile"),
    "send cafile is a directory": Case(("send", "--server", "localhost:{lab:starttls}",
                                        "--cafile", "{tmp}", "--from", "a@cdomail.test",
                                        "--to", "b@cdomail.test"), CONFIG, "--cafile"),
    "send cafile garbage": Case(("send", "--server", "localhost:{lab:starttls}", "--cafile",
                                 "{tmp}/garbage.pem", "--from", "a@cdomail.test", "--to",
                                 "b@cdomail.test"), CONFIG, "--cafile"),
    "send cafile unreadable": Case(_send("--cafile", "{tmp}/garbage.pem/ca.pem"), CONFIG,
                                   "--cafile"),
    "send client key garbage": Case(_send("--client-cert", "{ca}", "--client-key",
                                          "{tmp}/garbage.pem"), CONFIG, "--client-cert"),
    "send client cert garbage": Case(_send("--client-cert", "{tmp}/garbage.pem"), CONFIG,
                                     "--client-cert"),
    "send client cert missing": Case(_send("--client-cert", "{tmp}/nope.pem"), CONFIG,
                                     "--client-cert"),
    "send timeout nan": Case(_send("--timeout", "nan"), USAGE, "--timeout"),
    "send timeout inf": Case(_send("--timeout", "inf"), USAGE, "--timeout"),
    "send timeout negative": Case(_send("--timeout", "-1"), USAGE, "--timeout"),
    "send command timeout text": Case(_send("--command-timeout", "soon"), USAGE,
                                      "--command-timeout"),
    "send deadline zero": Case(_send("--deadline", "0"), USAGE, "--deadline"),
    "send bad tls mode": Case(_send("--tls", "sometimes"), USAGE, "--tls"),
    "send port out of range": Case(("send", "--server", "localhost:99999", "--from",
                                    "a@cdomail.test", "--to", "b@cdomail.test"), USAGE,
                                   "--server"),
    "send no server": Case(("send", "--from", "a@cdomail.test", "--to", "b@cdomail.test"),
                           USAGE, "--server"),
    "send non-UTF-8 body": Case(_send("--body", b"caf\xe9"), DATA, "--body"),
    "send non-UTF-8 attachment name": Case(_send("--attach", b"{tmp}/caf\xe9.txt"), DATA,
                                           "--attach"),
    "send binary body file": Case(_send("--body-file", "{tmp}/binary.bin"), DATA, "--attach"),
    "send body file missing": Case(_send("--body-file", "{tmp}/nope.txt"), NO_INPUT,
                                   "--body-file"),
    "send attachment is a directory": Case(_send("--attach", "{tmp}"), NO_INPUT, "--attach"),
    "send message with subject": Case(_send("--message", "{tmp}/message.eml", "--subject",
                                            "x"), USAGE, "--subject"),
    "send header without colon": Case(_send("--header", "X-Broken"), USAGE, "--header"),
    "send header injection": Case(_send("--header", "X-A: b\r\nBcc: evil@cdomail.test"), DATA,
                                  "--header"),
    "send password variable unset": Case(_send("--user", "u", "--password-env",
                                               "CDOMAIL_UNSET_VARIABLE"), CONFIG,
                                         "CDOMAIL_UNSET_VARIABLE"),
    "send plaintext auth refused": Case(("send", "--server", "localhost:{lab:plain}", "--tls",
                                         "none", "--user", "u", "--password-file",
                                         "{tmp}/password", "--from", "a@cdomail.test", "--to",
                                         "b@cdomail.test"), 77, "--allow-plaintext-auth"),
    "send unknown account": Case(_send("--config", "{tmp}/config.toml", "-a", "nope"), CONFIG,
                                 "nope"),
    "send accounts file missing": Case(_send("--config", "{tmp}/none.toml", "-a", "x"), CONFIG,
                                       "none.toml"),
    "send accounts file garbage": Case(_send("--config", "{tmp}/garbage.pem", "-a", "x"),
                                       CONFIG, "TOML"),
    "send name does not resolve": Case(("send", "--server", "no-such-host.invalid", "--from",
                                        "a@cdomail.test", "--to", "b@cdomail.test"), NO_HOST,
                                       "DNS failure"),
    "send connection refused": Case(("send", "--server", "127.0.0.1:{closed}", "--from",
                                     "a@cdomail.test", "--to", "b@cdomail.test"), UNAVAILABLE,
                                    "connect"),
    "sendmail no recipients": Case(("sendmail", "--server", "localhost:{lab:starttls}"),
                                   USAGE, "recipients", b"Subject: x\n\nbody\n"),
    "sendmail empty input": Case(("sendmail", "--server", "localhost:{lab:starttls}",
                                  "--cafile", "{ca}", "b@cdomail.test"), USAGE, "standard input"),
    "sendmail cafile garbage": Case(("sendmail", "--server", "localhost:{lab:starttls}",
                                     "--cafile", "{tmp}/garbage.pem", "b@cdomail.test"), CONFIG,
                                    "--cafile", b"Subject: x\n\nbody\n"),
    "sendmail unknown flag": Case(("sendmail", "-X", "b@cdomail.test"), USAGE, "-X"),
    "send-many missing folder": Case(("send-many", "--server", "localhost:{lab:starttls}",
                                      "--messages", "{tmp}/nope"), NO_INPUT, "--messages"),
    "send-many zero connections": Case(("send-many", "--server", "localhost:{lab:starttls}",
                                        "--messages", "{tmp}", "--connections", "0"), USAGE,
                                       "--connections"),
    "probe name does not resolve": Case(("probe", "no-such-host.invalid"), NO_HOST,
                                        "DNS failure"),
    "probe timeout nan": Case(("probe", "localhost", "--timeout", "nan"), USAGE, "--timeout"),
    "probe bad ports": Case(("probe", "localhost", "--ports", "25,x"), USAGE, "--ports"),
    "probe cafile garbage": Case(("probe", "localhost", "--ports", "{lab:starttls}",
                                  "--cafile", "{tmp}/garbage.pem"), CONFIG, "--cafile"),
    "probe login without certificate checks": Case(
        ("probe", "localhost", "--ports", "{lab:starttls}", "--insecure", "--login", "u",
         "--password-file", "{tmp}/password"), USAGE, "--insecure-send-password"),
    "lab bad latency": Case(("lab", "--latency", "soon"), USAGE, "latency"),
    "lab user without password": Case(("lab", "--user", "bob"), USAGE, "--password-env"),
    "lab password file missing": Case(("lab", "--user", "bob", "--password-file",
                                       "{tmp}/nope"), CONFIG, "--password-file"),
    "explain file missing": Case(("explain", "{tmp}/nope.vbs"), NO_INPUT, "nope.vbs"),
    "explain directory": Case(("explain", "{tmp}"), NO_INPUT, "directory"),
    "explain nothing to read": Case(("explain",), USAGE, "FILE"),
    "demo timeout nan": Case(("demo", "--timeout", "nan"), USAGE, "--timeout"),
    "unknown subcommand": Case(("frobnicate",), USAGE, "invalid choice"),
}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "garbage.pem").write_bytes(b"\x00\x01 this is not PEM\n")
    (tmp_path / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    (tmp_path / "message.eml").write_bytes(b"From: a@cdomail.test\nTo: b@cdomail.test\n\nhi\n")
    (tmp_path / "password").write_text("secret\n")
    (tmp_path / "config.toml").write_text('[accounts.work]\nhost = "localhost"\n')
    with open(os.fsencode(tmp_path) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"data")
    return tmp_path


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fill(argv: tuple[str | bytes, ...], lab: Lab, tmp: Path) -> list[str | bytes]:
    values = {"{ca}": str(lab.ca_path), "{tmp}": str(tmp), "{closed}": str(_closed_port())}
    values.update({f"{{lab:{mode}}}": str(port) for mode, port in lab.listeners.items()})
    filled: list[str | bytes] = []
    for arg in argv:
        for key, value in values.items():
            arg = (arg.replace(key.encode(), os.fsencode(value)) if isinstance(arg, bytes)
                   else arg.replace(key, value))
        filled.append(arg)
    return filled


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_line_and_its_exit_status(
    name: str, lab: Lab, files: Path
) -> None:
    case = CASES[name]
    completed = run_cli(*_fill(case.argv, lab, files), stdin=case.stdin)
    err = completed.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert err.strip(), "an error must say something on stderr"
    assert case.says in err, err
    assert completed.returncode == case.code, err
    assert not lab.messages


def test_debug_shows_the_traceback(lab: Lab, files: Path) -> None:
    completed = run_cli(*_fill(CASES["send cafile garbage"].argv, lab, files), "--debug")
    assert completed.returncode == CONFIG
    assert b"Traceback" in completed.stderr


# -- broken pipe: the reader (| head) went away -------------------------------------------

SUBCOMMANDS = ("send", "sendmail", "send-many", "probe", "lab", "explain", "demo")


def _with_closed_stdout(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head -1` after its line: every write now fails with EPIPE
    try:
        return subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=60, check=False)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_help_into_a_closed_pipe_is_not_a_traceback(subcommand: str) -> None:
    completed = _with_closed_stdout([sys.executable, "-m", "cdomail", subcommand, "--help"])
    assert b"Traceback" not in completed.stderr and b"Exception ignored" not in completed.stderr
    # argparse itself ignores a failed write of the help (exit 0); if the failure reaches
    # cdomail, it is one line and EX_IOERR.
    assert completed.returncode in (0, 74)
    assert (b"broken pipe" in completed.stderr) == (completed.returncode == 74)


def test_results_into_a_closed_pipe_are_not_a_traceback(lab: Lab, tmp_path: Path) -> None:
    vbs = tmp_path / "cdo.vbs"
    vbs.write_text('Set c = CreateObject("CDO.Configuration")\n'
                   'c.Fields("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2\n')
    commands = [
        ["explain", str(vbs)],
        ["probe", "localhost", "--ports", str(lab.port("starttls")), "--cafile",
         str(lab.ca_path)],
        ["send", "--server", f"localhost:{lab.port('starttls')}", "--cafile", str(lab.ca_path),
         "--from", "a@cdomail.test", "--to", "b@cdomail.test", "--body", "x"],
        ["lab", "--listen", "plain=0", "--state-dir", str(tmp_path / "state")],
    ]
    for argv in commands:
        completed = _with_closed_stdout([sys.executable, "-m", "cdomail", *argv])
        assert b"Traceback" not in completed.stderr, argv
        assert completed.returncode == 74, (argv, completed.stderr)


# -- Ctrl-C ------------------------------------------------------------------------------

def _interrupt(command: list[str], ready: Callable[[], bool]) -> tuple[int, bytes]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    try:
        limit = time.monotonic() + 30
        while not ready() and time.monotonic() < limit:
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err


@pytest.mark.parametrize("subcommand", ["send", "probe"])
def test_ctrl_c_while_waiting_for_a_server(subcommand: str, hostile: Callable[..., object]) -> None:
    from tests._server.script import Script, Silence

    server = hostile(Script(greeting=Silence()))
    port = str(server.port)  # type: ignore[attr-defined]
    argv = (["send", "--server", f"127.0.0.1:{port}", "--tls", "none", "--from",
             "a@cdomail.test", "--to", "b@cdomail.test"] if subcommand == "send"
            else ["probe", "127.0.0.1", "--ports", port])
    code, err = _interrupt([sys.executable, "-m", "cdomail", *argv],
                           lambda: bool(server.sessions))  # type: ignore[attr-defined]
    assert b"Traceback" not in err
    assert b"interrupted" in err
    assert code == 130


def test_sendmail_program_is_installed() -> None:
    completed = run_cli("--help", program=sendmail_program())
    assert completed.returncode == 0
    assert b"-t" in completed.stdout and b"exit status" in completed.stdout


def _reading_stdin(pid: int) -> bool:
    """Whether ``pid`` is blocked in read(0, ...): its imports are done, it waits for input."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    # read is syscall 0 on x86-64 and 63 on arm64; the first argument is the descriptor.
    return len(fields) > 1 and fields[0] in ("0", "63") and fields[1] == "0x0"


@pytest.mark.parametrize("argv", [
    ["sendmail", "--server", "localhost:25", "someone@cdomail.test"],  # waits for stdin
    ["explain", "-"],                                                   # waits for stdin
    ["demo", "--timeout", "2"],                                         # mid-matrix
])
def test_ctrl_c_in_every_other_subcommand(argv: list[str]) -> None:
    process = subprocess.Popen([sys.executable, "-m", "cdomail", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        assert process.stdout is not None
        if argv[0] == "demo":
            process.stdout.readline()  # "Lab CA: ...": the matrix is about to run
        else:
            limit = time.monotonic() + 60
            while not _reading_stdin(process.pid) and time.monotonic() < limit:
                time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in err
    assert b"interrupted" in err
    assert process.returncode == 130


def test_ctrl_c_stops_the_lab_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cdomail", "lab", "--listen", "plain=0", "--state-dir",
         str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        process.stdout.readline()  # the table has started: the lab is up
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in err
    assert b"cdomail lab stopped." in out
    assert process.returncode == 0  # Ctrl-C is how the lab is meant to stop
