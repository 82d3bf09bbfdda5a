"""``cdomail send``: send one message and say plainly whether it travelled encrypted."""

from __future__ import annotations

import argparse
import mimetypes
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from rich.console import Console

from .. import SMTPClient
from ..errors import CdoMailError, InputError
from ..message import MessageInput
from ..result import SendResult
from ..transcript import Transcript
from ._common import add_tls_arguments, parse_server, print_json, read_secret


def add_parser(subparsers: Any) -> None:
    """Register ``send``."""
    parser = subparsers.add_parser(
        "send", help="send one message",
        description="Send one message. Passwords come from --password-env or --password-file,"
                    " never from the command line.")
    parser.add_argument("--server", required=True, help="HOST[:PORT]")
    add_tls_arguments(parser)
    parser.add_argument("--from", dest="sender", help="From address")
    parser.add_argument("--to", action="append", default=[], help="recipient (repeatable)")
    parser.add_argument("--cc", action="append", default=[], help="Cc recipient (repeatable)")
    parser.add_argument("--bcc", action="append", default=[],
                        help="blind recipient: envelope only, never in the headers")
    parser.add_argument("--subject", default="")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--body", help="plain-text body")
    body.add_argument("--body-file", help="read the plain-text body from this file")
    parser.add_argument("--html-file", help="HTML alternative body")
    parser.add_argument("--attach", action="append", default=[], help="attach a file (repeatable)")
    parser.add_argument("--message", help="send a complete RFC 5322 message from this file, or - "
                                          "for standard input")
    parser.add_argument("--user", help="user name for AUTH")
    parser.add_argument("--password-env", help="name of the environment variable with the password")
    parser.add_argument("--password-file", help="file whose first line is the password")
    parser.add_argument("--allow-plaintext-auth", action="store_true",
                        help="allow AUTH without TLS (credentials readable on the wire)")
    parser.add_argument("--ehlo", help="EHLO name (default: this machine's name)")
    parser.add_argument("--transcript", action="store_true",
                        help="show the conversation (AUTH secrets redacted)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}", field=what) from None


def _set_header(message: EmailMessage, name: str, value: str) -> None:
    try:
        message[name] = value
    except (ValueError, TypeError) as exc:
        raise InputError(f"invalid {name}: {exc}", field=name.lower()) from None


def build_message(args: argparse.Namespace) -> MessageInput:
    """The message from the arguments (or from --message)."""
    if args.message:
        return _read(args.message, "message")
    if not args.sender:
        raise InputError("--from is required (or give a complete message with --message)",
                         field="sender")
    if not (args.to or args.cc or args.bcc):
        raise InputError("give at least one --to, --cc or --bcc", field="recipients")
    message = EmailMessage()
    _set_header(message, "From", args.sender)
    for name, values in (("To", args.to), ("Cc", args.cc), ("Bcc", args.bcc)):
        if values:
            _set_header(message, name, ", ".join(values))
    _set_header(message, "Subject", args.subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=args.sender.rpartition("@")[2] or None)
    text = args.body if args.body is not None else ""
    if args.body_file:
        text = _read(args.body_file, "body").decode("utf-8", "replace")
    message.set_content(text)
    if args.html_file:
        message.add_alternative(_read(args.html_file, "html").decode("utf-8", "replace"),
                                subtype="html")
    for path in args.attach:
        data = _read(path, "attachment")
        kind, _ = mimetypes.guess_type(path)
        maintype, _, subtype = (kind or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype,
                               filename=Path(path).name)
    return message


def describe(result: SendResult) -> str:
    """One plain sentence about encryption."""
    if result.tls is None:
        return "NOT ENCRYPTED: the message travelled in plaintext."
    verified = {"ca": "certificate verified", "fingerprint": "certificate matched the pinned "
                "fingerprint", "none": "certificate NOT verified (--insecure)"}[
        result.tls.verified_by]
    return (f"ENCRYPTED ({result.tls.mode}, {result.tls.version}, {result.tls.cipher},"
            f" {verified}).")


def run(args: argparse.Namespace) -> int:
    """Send; exit 0 only when the server accepted the message."""
    console = Console(stderr=False, highlight=False)
    transcript = Transcript() if args.transcript else None
    result: SendResult | None = None
    error: CdoMailError | None = None
    try:
        host, port = parse_server(args.server)
        password = read_secret(args, "password_env", "password_file", "password")
        message = build_message(args)
        client = SMTPClient(
            host, port, tls=args.tls, username=args.user, password=password,
            allow_plaintext_auth=args.allow_plaintext_auth, cafile=args.cafile,
            fingerprint=args.fingerprint, verify=not args.insecure,
            connect_timeout=args.timeout, local_hostname=args.ehlo, transcript=transcript,
        )
        with client:
            result = client.send(message)
    except CdoMailError as exc:
        error = exc
    if args.json:
        document: dict[str, object] = {
            "ok": result is not None and result.ok,
            "encrypted": result.encrypted if result else False,
            "tls": result.tls.to_dict() if result and result.tls else None,
            "accepted": sorted(result.accepted) if result else [],
            "refused": {a: str(r) for a, r in result.refused.items()} if result else {},
            "reply": str(result.reply) if result and result.reply else None,
            "error": {"type": type(error).__name__, "message": str(error)} if error else None,
        }
        if transcript is not None:
            document["transcript"] = transcript.to_list()
        print_json(document)
    else:
        if transcript is not None:
            console.print(transcript.render(), markup=False)
        if result is not None:
            console.print(f"Accepted for {', '.join(sorted(result.accepted))}:"
                          f" {result.reply}", markup=False)
            for address, reply in result.refused.items():
                console.print(f"Refused {address}: {reply}", markup=False)
            console.print(describe(result), markup=False)
        else:
            console.print(f"FAILED ({type(error).__name__}): {error}", markup=False)
            console.print("Nothing was delivered.", markup=False)
    return 0 if result is not None and result.ok else 1
