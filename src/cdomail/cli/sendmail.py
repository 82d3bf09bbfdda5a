"""``cdomail sendmail`` and ``cdomail-sendmail``: a sendmail-compatible front end (as msmtp).

::

    cdomail-sendmail [-t] [-i|-oi] [-f SENDER] [-F NAME] [-a ACCOUNT | --server ...] [RCPT ...]

Reads one message on standard input, so cron, PHP's ``mail()``, git send-email and mutt can
use it when it is linked as ``sendmail``. Silent on success; exit codes from ``sysexits.h``.
"""

from __future__ import annotations

import argparse
import re
import sys
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

from ..errors import CdoMailError
from ..transcript import Transcript
from ._compose import Composed, idna_address
from ._connection import add_connection_arguments, client_options
from ._exit import EPILOG, UsageError, exit_code_for
from ._output import diagnose, stderr_console
from ._results import failure_lines, result_exit_code, result_lines
from .send import send_once

__all__ = ["add_parser", "read_message", "run", "standalone_parser"]

_DESCRIPTION = (
    "Read a message on standard input and send it, as sendmail and msmtp do. Recipients are"
    " the arguments; with -t the To/Cc/Bcc headers are read too (and Bcc is removed), the"
    " arguments being added to them. Without -i, a line holding a single '.' ends the"
    " message. A From: header is added when missing (from -f and -F, or the account)."
    " Silent on success; errors on stderr with a sysexits.h status.")

_FROM_HEADER = re.compile(rb"^from[ \t]*:", re.IGNORECASE | re.MULTILINE)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipients", nargs="*", metavar="RECIPIENT",
                        help="envelope recipients")
    parser.add_argument("-t", dest="read_headers", action="store_true",
                        help="also take recipients from the To, Cc and Bcc headers")
    parser.add_argument("-i", dest="ignore_dots", action="store_true",
                        help="a line with a single '.' does not end the message (also -oi)")
    parser.add_argument("-o", dest="sendmail_options", action="append", default=[],
                        metavar="OPTION", help="sendmail option: -oi as -i; others ignored")
    parser.add_argument("-f", "-r", dest="sender", metavar="SENDER", help="envelope sender")
    parser.add_argument("-F", dest="full_name", metavar="NAME",
                        help="full name for a From: header that is added")
    parser.add_argument("-B", dest="body_type", metavar="TYPE",
                        help="accepted for compatibility (the body type is detected)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the conversation on stderr (AUTH secrets redacted)")
    add_connection_arguments(parser, account_short=True)
    parser.set_defaults(func=run)


def add_parser(subparsers: Any) -> None:
    """Register ``sendmail``."""
    parser = subparsers.add_parser("sendmail", help="sendmail-compatible: a message on stdin",
                                   description=_DESCRIPTION)
    _arguments(parser)


def standalone_parser(parser_class: type[argparse.ArgumentParser],
                      formatter_class: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """The parser of the ``cdomail-sendmail`` program."""
    parser = parser_class(prog="cdomail-sendmail", description=_DESCRIPTION, epilog=EPILOG,
                          formatter_class=formatter_class)
    _arguments(parser)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error")
    return parser


def read_message(stream: Any, *, ignore_dots: bool) -> bytes:
    """The message on ``stream``: to end of input, or (sendmail's default) to a lone '.'."""
    if ignore_dots:
        data: bytes = stream.read()
        return data
    lines = []
    for line in stream:
        if line.rstrip(b"\r\n") == b".":
            break
        lines.append(line)
    return b"".join(lines)


def _with_from(message: bytes, sender: str | None, full_name: str | None) -> bytes:
    header_block = message.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if sender is None or _FROM_HEADER.search(header_block):
        return message
    if full_name:
        quoted = full_name.replace("\\", "\\\\").replace('"', '\\"')
        line = f'From: "{quoted}" <{sender}>'
    else:
        line = f"From: {sender}"
    if "\r" in line or "\n" in line:
        raise UsageError("-f/-F: a line break is not allowed", field="-F")
    return line.encode("utf-8") + b"\n" + message


def _header_recipients(message: bytes) -> list[str]:
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(message)
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])]
    return [address for _, address in getaddresses(fields) if address]


def _compose(args: argparse.Namespace, default_sender: str | None) -> Composed:
    # Of sendmail's -o options only -oi changes what is sent; -oem, -odi ... are accepted.
    ignore_dots = args.ignore_dots or "i" in args.sendmail_options
    sender = idna_address(args.sender, "-f") if args.sender else default_sender
    recipients = [idna_address(r, "RECIPIENT") for r in args.recipients]
    if not recipients and not args.read_headers:
        raise UsageError("no recipients: give them as arguments, or -t to read the headers",
                         field="recipients")
    message = read_message(sys.stdin.buffer, ignore_dots=ignore_dots)
    if not message.strip():
        raise UsageError("no message on standard input", field="stdin")
    message = _with_from(message, sender, args.full_name)
    # With -t the library reads To/Cc/Bcc itself; arguments are added to those.
    if args.read_headers and recipients:
        header_recipients = _header_recipients(message)
        recipients = [*header_recipients, *(r for r in recipients if r not in header_recipients)]
    return Composed(message, sender, recipients or None, (), ())


def run(args: argparse.Namespace) -> int:
    """Send the message on stdin; silent on success."""
    options, account = client_options(args)
    composed = _compose(args, account.sender if account else None)
    transcript = Transcript() if args.verbose else None
    try:
        result = send_once(options, composed, transcript)
    except CdoMailError as error:
        if transcript is not None:
            stderr_console().print(transcript.render(), markup=False)
        for line in failure_lines(error):
            diagnose("sendmail", line)
        return exit_code_for(error)
    if transcript is not None:
        stderr_console().print(transcript.render(), markup=False)
    code = result_exit_code(result)
    if code:
        for line in result_lines(result):
            diagnose("sendmail", line)
    return code
