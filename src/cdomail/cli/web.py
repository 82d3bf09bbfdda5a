"""``cdomail web``: the web console — lab inbox, relay queue, check a server.

::

    cdomail web [--lab [--lab-listen MODE=PORT ...]] [--relay-config relay.toml]
                [--listen 127.0.0.1:8025] [--password-env NAME | --password-file PATH]
                [--cert PEM --key PEM]

Listens on loopback by default. Any other address needs a login password, read from an
environment variable or a file (never from the command line); without one the console refuses
to start. Prints the console's URL when it accepts connections; Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import CdoMailError, ConfigurationError, printable
from ..lab import DEFAULT_PORTS, Lab
from ._connection import password_from_flags

__all__ = ["DEFAULT_LISTEN", "add_parser", "run", "serve_until_stopped"]

DEFAULT_LISTEN = "127.0.0.1:8025"
PASSWORD_VARIABLE = "CDOMAIL_WEB_PASSWORD"


def add_parser(subparsers: Any) -> None:
    """Register ``web`` on the ``cdomail`` parser."""
    from .lab import _listen_spec  # the lab's own MODE=PORT syntax

    parser = subparsers.add_parser(
        "web", help="web console: lab inbox, relay queue, check a server",
        description="Serve the web console: the lab's inbox (--lab), the relay's queue "
        "(--relay-config) and a page that checks a mail server. Loopback only unless a "
        f"login password is set ({PASSWORD_VARIABLE} or --password-file).")
    parser.add_argument("--lab", action="store_true", help="start a lab and show its inbox")
    parser.add_argument("--lab-listen", action="append", type=_listen_spec, metavar="MODE=PORT",
                        help="a lab listener (repeatable; default: the lab's usual ports)")
    parser.add_argument("--relay-config", type=Path, metavar="relay.toml",
                        help="show and manage this relay's queue")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"where the console listens (default {DEFAULT_LISTEN})")
    parser.add_argument("--password-env", metavar="NAME",
                        help=f"environment variable holding the login password "
                        f"(default {PASSWORD_VARIABLE} when set)")
    parser.add_argument("--password-file", metavar="PATH", help="file holding the password")
    parser.add_argument("--cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--key", metavar="PEM", help="the certificate's private key")
    parser.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env is None and args.password_file is None:
        return os.environ.get(PASSWORD_VARIABLE) or None
    password = password_from_flags(args)
    if not password:
        raise ConfigurationError("the console password is empty", field="password")
    return password


def _web_extra_missing() -> str | None:
    """Why the console cannot run here (its optional dependencies are missing), or None."""
    for module in ("starlette", "jinja2", "uvicorn", "python_multipart"):
        if importlib.util.find_spec(module) is None:
            return (f"the web console needs {module}: install cdomail's web extra "
                    "(pip install 'cdomail[web]')")
    return None


def run(args: argparse.Namespace) -> int:
    """Start what was asked for, serve the console until Ctrl-C or SIGTERM."""
    missing = _web_extra_missing()
    if missing is not None:
        print(f"cdomail web: {missing}", file=sys.stderr)
        return 2
    from ..relay.config import load_config
    from ..web import check_bind

    lab: Lab | None = None
    try:
        from ..web._serve import parse_listen

        host, port = parse_listen(args.listen)
        password = _password(args)
        check_bind(host, password)
        if bool(args.cert) != bool(args.key):
            raise ConfigurationError("give --cert and --key together", field="cert")
        relay_config = load_config(args.relay_config) if args.relay_config else None
        if args.lab:
            from .lab import default_state_dir

            lab = Lab(dict(args.lab_listen or DEFAULT_PORTS), state_dir=default_state_dir())
            lab.start()
            print(f"lab listening on {lab.host}: "
                  + ", ".join(f"{m} {p}" for m, p in lab.listeners.items()), flush=True)
    except (CdoMailError, OSError) as error:
        print(f"cdomail web: {printable(str(error))}", file=sys.stderr)
        if lab is not None:
            lab.stop()
        return 2 if isinstance(error, ConfigurationError) else 1
    try:
        return serve_until_stopped(host, port, lab=lab, relay_config=relay_config,
                                   password=password, certfile=args.cert, keyfile=args.key)
    finally:
        if lab is not None:
            lab.stop()


def serve_until_stopped(host: str, port: int, *, lab: Lab | None = None,
                        relay_config: Any = None, password: str | None = None,
                        certfile: str | None = None, keyfile: str | None = None) -> int:
    """Serve the console, print its URL, wait for Ctrl-C or SIGTERM; return the exit code."""
    from ..web import create_app, start_console

    app = create_app(lab=lab, relay_config=relay_config, password=password,
                     probe_cafile=lab.ca_path if lab is not None else None)
    try:
        console = start_console(app, host, port, certfile=certfile, keyfile=keyfile)
    except OSError as error:
        print(f"cdomail web: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 1
    if certfile is None and password is not None:
        print("cdomail web: warning: the login password crosses the network unencrypted; "
              "give --cert and --key for HTTPS", file=sys.stderr)
    stop = threading.Event()
    previous = _on_sigterm(stop)
    try:
        print(f"cdomail web console: {console.url}", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        console.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _on_sigterm(stop: threading.Event) -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, handler)


def start_lab_console(lab: Lab, listen: str) -> Any:
    """``cdomail lab --web``: serve the inbox of a running lab and print the URL (None: failed,
    the reason printed)."""
    missing = _web_extra_missing()
    if missing is not None:
        print(f"cdomail lab --web: {missing}", file=sys.stderr)
        return None
    from ..web import check_bind, create_app, start_console
    from ..web._serve import parse_listen

    try:
        host, port = parse_listen(listen)
        password = os.environ.get(PASSWORD_VARIABLE) or None
        check_bind(host, password)
        app = create_app(lab=lab, password=password, probe_cafile=lab.ca_path)
        console = start_console(app, host, port)
    except (CdoMailError, OSError) as error:
        print(f"cdomail lab --web: {printable(str(error))}", file=sys.stderr)
        return None
    print(f"cdomail web console: {console.url}", flush=True)
    return console
