"""relay.toml: every mistake is reported with its line, before anything listens."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

from cdomail.errors import CdoMailError, ConfigurationError
from cdomail.relay._secrets import SecretError, resolve_secret
from cdomail.relay.config import RelayConfigError, load_config, parse_config

GOOD = """\
[listen]
address = "127.0.0.1:2525"
tls = "none"
users = { printer = "env:PRINTER_PASSWORD" }
allow = ["127.0.0.0/8", "10.1.2.0/24"]
max_message_size = "35MB"

[spool]
path = "/var/lib/cdomail-relay"

[upstream]
host = "smtp.office365.com"
port = 587
tls = "auto"
username = "sender@contoso.com"
auth = "xoauth2"

[upstream.oauth2]
token_url = "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token"
client_id = "00000000-1111"
client_secret = "env:CLIENT_SECRET"
scope = "https://outlook.office365.com/.default"

[delivery]
concurrency = 4
rate_limit = "30/min"
retry = ["1m", "5m", "15m", "1h", "3h"]
max_age = "5d"
"""


def test_the_issue_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(GOOD)
    config = load_config(path)
    (listener,) = config.listeners
    assert (listener.host, listener.port, listener.tls) == ("127.0.0.1", 2525, "none")
    assert listener.users == {"printer": "env:PRINTER_PASSWORD"}
    assert ipaddress.ip_network("10.1.2.0/24") in listener.allow
    assert listener.max_message_size == 35_000_000
    assert listener.loopback_only
    assert config.spool.path == Path("/var/lib/cdomail-relay")
    assert config.upstream.auth == "xoauth2" and config.upstream.oauth2 is not None
    assert config.upstream.oauth2.client_secret == "env:CLIENT_SECRET"
    assert config.delivery.rate_limit == (30, 60.0)
    assert config.delivery.retry == (60.0, 300.0, 900.0, 3600.0, 10800.0)
    assert config.delivery.max_age == 5 * 86400.0
    assert config.delivery.at_least_once is True


def test_several_listeners_as_an_array_of_tables() -> None:
    text = GOOD.replace("[listen]", "[[listen]]", 1).replace(
        "[spool]", '[[listen]]\naddress = "[::1]:2465"\ntls = "implicit"\ncert = "c.pem"\n'
        'key = "k.pem"\n\n[spool]')
    config = parse_config(text)
    assert [(listener.host, listener.port, listener.tls) for listener in config.listeners] == [
        ("127.0.0.1", 2525, "none"), ("::1", 2465, "implicit")]


def _error(text: str) -> RelayConfigError:
    with pytest.raises(RelayConfigError) as caught:
        parse_config(text, source="relay.toml")
    assert isinstance(caught.value, CdoMailError) and isinstance(caught.value, ConfigurationError)
    return caught.value


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ('retry = ["1m", "5m", "15m", "1h", "3h"]', 'retry = ["1m", "soon"]', "retry =",
     "not a duration"),
    ('rate_limit = "30/min"', 'rate_limit = "fast"', "rate_limit", "not a rate"),
    ('max_message_size = "35MB"', 'max_message_size = "big"', "max_message_size", "not a size"),
    ('tls = "auto"', 'tls = "opportunistic"', 'tls = "opportunistic"', "allow_plaintext"),
    ('tls = "auto"', 'tls = "tls13"', 'tls = "tls13"', "auto, starttls"),
    ('client_secret = "env:CLIENT_SECRET"', 'client_secret = "hunter2"', "client_secret",
     "inline secret is refused"),
    ('users = { printer = "env:PRINTER_PASSWORD" }', 'users = { printer = "hunter2" }', "users",
     "inline secret is refused"),
    ('allow = ["127.0.0.0/8", "10.1.2.0/24"]', 'allow = ["10.1.2.300/24"]', "allow",
     "not a network"),
    ('address = "127.0.0.1:2525"', 'address = "127.0.0.1"', "address", "no port"),
    ('concurrency = 4', 'concurrency = "four"', "concurrency", "expected int"),
    ('concurrency = 4', 'concurrency = 0', "concurrency", "1 to 100"),
    ('tls = "none"', 'tls = "starttls"', 'tls = "starttls"', "needs cert and key"),
    ('auth = "xoauth2"', 'auth = "kerberos"', "auth =", "password, xoauth2 or none"),
    ('token_url = "https://', 'token_url = "http://', "token_url", "must be https"),
    ('max_age = "5d"', 'max_age = "5d"\nmax_agee = "6d"', "max_agee", "unknown key 'max_agee'"),
])
def test_mistakes_name_the_line_and_the_problem(old: str, new: str, key: str, words: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    error = _error(text)
    assert error.line == _line(text, key), str(error)
    assert str(error).startswith(f"relay.toml:{error.line}: ")
    assert words in str(error)


def test_inline_secrets_never_appear_in_the_error() -> None:
    error = _error(GOOD.replace('"env:CLIENT_SECRET"', '"s3cr3t-value"'))
    assert "s3cr3t-value" not in str(error) and "s3cr3t-value" not in repr(error)


def test_a_toml_syntax_error_has_its_line() -> None:
    text = GOOD.replace('concurrency = 4', 'concurrency = = 4')
    error = _error(text)
    assert error.line == _line(text, "concurrency")
    assert "not valid TOML" in str(error)


def _without_tables(text: str, *names: str) -> str:
    """*text* without the tables whose header is one of *names* (their keys too)."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() in names
        if not skipping:
            kept.append(line)
    return "".join(kept)


