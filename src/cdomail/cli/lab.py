"""``cdomail lab``: run the local SMTP servers until Ctrl-C or SIGTERM.

::

    cdomail lab [--listen MODE=PORT ...] [--user NAME[:PASSWORD] ...]
                [--password-env VAR | --password-file FILE] [--auth-plaintext]
                [--auth-required] [--latency MS] [--state-dir DIR] [--host H]

Prints a table of the listeners and the CA path, then one line per message
received. A password on the command line is visible to every user of the machine
(``ps``), so ``--user NAME`` can take it from ``--password-env``/``--password-file``
instead; passwords are never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from cdomail.errors import printable
from cdomail.lab import DEFAULT_PORTS, LISTENER_MODES, Lab, StoredMessage

from ._connection import password_from_flags
from ._exit import ExitCode, UsageError
from ._output import diagnose, stdout_console, tame_server_log

__all__ = ["add_parser", "build_lab", "default_state_dir", "run"]


def default_state_dir() -> Path:
    """``~/.cdomail-lab``, or ``./.cdomail-lab`` when there is no usable home folder."""
    try:
        home: Path | None = Path.home()
    except RuntimeError:  # no home folder can be determined
        home = None
    if home is not None and os.access(home, os.W_OK):
        return home / ".cdomail-lab"
    return Path.cwd() / ".cdomail-lab"


def _listen_spec(text: str) -> tuple[str, int]:
    mode, sep, port = text.partition("=")
    if not sep or mode not in LISTENER_MODES or not port.isdigit() or int(port) > 65535:
        known = ", ".join(LISTENER_MODES)
        raise argparse.ArgumentTypeError(
            f"expected MODE=PORT with MODE one of {known} and PORT 0-65535, got {text!r}"
        )
    return mode, int(port)


def _user_spec(text: str) -> tuple[str, str | None]:
    name, sep, password = text.partition(":")
    if not name or (sep and not password):
        # Never echo the argument: it may hold a password.
        raise argparse.ArgumentTypeError("expected NAME or NAME:PASSWORD (both non-empty)")
    return name, password if sep else None


def _users(args: argparse.Namespace) -> dict[str, str]:
    """Each --user with its password: inline, or from --password-env/--password-file."""
    shared = password_from_flags(args) if any(p is None for _, p in args.user or []) else None
    users: dict[str, str] = {}
    for name, password in args.user or []:
        if password is None:
            if shared is None:
                raise UsageError(f"--user {name} needs :PASSWORD, --password-env VAR or"
                                 " --password-file FILE", field="user")
            password = shared
        users[name] = password
    return users


def _latency(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"latency must be whole milliseconds >= 0, got {text!r}")
    return int(text)


def add_parser(subparsers: Any) -> None:
    """Add the ``lab`` subcommand to the ``cdomail`` parser."""
    parser = subparsers.add_parser(
        "lab",
        help="run local SMTP servers for every TLS configuration",
        description=(
            "Run local SMTP servers: plain, starttls (optional), starttls-required and "
            "smtps (implicit TLS), with a private CA. Stop with Ctrl-C."
        ),
    )
    defaults = " ".join(f"{m}={p}" for m, p in DEFAULT_PORTS.items())
    parser.add_argument(
        "--listen",
        action="append",
        type=_listen_spec,
        metavar="MODE=PORT",
        help=f"a listener (repeatable; PORT 0 = any free port). Default: {defaults}",
    )
    parser.add_argument(
        "--user",
        action="append",
        type=_user_spec,
        metavar="NAME[:PASSWORD]",
        help="a test account for AUTH PLAIN/LOGIN (repeatable). NAME:PASSWORD shows the"
        " password to every user of this machine (process list): prefer --user NAME with"
        " --password-env or --password-file",
    )
    parser.add_argument("--password-env", metavar="VAR",
                        help="the password of each --user NAME given without one, from this"
                        " environment variable (kept out of the process list)")
    parser.add_argument("--password-file", metavar="FILE",
                        help="the same, from this file (one trailing newline removed)")
    parser.add_argument(
        "--auth-plaintext",
        action="store_true",
        help="offer AUTH before TLS too (insecure; for testing clients)",
    )
    parser.add_argument(
        "--auth-required", action="store_true", help="refuse MAIL until the client logged in"
    )
    parser.add_argument(
        "--latency", type=_latency, default=0, metavar="MS", help="delay before each reply"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the CA and the Maildir are kept (default: ~/.cdomail-lab)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--hostname", default="localhost", help="server name (greeting, cert)")
    parser.add_argument("--no-chunking", action="store_true", help="do not offer CHUNKING")
    parser.add_argument("--no-pipelining", action="store_true", help="do not offer PIPELINING")
    parser.add_argument("--web", nargs="?", const="127.0.0.1:8025", metavar="HOST:PORT",
                        help="also serve the web console's inbox (default 127.0.0.1:8025)")
    parser.set_defaults(func=run)


def build_lab(args: argparse.Namespace, console: Console | None = None) -> Lab:
    """The (not yet started) :class:`Lab` described by the parsed arguments."""
    listeners = dict(args.listen) if args.listen else dict(DEFAULT_PORTS)
    users = _users(args)
    printer = console or Console(highlight=False)

    def announce(message: StoredMessage) -> None:
        recipients = ", ".join(message.rcpt_tos)
        encrypted = "yes" if message.encrypted else "NO"
        who = f" as {message.authenticated_as}" if message.authenticated_as else ""
        # Addresses and names come from the client: escaped before they reach a terminal.
        printer.print(
            printable(f"{message.listener}: {message.mail_from} -> {recipients}"
                      f"  encrypted: {encrypted}{who}  ({len(message.data)} bytes)",
                      newlines=False),
            markup=False,
        )
        sys.stdout.flush()

    return Lab(
        listeners,
        users=users,
        auth_require_tls=not args.auth_plaintext,
        auth_required=args.auth_required,
        latency_ms=args.latency,
        state_dir=args.state_dir or default_state_dir(),
        host=args.host,
        hostname=args.hostname,
        chunking=not args.no_chunking,
        pipelining=not args.no_pipelining,
        on_message=announce,
    )


def listener_table(lab: Lab) -> Table:
    """The start-up table: one row per listener."""
    table = Table(title=f"cdomail lab on {lab.host}")
    for column in ("mode", "port", "STARTTLS", "implicit TLS", "AUTH"):
        table.add_column(column)
    users = ", ".join(sorted(lab.users)) or "none"
    for mode_name, port in lab.listeners.items():
        mode = LISTENER_MODES[mode_name]
        starttls = (
            "required" if mode.requires_starttls else ("offered" if mode.offers_starttls else "no")
        )
        if not lab.users:
            auth = "no users"
        elif mode.implicit_tls or not lab.auth_require_tls:
            auth = users
        elif mode.offers_starttls:
            auth = f"{users} (after TLS)"
        else:
            auth = "never (needs TLS)"
        table.add_row(mode_name, str(port), starttls, "yes" if mode.implicit_tls else "no", auth)
    return table


def run(args: argparse.Namespace) -> int:
    """Start the lab, print where it listens, serve until Ctrl-C or SIGTERM."""
    console = stdout_console()
    tame_server_log("lab")
    lab = build_lab(args, console)
    try:
        lab.start()
    except OSError as error:
        diagnose("lab", f"cannot listen: {error}. Pick other ports with --listen MODE=PORT"
                        " (0 = any free port).")
        return ExitCode.UNAVAILABLE
    stop = threading.Event()
    previous = _install_sigterm(stop)
    web_console = None
    try:
        console.print(listener_table(lab))
        console.print(f"CA certificate: {lab.ca_path}", markup=False, soft_wrap=True)
        console.print(f"Maildir: {lab.maildir_path}", markup=False, soft_wrap=True)
        if args.web is not None:
            from .web import start_lab_console

            web_console = start_lab_console(lab, args.web)
            if web_console is None:
                return 1
        console.print("Waiting for mail; Ctrl-C to stop.")
        sys.stdout.flush()
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if web_console is not None:
            web_console.stop()
        lab.stop()
        _restore_sigterm(previous)
    console.print("cdomail lab stopped.")
    return 0


def _install_sigterm(stop: threading.Event) -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, on_sigterm)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
