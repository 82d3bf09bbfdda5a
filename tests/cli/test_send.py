"""``cdomail send`` and ``cdomail demo`` through main(argv), against the lab."""

from __future__ import annotations

import base64
import io
import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER


def send_args(lab: Lab, listener: str = "starttls", *extra: str) -> list[str]:
    return ["send", "--server", f"localhost:{lab.port(listener)}", "--cafile", str(lab.ca_path),
            "--from", "me@cdomail.test", "--to", "you@cdomail.test", "--subject", "CLI test",
            "--body", "hello from the CLI", *extra]


def test_json_output_reports_encryption(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send_args(lab, "starttls", "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"ok", "encrypted", "tls", "accepted", "refused", "reply", "error"}
    assert document["ok"] is True and document["encrypted"] is True
    assert document["tls"]["mode"] == "starttls" and document["tls"]["verified"] is True
    assert document["accepted"] == ["you@cdomail.test"] and document["error"] is None
    assert lab.messages[0].encrypted


def test_plaintext_is_said_plainly(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send_args(lab, "plain", "--tls", "opportunistic")) == 0
    assert "NOT ENCRYPTED" in capsys.readouterr().out


def test_failure_exit_code_and_error_object(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send_args(lab, "plain", "--json")) == 79  # TLS failure (see --help)
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["error"]["type"] == "TLSRequired"
    assert document["error"]["exit_code"] == 79
    assert "--tls implicit" in document["error"]["message"]
    assert not lab.messages


def test_password_from_env_never_printed(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_SECRET", LAB_PASSWORD)
    code = main(send_args(lab, "starttls-required", "--user", LAB_USER, "--password-env",
                          "LAB_SECRET", "--transcript", "--json"))
    assert code == 0
    out = capsys.readouterr()
    document = json.loads(out.out)
    assert any("AUTH" in line["text"] for line in document["transcript"])
    for secret in (LAB_PASSWORD, base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode())
                   .decode()):
        assert secret not in out.out and secret not in out.err
    assert lab.messages[0].authenticated_as == LAB_USER


def test_missing_password_variable_is_a_clear_error(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(send_args(lab, "starttls", "--user", LAB_USER, "--password-env",
                          "CDOMAIL_NOPE")) == 78
    assert "CDOMAIL_NOPE" in capsys.readouterr().err
    assert not lab.sessions


def test_attachments_html_cc_bcc(lab: Lab, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    attachment = tmp_path / "report.csv"
    attachment.write_bytes(b"a,b\n1,2\n")
    html = tmp_path / "body.html"
    html.write_text("<p>hello</p>")
    assert main(send_args(lab, "starttls", "--cc", "cc@cdomail.test", "--bcc",
                          "hidden@cdomail.test", "--attach", str(attachment), "--html-file",
                          str(html))) == 0
    [stored] = lab.messages
    assert stored.rcpt_tos == ["you@cdomail.test", "cc@cdomail.test", "hidden@cdomail.test"]
    msg = message_from_bytes(stored.data, policy=policy.default)
    assert "hidden" not in str(msg)
    parts = [part.get_content_type() for part in msg.walk()]
    assert parts == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html",
                     "text/csv"]


def test_bad_subject_and_missing_attachment(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*send_args(lab, "starttls"), "--attach", "/nonexistent/file.pdf"]) == 66
    assert "/nonexistent/file.pdf" in capsys.readouterr().err
    args = send_args(lab, "starttls")
    args[args.index("CLI test")] = "bad\r\nBcc: evil@x.test"
    assert main(args) == 65
    assert "--subject" in capsys.readouterr().err
    assert not lab.sessions


def test_message_from_stdin(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = b"From: a@cdomail.test\nTo: b@cdomail.test\nSubject: stdin\n\nbody\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert main(["send", "--server", f"localhost:{lab.port('smtps')}", "--tls", "implicit",
                 "--cafile", str(lab.ca_path), "--message", "-"]) == 0
    assert lab.messages[0].data.endswith(b"Subject: stdin\r\n\r\nbody\r\n")


def test_demo_runs_the_whole_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "0.5"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # The demo sends TLS to plaintext ports on purpose: no raw ClientHello bytes are shown.
    assert "unrecognised" not in captured.err and "\x16\x03" not in captured.err + out
    assert "19 delivered (16 encrypted, 3 plaintext), 29 refused; the lab stored 19." in out
    assert "does not offer STARTTLS" in out
