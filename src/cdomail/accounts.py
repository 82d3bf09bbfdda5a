"""Accounts for the command line: ``~/.config/cdomail/config.toml`` (like msmtp's ``~/.msmtprc``).

::

    default_account = "work"          # used when no --account is given (optional)

    [defaults]                        # every account starts from these
    tls = "starttls"
    cafile = "/etc/ssl/company-ca.pem"

    [accounts.work]
    host = "smtp.example.com"
    port = 587
    from = "me@example.com"
    username = "me"
    password_source = "command:pass show mail/work"   # env:NAME, file:PATH, command:..., prompt

    [accounts.gmail]
    host = "smtp.gmail.com"
    auth = "xoauth2"
    username = "me@gmail.com"
    token_source = "command:oauth2-token me@gmail.com"

An inline ``password``/``token`` is accepted only when the file is readable by its owner
alone (mode 600), as msmtp does; otherwise the file is refused.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigurationError
from .secrets import resolve_secret

__all__ = ["Account", "AccountError", "default_config_path", "load_account"]

_AUTH_KINDS = ("password", "xoauth2")
_INLINE_SECRETS = ("password", "token")


class AccountError(ConfigurationError):
    """The accounts file is missing, unreadable, invalid, or unsafe; the message says which."""


@dataclass(frozen=True)
class Account:
    """One account's settings; ``None`` means "not set here" (the command line may set it)."""

    name: str
    host: str | None = None
    port: int | None = None
    tls: str | None = None
    username: str | None = None
    password: str | None = None
    password_source: str | None = None
    auth: str = "password"
    token: str | None = None
    token_source: str | None = None
    cafile: str | None = None
    fingerprint: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    sender: str | None = None
    ehlo: str | None = None

    def __repr__(self) -> str:
        # Secrets never appear in a repr (tracebacks with locals, debug logs).
        return f"Account(name={self.name!r}, host={self.host!r}, username={self.username!r})"

    def secret(self) -> str | None:
        """The password (or the OAuth2 token with ``auth = "xoauth2"``), fetched now."""
        inline, source, what = ((self.token, self.token_source, "token_source")
                                if self.auth == "xoauth2"
                                else (self.password, self.password_source, "password_source"))
        if inline is not None:
            return inline
        if source is not None:
            return resolve_secret(source, field=f"account {self.name}: {what}")
        return None


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/cdomail/config.toml``, by default ``~/.config/cdomail/config.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "cdomail" / "config.toml"


# TOML key -> Account attribute ("from" is a Python keyword).
_KEYS = {f.name: f.name for f in fields(Account) if f.name not in ("name", "sender")}
_KEYS["from"] = "sender"


def _read(path: Path) -> dict[str, object]:
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise AccountError(f"--config {path} is a directory", field="config") from None
    except OSError as exc:
        raise AccountError(f"cannot read the accounts file {path}: {exc.strerror}",
                           field="config") from None
    except UnicodeDecodeError:
        raise AccountError(f"the accounts file {path} is not UTF-8", field="config") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccountError(f"the accounts file {path} is not valid TOML: {exc}",
                           field="config") from None


def _settings(table: object, where: str) -> dict[str, object]:
    if not isinstance(table, Mapping):
        raise AccountError(f"{where} must be a table", field="config")
    settings: dict[str, object] = {}
    for key, value in table.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise AccountError(f"{where}: unknown setting {key!r} (known: {known})",
                               field="config")
        expected = int if key == "port" else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise AccountError(f"{where}: {key} must be a {expected.__name__}", field="config")
        settings[_KEYS[key]] = value
    return settings


def _check_permissions(path: Path, document: Mapping[str, object]) -> None:
    accounts = document.get("accounts", {})
    tables = [document.get("defaults", {}),
              *(accounts.values() if isinstance(accounts, Mapping) else ())]
    inline = [key for table in tables if isinstance(table, Mapping)
              for key in _INLINE_SECRETS if key in table]
    if not inline:
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AccountError(
            f"the accounts file {path} holds an inline {inline[0]} and is open to group or others"
            f" (mode {stat.S_IMODE(mode):o}): run chmod 600 {path}, or use {inline[0]}_source",
            field="config")


def load_account(name: str | None, path: Path | None = None) -> Account | None:
    """The account ``name`` (or the file's ``default_account``) from ``path``.

    Returns ``None`` when no name is given, the file sets no default, and ``path`` was not
    given explicitly and does not exist (sending with command-line settings only).
    """
    explicit = path is not None
    config_path = path if path is not None else default_config_path()
    if not explicit and not config_path.exists():
        if name is not None:
            raise AccountError(f"--account {name}: no accounts file at {config_path}",
                               field="account")
        return None
    document = _read(config_path)
    _check_permissions(config_path, document)
    chosen = name if name is not None else document.get("default_account")
    if chosen is None:
        return None
    if not isinstance(chosen, str):
        raise AccountError(f"{config_path}: default_account must be a string", field="config")
    accounts = document.get("accounts", {})
    if not isinstance(accounts, Mapping) or chosen not in accounts:
        known = ", ".join(sorted(accounts)) if isinstance(accounts, Mapping) else ""
        raise AccountError(f"no account {chosen!r} in {config_path} (accounts: {known or 'none'})",
                           field="account")
    settings = _settings(document.get("defaults", {}), "[defaults]")
    settings.update(_settings(accounts[chosen], f"[accounts.{chosen}]"))
    if settings.get("auth", "password") not in _AUTH_KINDS:
        raise AccountError(f"[accounts.{chosen}]: auth must be one of {', '.join(_AUTH_KINDS)}",
                           field="config")
    return Account(name=chosen, **settings)  # type: ignore[arg-type]
