"""``cdomail send``: envelope semantics, headers, DSN, RFC 2231 names, IDNA, output streams."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.lab import Lab

from .conftest import run_cli


def server(lab: Lab, listener: str = "starttls") -> list[str]:
    return ["send", "--server", f"localhost:{lab.port(listener)}", "--cafile", str(lab.ca_path)]


@pytest.fixture
def eml(tmp_path: Path) -> Path:
    path = tmp_path / "message.eml"
    path.write_bytes(b"From: header-from@cdomail.test\nTo: header-to@cdomail.test\n"
                     b"Subject: from a file\n\nbody\n")
    return path


def test_message_file_recipients_on_the_command_line_win(lab: Lab, eml: Path) -> None:
    assert main([*server(lab), "--message", str(eml), "--from", "envelope@cdomail.test",
                 "--to", "cli-to@cdomail.test", "--bcc", "cli-bcc@cdomail.test"]) == 0
    [stored] = lab.messages
    assert stored.mail_from == "envelope@cdomail.test"
    assert stored.rcpt_tos == ["cli-to@cdomail.test", "cli-bcc@cdomail.test"]
    # The file is sent unchanged: its own headers stay.
    assert b"To: header-to@cdomail.test" in stored.data
    assert b"From: header-from@cdomail.test" in stored.data


def test_message_file_without_envelope_flags_uses_its_headers(lab: Lab, eml: Path) -> None:
    assert main([*server(lab), "--message", str(eml)]) == 0
    assert lab.messages[0].rcpt_tos == ["header-to@cdomail.test"]
    assert lab.messages[0].mail_from == "header-from@cdomail.test"


@pytest.mark.parametrize("flag", [["--subject", "s"], ["--body", "b"], ["--attach", "x"],
                                  ["--header", "X-A: b"], ["--reply-to", "r@cdomail.test"]])
def test_content_flags_with_message_are_a_usage_error(
    lab: Lab, eml: Path, flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*server(lab), "--message", str(eml), *flag]) == 64
    assert flag[0] in capsys.readouterr().err
    assert not lab.sessions


def test_help_says_command_line_recipients_override_headers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["send", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "REPLACE the file's To/Cc/Bcc recipients" in text
    assert "81 status unknown" in text and "79 TLS or certificate failure" in text


def test_extra_headers_and_reply_to(lab: Lab) -> None:
    assert main([*server(lab), "--from", "a@cdomail.test", "--to", "b@cdomail.test",
                 "--header", "X-Ticket: 42", "--header", "List-Id: <dev.cdomail.test>",
                 "--reply-to", "help@cdomail.test"]) == 0
    [stored] = lab.messages
    parsed = message_from_bytes(stored.data, policy=policy.default)
    assert parsed["X-Ticket"] == "42" and parsed["List-Id"] == "<dev.cdomail.test>"
    assert parsed["Reply-To"] == "help@cdomail.test"


def test_non_ascii_attachment_name_is_rfc_2231_encoded(lab: Lab, tmp_path: Path) -> None:
    attachment = tmp_path / "Rechnung März.pdf"
    attachment.write_bytes(b"%PDF-1.4")
    assert main([*server(lab), "--from", "a@cdomail.test", "--to", "b@cdomail.test",
                 "--attach", str(attachment)]) == 0
    data = lab.messages[0].data
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz.pdf" in data
    parsed = message_from_bytes(data, policy=policy.default)
    [part] = list(parsed.iter_attachments())
    assert part.get_filename() == "Rechnung März.pdf"


def test_international_domain_becomes_idna(lab: Lab) -> None:
    assert main([*server(lab), "--from", "a@cdomail.test", "--to", "info@bücher.test"]) == 0
    [stored] = lab.messages
    assert stored.rcpt_tos == ["info@xn--bcher-kva.test"]
    assert "SMTPUTF8" not in stored.mail_options
    assert b"To: info@xn--bcher-kva.test" in stored.data


def test_binary_body_file_is_refused_and_attach_suggested(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "logo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main([*server(lab), "--from", "a@cdomail.test", "--to", "b@cdomail.test",
                 "--body-file", str(image)]) == 65
    assert "--attach" in capsys.readouterr().err
    assert not lab.sessions


def test_results_on_stdout_quiet_prints_nothing(lab: Lab,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    args = [*server(lab), "--from", "a@cdomail.test", "--to", "b@cdomail.test"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "ENCRYPTED" in out.out and out.err == ""
    assert main([*args, "-q"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert main([*args, "-v"]) == 0
    out = capsys.readouterr()
    assert "STARTTLS" in out.err and "ENCRYPTED" in out.out


def test_piped_output_is_not_wrapped(lab: Lab, tmp_path: Path) -> None:
    long_name = "a" * 70 + "@cdomail.test"
    completed = run_cli(*server(lab), "--from", "a@cdomail.test", "--to", long_name,
                        "--to", "b" * 70 + "@cdomail.test", env={"COLUMNS": "40"})
    assert completed.returncode == 0, completed.stderr
    first = completed.stdout.decode().splitlines()[0]
    assert long_name in first and "b" * 70 in first


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("cdomail 0.")


def test_json_escapes_terminal_controls(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    # A refused address echoed back by the server carries ESC, C1 CSI, DEL and a bidi override.
    nasty = "x\x1b[2Jy\u009b31m\x7f\u202e@cdomail.test"
    main([*server(lab), "--from", "a@cdomail.test", "--to", nasty, "--json"])
    out = capsys.readouterr().out
    assert all(c not in out for c in ("\x1b", "\u009b", "\x7f", "\u202e"))
    document = json.loads(out)
    assert document["error"] is not None or document["refused"]


def test_unknown_subcommand_flag_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--frobnicate"]) == 64
    assert "--frobnicate" in capsys.readouterr().err
