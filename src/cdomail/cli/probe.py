"""``cdomail probe HOST``: what a mail server supports on each port, and what CDO will do there."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console

from ..errors import CdoMailError, ConfigurationError
from ..probe import DEFAULT_PORTS, DEFAULT_TIMEOUT, probe
from ..probe._render import print_report
from ._common import print_json, read_secret


def add_parser(subparsers: Any) -> None:
    """Register ``probe``."""
    parser = subparsers.add_parser(
        "probe", help="what a mail server supports on each port, and what CDO will do there",
        description="Probe every port at once: TCP, implicit TLS, greeting, EHLO, STARTTLS, "
                    "certificate; then the verdict, CDO's outcome for smtpusessl=True/False, "
                    "and the settings to use. Never sends MAIL, RCPT or DATA by default.")
    parser.add_argument("host", help="the mail server's name (its certificate must carry it)")
    parser.add_argument("--ports", default=",".join(str(p) for p in DEFAULT_PORTS),
                        help="comma-separated ports (default: 25,465,587,2525)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per network step (default {DEFAULT_TIMEOUT:g}); the whole "
                             "probe takes about this long")
    parser.add_argument("--cafile", help="trust this CA (PEM) in addition to the system store")
    parser.add_argument("--insecure", action="store_true",
                        help="read certificates without judging them")
    parser.add_argument("--check-required", action="store_true",
                        help="send MAIL FROM:<> then RSET in plaintext (never RCPT or DATA) to "
                             "learn whether mail is refused before STARTTLS")
    parser.add_argument("--login", metavar="USER",
                        help="check these credentials with AUTH, over TLS only")
    parser.add_argument("--password-env", help="environment variable holding the password")
    parser.add_argument("--password-file", help="file whose first line is the password")
    parser.add_argument("--ehlo", help="EHLO name (default: this machine's name)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--transcript", action="store_true",
                        help="show every conversation (AUTH secrets redacted)")
    parser.set_defaults(func=run)


def parse_ports(value: str) -> list[int]:
    """``25,465,587`` -> ``[25, 465, 587]``, with a clear error for anything else."""
    ports: list[int] = []
    for part in value.split(","):
        text = part.strip()
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ConfigurationError(f"--ports: {text!r} is not a TCP port (1-65535)",
                                     field="ports")
        ports.append(int(text))
    return ports


def _login(args: argparse.Namespace) -> tuple[str, str] | None:
    password = read_secret(args, "password_env", "password_file", "password")
    if args.login is None:
        if password is not None:
            raise ConfigurationError("--password-env/--password-file need --login USER",
                                     field="login")
        return None
    if password is None:
        raise ConfigurationError("--login needs the password from --password-env or "
                                 "--password-file", field="password")
    return args.login, password


def run(args: argparse.Namespace) -> int:
    """Probe; exit 0 when at least one port offers TLS, 1 when none does, 2 on bad input."""
    console = Console(highlight=False)
    try:
        report = asyncio.run(probe(
            args.host, parse_ports(args.ports), timeout=args.timeout, cafile=args.cafile,
            verify=not args.insecure, check_required=args.check_required,
            login=_login(args), local_hostname=args.ehlo,
        ))
    except CdoMailError as exc:
        if args.json:
            print_json({"error": {"type": type(exc).__name__, "message": str(exc)}})
        else:
            console.print(f"cdomail probe: {exc}", markup=False)
        return 2
    if args.json:
        print_json(report.to_dict(transcript=args.transcript))
    else:
        print_report(report, console, transcript=args.transcript)
    return 0 if any(port.verdict.offers_tls for port in report.ports) else 1
