"""`cdomail relay check`: exit 0 only when mail would go out encrypted and authenticated."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.lab import Lab, xoauth2
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER
from cdomail.testing.token_endpoint import TokenEndpoint


# Once, not per backend: `relay check` tests the upstream and never opens the queue.
def write_config(tmp_path: Path, upstream: str) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(f'[[listen]]\naddress = "127.0.0.1:0"\n\n[spool]\npath = "{tmp_path}/spool"'
                    f'\n\n[upstream]\n{upstream}\n')
    return path


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["relay", "check", "--config", str(config), "--timeout", "2"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_starttls_and_password_would_go_out_safely(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_PASSWORD", LAB_PASSWORD)
    config = write_config(tmp_path, f'host = "{lab.host}"\nport = {lab.port("starttls-required")}'
                          f'\ntls = "starttls"\ncafile = "{lab.ca_path}"\nauth = "password"\n'
                          f'username = "{LAB_USER}"\npassword = "env:UPSTREAM_PASSWORD"')
    code, output = check(config, capsys)
    assert code == 0, output
    assert "certificate verified" in output and f"logged in as {LAB_USER}" in output
    assert LAB_PASSWORD not in output
    assert not lab.messages  # the check never sends mail
    assert all("MAIL" not in r.plaintext_commands() for r in lab.sessions)


def test_wrong_password_is_not_ok(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_PASSWORD", "wrong-password-123")
    config = write_config(tmp_path, f'host = "{lab.host}"\nport = {lab.port("smtps")}'
                          f'\ntls = "implicit"\ncafile = "{lab.ca_path}"\nauth = "password"\n'
                          f'username = "{LAB_USER}"\npassword = "env:UPSTREAM_PASSWORD"')
    code, output = check(config, capsys)
    assert code == 1 and "session refused" in output and "535" in output
    assert "wrong-password-123" not in output


def test_plaintext_or_unauthenticated_upstream_is_not_ok(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f'host = "{lab.host}"\nport = {lab.port("plain")}'
                          '\ntls = "none"\nallow_plaintext = true')
    code, output = check(config, capsys)
    assert code == 1
    assert "not encrypted" in output and "no authentication" in output


def test_untrusted_certificate_is_not_ok(lab: Lab, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, f'host = "{lab.host}"\nport = {lab.port("smtps")}'
                          '\ntls = "implicit"')  # no cafile: the lab CA is not trusted
    code, output = check(config, capsys)
    assert code == 1 and "session refused" in output and "certificate" in output.lower()


def test_xoauth2_obtains_a_token_and_logs_in(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_endpoint.add_client("app", "app-secret")
    monkeypatch.setenv("CLIENT_SECRET", "app-secret")
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        upstream = (f'host = "{lab.host}"\nport = {lab.port("smtps")}\ntls = "implicit"\n'
                    f'cafile = "{lab.ca_path}"\nauth = "xoauth2"\nusername = "s@example.test"\n'
                    f'\n[upstream.oauth2]\ntoken_url = "{token_endpoint.url}"\n'
                    f'client_id = "app"\nclient_secret = "env:CLIENT_SECRET"\n'
                    f'scope = "https://outlook.office365.com/.default"\ncafile = "{lab.ca_path}"')
        code, output = check(write_config(tmp_path, upstream), capsys)
        assert code == 0, output
        assert "token obtained" in output and token_endpoint.requests == 1
        token_endpoint.fail_next(401, "invalid_client")
        code, output = check(write_config(tmp_path, upstream), capsys)
        assert code == 1 and "invalid_client" in output
        assert "app-secret" not in output


def test_invalid_file_exits_2_with_the_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, 'host = "smtp.example.test"\ntls = "sometimes"')
    code, output = check(config, capsys)
    assert code == 2 and "relay.toml:9:" in output and "sometimes" in output
