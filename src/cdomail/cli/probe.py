"""``cdomail probe HOST``: what a mail server supports on each port, and what CDO will do there."""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from typing import Any

from .. import errors
from ..errors import CdoMailError
from ..probe import DEFAULT_PORTS, DEFAULT_TIMEOUT, ProbeReport, Verdict, probe
from ..probe._render import print_report
from ._connection import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_DEADLINE,
    password_from_flags,
    seconds,
)
from ._exit import ExitCode, UsageError
from ._output import diagnose, print_json, stdout_console
from ._results import error_document


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
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds to connect and get the greeting (default"
                             f" {DEFAULT_TIMEOUT:g}); ports are probed at once")
    parser.add_argument("--command-timeout", type=seconds, default=DEFAULT_COMMAND_TIMEOUT,
                        help="seconds for each reply and TLS handshake (default"
                             f" {DEFAULT_COMMAND_TIMEOUT:g})")
    parser.add_argument("--deadline", type=seconds, default=DEFAULT_DEADLINE,
                        help=f"seconds for the whole probe (default {DEFAULT_DEADLINE:g})")
    parser.add_argument("--cafile", help="trust this CA (PEM) in addition to the system store")
    parser.add_argument("--insecure", action="store_true",
                        help="read certificates without judging them")
    parser.add_argument("--check-required", action="store_true",
                        help="send MAIL FROM:<> then RSET in plaintext (never RCPT or DATA) to "
                             "learn whether mail is refused before STARTTLS")
    parser.add_argument("--login", metavar="USER",
                        help="check these credentials with AUTH, over TLS only")
    parser.add_argument("--password-env", help="environment variable holding the password")
    parser.add_argument("--password-file", help="file holding the password")
    parser.add_argument("--insecure-send-password", action="store_true",
                        help="with --insecure, still send the --login password to a server"
                             " whose certificate was not checked (anyone in the middle can"
                             " read it)")
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
            raise UsageError(f"--ports: {text!r} is not a TCP port (1-65535)", field="ports")
        ports.append(int(text))
    return ports


def _login(args: argparse.Namespace) -> tuple[str, str] | None:
    if args.login is None:
        if args.password_env or args.password_file:
            raise UsageError("--password-env/--password-file need --login USER", field="login")
        return None
    if args.insecure and not args.insecure_send_password:
        # The certificate is not checked, so the server may be anyone: its password would be
        # handed to whoever answered. Say so instead of sending it.
        raise UsageError("--login with --insecure would send the password to a server whose"
                         " certificate is not checked; add --insecure-send-password if you"
                         " really mean it", field="login")
    password = password_from_flags(args)
    if password is None:
        raise UsageError("--login needs the password from --password-env or --password-file",
                         field="password")
    return args.login, password


#: Seconds past --deadline before the probe as a whole is abandoned (see run()).
_DEADLINE_MARGIN = 2.0


#: Seconds past --deadline before the probe as a whole is abandoned (see run()).
_DEADLINE_MARGIN = 2.0


async def _resolve_then_probe(args: argparse.Namespace) -> ProbeReport:
    """Resolve the name first: a name that does not resolve is a DNS failure, not a timeout."""
    try:
        await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            args.host, None, type=socket.SOCK_STREAM), args.timeout)
    except socket.gaierror as exc:
        raise errors.ConnectError(f"DNS failure: {args.host} does not resolve"
                                  f" ({exc.strerror})") from exc
    return await probe(
        args.host, parse_ports(args.ports),
        timeout=args.timeout, command_timeout=args.command_timeout, deadline=args.deadline,
        cafile=args.cafile,
        verify=not args.insecure, check_required=args.check_required,
        login=_login(args), local_hostname=args.ehlo,
    )


def run(args: argparse.Namespace) -> int:
    """Probe; exit 0 when at least one port offers TLS, 1 when none does, 75 when none did
    but a port did not answer in time (see --help)."""
    try:
        # The probe keeps --deadline itself (and reports what it found by then); this outer
        # bound only catches what lies outside it, such as the name lookup.
        started = time.monotonic()
        report = asyncio.run(asyncio.wait_for(_resolve_then_probe(args),
                                              args.deadline + _DEADLINE_MARGIN))
        cut_by_deadline = time.monotonic() - started >= args.deadline
    except CdoMailError as exc:
        if args.json:
            print_json({"error": error_document(exc)})
        raise
    except TimeoutError:
        raise errors.TimeoutError(f"the probe did not finish within --deadline {args.deadline:g} s"
                            ) from None
    if args.json:
        print_json(report.to_dict(transcript=args.transcript))
    else:
        print_report(report, stdout_console(), transcript=args.transcript)
    return _exit_status(report, cut_by_deadline, args.deadline)


def _exit_status(report: ProbeReport, cut_by_deadline: bool, deadline: float) -> ExitCode:
    # "No port offers TLS" is only a fact when every port answered: a port that timed out,
    # or a probe cut short by --deadline, might have shown TLS: a temporary failure.
    verdicts = [port.verdict for port in report.ports]
    if any(verdict.offers_tls for verdict in verdicts):
        return ExitCode.OK
    if cut_by_deadline:
        diagnose("probe", f"--deadline {deadline:g} s passed before every port answered;"
                          " no port has shown TLS so far")
        return ExitCode.TEMPORARY
    if Verdict.TIMEOUT in verdicts:
        return ExitCode.TEMPORARY
    return ExitCode.NEGATIVE
