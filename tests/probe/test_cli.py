"""``cdomail probe`` through ``cdomail.cli.main``: table, JSON, transcripts, secrets."""

from __future__ import annotations

import json

import pytest

from cdomail.cli import main
from cdomail.lab import Lab
from cdomail.testing.ports import free_port
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

MODES = ("plain", "starttls", "starttls-required", "smtps")


def ports(lab: Lab) -> str:
    return ",".join(str(lab.port(mode)) for mode in MODES)


def test_table_on_a_terminal(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "localhost", "--ports", ports(lab), "--timeout", "0.6",
                 "--cafile", str(lab.ca_path), "--check-required"])
    out = capsys.readouterr().out
    assert code == 0
    for verdict in ("plaintext-only", "starttls-optional", "starttls-required", "smtps"):
        assert verdict in out
    assert "0x80040213" in out and "0x8004020E" in out
    assert "SslOnConnect" in out and "EMAIL_USE_TLS=True" in out
    assert f"Best for CDO:     smtpserverport={lab.port('smtps')}, smtpusessl=True" in out
    assert "->" not in out  # no transcript unless asked


def test_json_is_one_document(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "localhost", "--ports", ports(lab), "--timeout", "0.6",
                 "--cafile", str(lab.ca_path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["host"] == "localhost"
    assert [p["verdict"] for p in document["ports"]] == [
        "plaintext-only", "starttls", "starttls", "smtps"]
    smtps = document["ports"][3]
    assert smtps["cdo"]["usessl_true"]["outcome"] == "sent-encrypted"
    assert smtps["cdo"]["usessl_false"] == {
        **smtps["cdo"]["usessl_false"], "outcome": "error", "hresult": "0x80040213",
        "timing": "after-timeout"}
    assert smtps["recommendation"]["cdomail"]["tls"] == "implicit"
    assert smtps["certificate"]["fingerprint_sha256"].count(":") == 31


def test_transcript_with_login_never_shows_the_password(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_PASSWORD", LAB_PASSWORD)
    for extra in ([], ["--json"]):
        code = main(["probe", "localhost", "--ports", ports(lab), "--timeout", "0.6",
                     "--cafile", str(lab.ca_path), "--login", LAB_USER,
                     "--password-env", "PROBE_PASSWORD", "--transcript", *extra])
        captured = capsys.readouterr()
        assert code == 0
        assert LAB_PASSWORD not in captured.out + captured.err
        assert "AUTH PLAIN ***" in captured.out
        assert "235" in captured.out
    document = json.loads(captured.out)
    smtps = document["ports"][3]
    assert smtps["login"]["status"] == "ok"
    assert "implicit TLS" in smtps["transcript"]


def test_nothing_secure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "127.0.0.1", "--ports", str(free_port()), "--timeout", "0.6",
                 "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["ports"][0]["verdict"] == "closed"
    assert document["summary"]["cdo"].startswith("CDO cannot reach")


@pytest.mark.parametrize(
    ("argv", "message", "expected_code"),
    [
        (["--ports", "25,abc"], "'abc' is not a TCP port", 64),
        (["--login", "user"], "--password-env", 64),
        (["--login", "user", "--password-env", "CDOMAIL_PROBE_UNSET_VARIABLE"], "not set", 78),
        (["--password-env", "HOME"], "need --login", 64),
        (["--timeout", "-1"], "timeout", 64),
    ],
)
def test_bad_arguments_exit_with_their_code_and_a_clear_message(
    argv: list[str], message: str, expected_code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["probe", "127.0.0.1", *argv])
    err = capsys.readouterr().err
    assert code == expected_code
    assert message in err
