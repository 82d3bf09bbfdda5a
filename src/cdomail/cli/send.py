"""``cdomail send``: send one message and say plainly whether it travelled encrypted."""

from __future__ import annotations

import argparse
from typing import Any

from .. import SMTPClient
from ..errors import CdoMailError, InputError
from ..result import SendResult
from ..transcript import Transcript
from ._compose import Composed, add_message_arguments, compose
from ._connection import add_connection_arguments, client_options
from ._exit import ExitCode, exit_code_for
from ._output import diagnose, print_json, stderr_console, stdout_console
from ._results import failure_lines, result_document, result_exit_code, result_lines

__all__ = ["add_output_arguments", "add_parser", "run", "send_once"]


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """-v/--verbose, -q/--quiet, --json."""
    group = parser.add_argument_group("output")
    loudness = group.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", "--transcript", dest="verbose", action="store_true",
                          help="also show the conversation on stderr (AUTH secrets redacted)")
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="print nothing on success; errors still go to stderr")
    group.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_parser(subparsers: Any) -> None:
    """Register ``send``."""
    parser = subparsers.add_parser(
        "send", help="send one message",
        description="Send one message and say whether it travelled encrypted. The server and"
                    " credentials come from the flags or from an account (-a NAME) in the"
                    " accounts file; passwords never from the command line itself.")
    add_connection_arguments(parser, account_short=True)
    add_message_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(func=run)


def _check_dsn(client: SMTPClient, composed: Composed) -> None:
    # RFC 3461 §4: NOTIFY/RET may only be used with a server that offers DSN.
    if (composed.mail_options or composed.rcpt_options) and not (
            client.extensions is not None and client.extensions.has("DSN")):
        raise InputError("the server does not offer DSN (RFC 3461): --dsn-notify/--dsn-return"
                         " cannot be honoured", field="--dsn-notify")


def send_once(options: dict[str, Any], composed: Composed,
              transcript: Transcript | None) -> SendResult:
    """Connect, send ``composed``, close: the library result (errors raise)."""
    with SMTPClient(**options, transcript=transcript) as client:
        _check_dsn(client, composed)
        return client.send(composed.message, sender=composed.sender,
                           recipients=composed.recipients, mail_options=composed.mail_options,
                           rcpt_options=composed.rcpt_options)


def _show(args: argparse.Namespace, result: SendResult | None, error: CdoMailError | None,
          transcript: Transcript | None) -> None:
    """Results on stdout (unless -q on success); what went wrong also on stderr."""
    if args.json:
        document = result_document(result, error)
        if transcript is not None:
            document["transcript"] = transcript.to_list()
        print_json(document)
    elif transcript is not None:
        stderr_console().print(transcript.render(), markup=False)
    if error is not None:
        for line in failure_lines(error):
            diagnose("send", line)
        return
    assert result is not None
    if not args.json and not (args.quiet and result_exit_code(result) == ExitCode.OK):
        stdout_console().print("\n".join(result_lines(result)), markup=False)
    if result.error is not None:
        for line in failure_lines(result.error):
            diagnose("send", line)
    elif result.refused:
        diagnose("send", f"refused for {', '.join(sorted(result.refused))}"
                         f" ({len(result.accepted)} accepted)")
    elif not result.ok:
        diagnose("send", "the server broke the SMTP protocol: no 250 reply to the message")


def run(args: argparse.Namespace) -> int:
    """Send; see the exit-status table in ``--help``."""
    options, account = client_options(args)
    composed = compose(args, account.sender if account else None)
    transcript = Transcript() if args.verbose else None
    result: SendResult | None = None
    error: CdoMailError | None = None
    try:
        result = send_once(options, composed, transcript)
    except CdoMailError as exc:
        error = exc
    _show(args, result, error, transcript)
    if error is not None:
        return exit_code_for(error)
    assert result is not None
    return result_exit_code(result)