@pytest.mark.parametrize(("remove", "words"), [
    (("[listen]",), "[listen] table is required"),
    (("[spool]",), "[spool] table"),
    (("[upstream]", "[upstream.oauth2]"), "[upstream] table is required"),
])
def test_missing_tables(remove: tuple[str, ...], words: str) -> None:
    assert words in str(_error(_without_tables(GOOD, *remove)))


def test_password_auth_needs_a_password_reference() -> None:
    text = _without_tables(GOOD.replace('auth = "xoauth2"', 'auth = "password"'),
                           "[upstream.oauth2]")
    error = _error(text)
    assert "needs password" in str(error) and error.line == _line(text, 'auth = "password"')
    config = parse_config(text.replace('auth = "password"',
                                       'auth = "password"\npassword = "file:/run/secret"'))
    assert config.upstream.password == "file:/run/secret"


def test_load_config_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RelayConfigError, match="cannot read the relay configuration"):
        load_config(tmp_path / "missing.toml")


def test_resolve_secret_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TEST_SECRET", "from-env")
    assert resolve_secret("env:RELAY_TEST_SECRET", field="password") == "from-env"
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert resolve_secret(f"file:{secret_file}", field="password") == "from-file"
    monkeypatch.setenv("RELAY_TEST_SECRET", "")
    with pytest.raises(SecretError, match="RELAY_TEST_SECRET is empty"):
        resolve_secret("env:RELAY_TEST_SECRET", field="password")
    monkeypatch.delenv("RELAY_TEST_SECRET")
    with pytest.raises(SecretError, match="RELAY_TEST_SECRET is not set"):
        resolve_secret("env:RELAY_TEST_SECRET", field="password")
    with pytest.raises(SecretError, match="cannot read secret file"):
        resolve_secret(f"file:{tmp_path / 'nope'}", field="password")
    with pytest.raises(SecretError, match="inline secret is refused") as caught:
        resolve_secret("plain-password", field="password")
    assert "plain-password" not in str(caught.value)
    # Unattended: no program run for a secret, no prompt (the command line has both).
    for spec in (f"command:{sys.executable} -c print(1)", "prompt"):
        with pytest.raises(SecretError, match="a secret must be a reference"):
            resolve_secret(spec, field="password")
    secret_file.write_text("")
    with pytest.raises(SecretError, match=r"secret file .* is empty"):
        resolve_secret(f"file:{secret_file}", field="password")


def test_an_error_in_the_second_listener_points_at_its_own_line() -> None:
    text = ('[[listen]]\naddress = "127.0.0.1:2525"\ntls = "none"\n\n'
            '[[listen]]\naddress = "127.0.0.1:2465"\ntls = "tls"\n\n'
            '[spool]\npath = "/tmp/x"\n\n[upstream]\nhost = "h"\n')
    error = _error(text)
    assert error.line == 7 and "'tls': use none, starttls or implicit" in str(error)
