"""What ``cdomail send`` says and exits with when the server misbehaves (issue 11 §3, §6):
"may have been delivered", protocol errors, partial refusals, timeouts that hold."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.lab import Lab
from tests._server.script import Reply, Script, Silence
from tests._server.server import ScriptedServer

Hostile = Callable[..., ScriptedServer]


def send_to(server: ScriptedServer, *extra: str) -> list[str]:
    return ["send", "--server", f"127.0.0.1:{server.port}", "--tls", "none", "--from",
            "a@cdomail.test", "--to", "b@cdomail.test", "--body", "hi", *extra]


def test_no_reply_after_the_dot_may_have_been_delivered(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(replies={"DATA_END": Silence()}))
    assert main(send_to(server, "--command-timeout", "0.5")) == 81
    err = capsys.readouterr().err
    assert "MAY HAVE BEEN DELIVERED" in err
    assert "Nothing was delivered" not in err and "nothing was delivered" not in err


def test_status_unknown_in_json(hostile: Hostile, capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(Script(replies={"DATA_END": Silence()}))
    assert main(send_to(server, "--json", "--command-timeout", "0.5")) == 81
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["error"]["may_have_been_delivered"] is True
    assert document["error"]["exit_code"] == 81


def test_wrong_reply_to_data_is_a_protocol_error_with_its_reason(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(replies={"DATA": b"250 ok but not 354\r\n"}))
    assert main(send_to(server)) == 76  # EX_PROTOCOL
    err = capsys.readouterr().err
    assert "protocol" in err and "Accepted" not in err


def test_some_recipients_refused_is_a_partial_delivery(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(replies={"RCPT": [b"250 ok\r\n", b"550 no such user\r\n"]}))
    assert main([*send_to(server), "--to", "gone@cdomail.test"]) == 80
    captured = capsys.readouterr()
    assert "Refused gone@cdomail.test" in captured.out
    assert "Accepted for b@cdomail.test" in captured.out
    assert "refused for gone@cdomail.test (1 accepted)" in captured.err


def test_every_recipient_refused(hostile: Hostile, capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(Script(replies={"RCPT": b"550 no such user\r\n"}))
    assert main(send_to(server)) == 67
    assert "550" in capsys.readouterr().err


def test_temporary_refusal_is_75(hostile: Hostile, capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(Script(replies={"MAIL": b"451 try again later\r\n"}))
    assert main(send_to(server)) == 75
    assert "451" in capsys.readouterr().err


def test_command_timeout_bounds_a_silent_server(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(replies={"MAIL": Silence()}))
    started = time.monotonic()
    assert main(send_to(server, "--command-timeout", "0.5")) == 75
    assert time.monotonic() - started < 10
    assert "Traceback" not in capsys.readouterr().err


def test_deadline_bounds_a_trickling_server(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each reply arrives within the per-command timeout, but the session as a whole drags.
    slow = Reply(b"250 ok\r\n", delay=0.4)
    server = hostile(Script(replies={"MAIL": slow, "RCPT": slow, "DATA_END": slow}))
    started = time.monotonic()
    code = main(send_to(server, "--command-timeout", "5", "--deadline", "0.6"))
    assert code in (75, 81)
    assert time.monotonic() - started < 10
    capsys.readouterr()


def test_dsn_goes_to_a_server_that_offers_it(hostile: Hostile) -> None:
    server = hostile(Script(capabilities=("PIPELINING", "8BITMIME", "DSN")))
    assert main(send_to(server, "--dsn-notify", "SUCCESS,FAILURE", "--dsn-return",
                        "HDRS")) == 0
    server.settle()
    lines = [line.data for line in server.lines if line.kind == "command"]
    assert any(b"MAIL FROM:<a@cdomail.test>" in x and b"RET=HDRS" in x for x in lines)
    assert any(b"RCPT TO:<b@cdomail.test>" in x and b"NOTIFY=SUCCESS,FAILURE" in x
               for x in lines)


def test_dsn_refused_when_the_server_lacks_it(lab: Lab,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--server", f"localhost:{lab.port('starttls')}", "--cafile",
                 str(lab.ca_path), "--from", "a@cdomail.test", "--to", "b@cdomail.test",
                 "--dsn-notify", "NEVER"]) == 65
    assert "DSN" in capsys.readouterr().err
    assert not lab.messages


def test_auto_mode_on_an_implicit_tls_port_says_so_after_a_short_wait(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    # The lab's smtps listener is on a free port, not 465: auto mode expects a plaintext
    # greeting there, and the server waits for a ClientHello. No 30 s wait, and the way out.
    started = time.monotonic()
    code = main(["send", "--server", f"localhost:{lab.port('smtps')}", "--cafile",
                 str(lab.ca_path), "--timeout", "30", "--from", "a@cdomail.test", "--to",
                 "b@cdomail.test"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 75
    assert "--tls implicit" in err
    assert 4 < elapsed < 15
    assert not lab.messages


def test_probe_deadline_bounds_the_whole_probe(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(greeting=Silence()))
    started = time.monotonic()
    code = main(["probe", "127.0.0.1", "--ports", str(server.port), "--timeout", "30",
                 "--command-timeout", "30", "--deadline", "1"])
    assert time.monotonic() - started < 10
    assert code == 75
    assert "--deadline" in capsys.readouterr().err


def test_probe_command_timeout_bounds_each_step(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(Script(greeting=Silence()))
    started = time.monotonic()
    code = main(["probe", "127.0.0.1", "--ports", str(server.port), "--timeout", "30",
                 "--command-timeout", "0.5", "--json"])
    assert time.monotonic() - started < 10
    assert code == 1  # a negative answer: no port offers TLS
    document = json.loads(capsys.readouterr().out)
    assert document["ports"][0]["verdict"] in ("timeout", "not-smtp")


def test_command_timeout_bounds_a_stalled_starttls_handshake(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests._server.script import Handshake, TLSSetup

    server = hostile(Script(tls=TLSSetup.STARTTLS, handshake=Handshake.STALL))
    started = time.monotonic()
    code = main(["send", "--server", f"127.0.0.1:{server.port}", "--tls", "starttls",
                 "--from", "a@cdomail.test", "--to", "b@cdomail.test", "--command-timeout",
                 "0.5"])
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert code == 75, err  # EX_TEMPFAIL: a timeout
    assert "Traceback" not in err


def test_probe_login_without_certificate_checks_needs_the_explicit_flag(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdomail.testing import LAB_PASSWORD, LAB_USER

    monkeypatch.setenv("CDOMAIL_LAB_PW", LAB_PASSWORD)
    argv = ["probe", "localhost", "--ports", str(lab.port("starttls-required")), "--insecure",
            "--login", LAB_USER, "--password-env", "CDOMAIL_LAB_PW", "--json"]
    assert main(argv) == 64
    assert "--insecure-send-password" in capsys.readouterr().err
    assert not lab.sessions  # refused before any connection
    assert main([*argv, "--insecure-send-password"]) == 0
    out = capsys.readouterr().out
    assert LAB_PASSWORD not in out
    assert json.loads(out)["ports"][0]["verdict"].startswith("starttls")


def test_send_many_counts_a_message_that_may_have_been_delivered(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(b"From: a@cdomail.test\nTo: b@cdomail.test\n\nhi\n")
    server = hostile(Script(replies={"DATA_END": Silence()}))
    code = main(["send-many", "--server", f"127.0.0.1:{server.port}", "--tls", "none",
                 "--messages", str(folder), "--command-timeout", "0.5", "--json"])
    captured = capsys.readouterr()
    assert code == 81
    assert json.loads(captured.out)["status_unknown"] == 1
    assert "MAY HAVE BEEN DELIVERED" in captured.err
