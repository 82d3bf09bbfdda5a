"""The connection options every sending subcommand shares, merged with an account.

Command-line flags win over the account, the account over ``[defaults]``, those over the
library's defaults. Secrets come from ``--password-env``/``--password-file``, the account's
``password_source``, or a prompt on a terminal: never from the command line itself.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..accounts import Account, load_account
from ..errors import ConfigurationError
from ..secrets import resolve_secret
from ..tls import TLSMode, TLSSettings, create_ssl_context
from ._exit import UsageError
from ._wording import FLAG_FOR_FIELD

__all__ = ["add_connection_arguments", "client_options", "parse_server", "seconds"]

# Finite defaults suited to a person waiting at a terminal (RFC 5321 §4.5.3.2's minutes
# suit an MTA's queue, not an interactive command).
DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_COMMAND_TIMEOUT = 30.0
DEFAULT_DEADLINE = 120.0

def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds above 0")
    return value


def parse_server(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, ""
    if not host:
        raise UsageError(f"--server {value!r}: no host", field="server")
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise UsageError(f"--server {value!r}: the port is not a number 1-65535", field="server")
    return host, int(port) if port else None


def add_connection_arguments(parser: argparse.ArgumentParser, *, account_short: bool) -> None:
    """--account/--config, --server, TLS, timeouts and credentials."""
    names = ("-a", "--account") if account_short else ("--account",)
    group = parser.add_argument_group("server and account")
    group.add_argument(*names, dest="account", metavar="NAME",
                       help="use this account from the accounts file")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help="accounts file (default $XDG_CONFIG_HOME/cdomail/config.toml)")
    group.add_argument("--server", metavar="HOST[:PORT]",
                       help="server (overrides the account's host and port)")
    group.add_argument("--tls", choices=[m.value for m in TLSMode],
                       help="TLS mode (default auto: 465 implicit, else STARTTLS required)")
    group.add_argument("--cafile", help="trust this CA (PEM) in addition to the system store")
    group.add_argument("--client-cert", help="client certificate (PEM, may include the key)")
    group.add_argument("--client-key", help="client certificate's private key (PEM)")
    group.add_argument("--fingerprint", help="pin the server certificate's SHA-256 fingerprint")
    group.add_argument("--insecure", action="store_true",
                       help="do not verify the certificate (reported in the result)")
    group.add_argument("--timeout", type=seconds, default=DEFAULT_CONNECT_TIMEOUT,
                       help="seconds to connect and get the greeting (default 30)")
    group.add_argument("--command-timeout", type=seconds, default=DEFAULT_COMMAND_TIMEOUT,
                       help="seconds for each reply, the TLS handshake included (default 30)")
    group.add_argument("--deadline", type=seconds, default=DEFAULT_DEADLINE,
                       help="seconds for the whole session (default 120)")
    group.add_argument("--user", help="user name for AUTH")
    group.add_argument("--password-env", metavar="VAR",
                       help="environment variable holding the password")
    group.add_argument("--password-file", metavar="FILE", help="file holding the password")
    group.add_argument("--allow-plaintext-auth", action="store_true",
                       help="allow AUTH without TLS (credentials readable on the wire)")
    group.add_argument("--ehlo", help="EHLO name (default: this machine's name)")


def password_from_flags(args: argparse.Namespace) -> str | None:
    """The password named by ``--password-env`` or ``--password-file`` (never given inline)."""
    if args.password_env and args.password_file:
        raise UsageError("give --password-env or --password-file, not both", field="password")
    if args.password_env:
        return resolve_secret(f"env:{args.password_env}", field="--password-env")
    if args.password_file:
        return resolve_secret(f"file:{args.password_file}", field="--password-file")
    return None


def _password(args: argparse.Namespace, account: Account | None) -> str | None:
    password = password_from_flags(args)
    if password is None and account is not None:
        return account.secret()
    return password


def _check_tls_files(options: dict[str, Any]) -> None:
    """Load the CA and client certificate now: a bad file is named before any connection."""
    try:
        create_ssl_context(TLSSettings(
            verify=options["verify"], cafile=options["cafile"],
            fingerprint=options["fingerprint"], client_cert=options["client_cert"],
            client_key=options["client_key"]))
    except ConfigurationError as exc:
        flag = FLAG_FOR_FIELD.get(exc.field, exc.field)
        raise ConfigurationError(f"{flag}: {exc}", field=exc.field) from None


def client_options(args: argparse.Namespace) -> tuple[dict[str, Any], Account | None]:
    """Keyword arguments for ``SMTPClient`` from the flags and the account, and the account."""
    account = load_account(args.account, args.config)
    host, port = parse_server(args.server) if args.server else (None, None)
    if host is None and account is not None:
        host, port = account.host, account.port
    if host is None:
        raise UsageError("no server: give --server HOST[:PORT] or --account NAME", field="server")
    username = args.user or (account.username if account else None)
    secret = _password(args, account) if username else None
    if username and secret is None:
        secret = resolve_secret("prompt", field=f"password for {username}")
    xoauth2 = account is not None and account.auth == "xoauth2" and not args.password_env \
        and not args.password_file
    options: dict[str, Any] = {
        "host": host, "port": port,
        "tls": args.tls or (account.tls if account and account.tls else "auto"),
        "username": username,
        "password": None if xoauth2 else secret,
        "oauth2_token": secret if xoauth2 else None,
        "allow_plaintext_auth": args.allow_plaintext_auth,
        "cafile": args.cafile or (account.cafile if account else None),
        "client_cert": args.client_cert or (account.client_cert if account else None),
        "client_key": args.client_key or (account.client_key if account else None),
        "fingerprint": args.fingerprint or (account.fingerprint if account else None),
        "verify": not args.insecure,
        "local_hostname": args.ehlo or (account.ehlo if account else None),
        "connect_timeout": args.timeout,
        "command_timeout": args.command_timeout,
        "deadline": args.deadline,
    }
    _check_tls_files(options)
    return options, account
