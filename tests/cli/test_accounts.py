"""Secret sources (cdomail.secrets) and the accounts file (cdomail.accounts), and sending with
an account against the lab."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cdomail.accounts import AccountError, default_config_path, load_account
from cdomail.cli import main
from cdomail.errors import CdoMailError
from cdomail.lab import Lab
from cdomail.secrets import SecretUnavailable, resolve_secret
from cdomail.testing import LAB_PASSWORD, LAB_USER

# -- secrets -------------------------------------------------------------------------------


def test_env_file_and_command_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDOMAIL_TEST_SECRET", "from-env")
    assert resolve_secret("env:CDOMAIL_TEST_SECRET", field="password") == "from-env"
    secret_file = tmp_path / "pw"
    secret_file.write_bytes(b"from-file\n\n")
    # Exactly one trailing newline is removed (the second is part of the secret).
    assert resolve_secret(f"file:{secret_file}", field="password") == "from-file\n"
    assert resolve_secret(f"command:{sys.executable} -c \"print('from command')\"",
                          field="password") == "from command"


def test_command_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    value = resolve_secret(f"command:echo x; touch {marker}", field="password")
    assert value == f"x; touch {marker}"  # echo got the words as arguments
    assert not marker.exists()


def test_failing_command_is_named_but_its_output_is_not_echoed() -> None:
    script = "import sys; print('hunter2-leaked'); sys.exit(3)"
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret(f"command:{sys.executable} -c \"{script}\"", field="token_source")
    message = str(caught.value)
    assert "token_source" in message and "exit status 3" in message
    assert "hunter2" not in message
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(("spec", "complaint"), [
    ("env:CDOMAIL_SURELY_UNSET", "not set"),
    ("file:/nonexistent/pw", "cannot read"),
    ("command:/nonexistent/program", "not found"),
    ("command:", "needs a program"),
    ("keyring:x", "unknown secret source"),
    ("hunter2", "unknown secret source"),
])
def test_unavailable_secrets_name_the_field(spec: str, complaint: str) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret(spec, field="accounts.work.password_source")
    assert complaint in str(caught.value)
    assert "accounts.work.password_source" in str(caught.value)
    assert caught.value.field == "accounts.work.password_source"
    assert isinstance(caught.value, CdoMailError)
    assert "hunter2" not in str(caught.value)


def test_prompt_without_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with open("/dev/null") as not_a_terminal:
        monkeypatch.setattr("sys.stdin", not_a_terminal)
        with pytest.raises(SecretUnavailable, match="no terminal"):
            resolve_secret("prompt", field="password")
        monkeypatch.undo()


# -- the accounts file -----------------------------------------------------------------------


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_default_path_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "cdomail" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_config_path() == Path.home() / ".config" / "cdomail" / "config.toml"


def test_defaults_table_and_default_account(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", """
default_account = "work"
[defaults]
tls = "starttls"
cafile = "/etc/ca.pem"
[accounts.work]
host = "smtp.cdomail.test"
port = 587
from = "me@cdomail.test"
[accounts.other]
host = "other.cdomail.test"
tls = "implicit"
""", mode=0o644)
    work = load_account(None, config)
    assert work is not None
    assert (work.name, work.host, work.port, work.tls, work.cafile, work.sender) == (
        "work", "smtp.cdomail.test", 587, "starttls", "/etc/ca.pem", "me@cdomail.test")
    other = load_account("other", config)
    assert other is not None and other.tls == "implicit" and other.cafile == "/etc/ca.pem"


def test_inline_password_in_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    text = '[accounts.work]\nhost = "h"\nusername = "u"\npassword = "hunter2"\n'
    config = write_config(tmp_path / "c.toml", text, mode=0o640)
    with pytest.raises(AccountError, match="chmod 600") as caught:
        load_account("work", config)
    assert "hunter2" not in str(caught.value)
    config.chmod(0o600)
    account = load_account("work", config)
    assert account is not None and account.secret() == "hunter2"
    assert "hunter2" not in repr(account)


@pytest.mark.parametrize(("text", "complaint"), [
    ("[accounts.work]\nhots = 'h'\n", "unknown setting 'hots'"),
    ("[accounts.work]\nport = '587'\n", "port must be a int"),
    ("[accounts.work]\nauth = 'ntlm'\n", "auth must be one of"),
    ("[accounts.work\n", "not valid TOML"),
])
def test_invalid_files_are_clear_errors(tmp_path: Path, text: str, complaint: str) -> None:
    config = write_config(tmp_path / "c.toml", text)
    with pytest.raises(AccountError, match=complaint):
        load_account("work", config)


def test_missing_default_file_without_account_is_no_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_account(None) is None
    with pytest.raises(AccountError, match="no accounts file"):
        load_account("work")


def test_send_with_an_account_from_xdg_config_home(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(tmp_path / "cdomail" / "config.toml", f"""
[accounts.lab]
host = "localhost"
port = {lab.port("starttls-required")}
cafile = "{lab.ca_path}"
from = "robot@cdomail.test"
username = "{LAB_USER}"
password_source = "env:CDOMAIL_LAB_PASSWORD"
""", mode=0o644)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("CDOMAIL_LAB_PASSWORD", LAB_PASSWORD)
    assert main(["send", "-a", "lab", "--to", "b@cdomail.test", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["encrypted"] is True
    [stored] = lab.messages
    assert stored.authenticated_as == LAB_USER and stored.mail_from == "robot@cdomail.test"


def test_flags_override_the_account(lab: Lab, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", f"""
[accounts.lab]
host = "localhost"
port = {lab.port("smtps")}
tls = "implicit"
cafile = "{lab.ca_path}"
""")
    assert main(["send", "--config", str(config), "-a", "lab", "--server",
                 f"localhost:{lab.port('starttls')}", "--tls", "starttls", "--from",
                 "a@cdomail.test", "--to", "b@cdomail.test"]) == 0
    assert lab.messages[0].listener == "starttls"


def test_xoauth2_account_sends_the_token_not_a_password(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The lab offers PLAIN and LOGIN only: the client must refuse locally rather than
    # fall back to sending the token as a password.
    config = write_config(tmp_path / "c.toml", f"""
[accounts.oauth]
host = "localhost"
port = {lab.port("starttls-required")}
cafile = "{lab.ca_path}"
auth = "xoauth2"
username = "{LAB_USER}"
token_source = "command:echo ya29.token-value"
""")
    code = main(["send", "--config", str(config), "-a", "oauth", "--from", "a@cdomail.test",
                 "--to", "b@cdomail.test"])
    err = capsys.readouterr().err
    assert code == 77  # authentication: no usable mechanism
    assert "XOAUTH2" in err and "ya29" not in err
    assert not lab.messages
