"""Building the message and its envelope from command-line flags.

Envelope semantics follow sendmail and msmtp: with ``--message`` the file is sent as it is,
and ``--from``/``--to``/``--cc``/``--bcc`` set the envelope (command-line recipients replace
the header recipients); flags that would change the content are a usage error there.
"""

from __future__ import annotations

import argparse
import mimetypes
import re
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..errors import InputError
from ..message import MessageInput
from ._exit import UnreadableInput, UsageError

__all__ = ["Composed", "add_message_arguments", "compose", "idna_address", "read_input"]

# RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Fields the message flags own: setting them again with --header would contradict them.
_OWNED_FIELDS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to",
                 "mime-version", "content-type", "content-transfer-encoding"}
_CONTENT_FLAGS = (("subject", "--subject"), ("body", "--body"), ("body_file", "--body-file"),
                  ("html_file", "--html-file"), ("attach", "--attach"), ("header", "--header"),
                  ("reply_to", "--reply-to"))
# RFC 3461 §4.1 (NOTIFY) and §4.3 (RET).
_DSN_NOTIFY = re.compile(r"NEVER|(SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Composed:
    """What to send: the message and the envelope the command line asks for."""

    message: MessageInput
    sender: str | None
    recipients: list[str] | None
    mail_options: tuple[str, ...]
    rcpt_options: tuple[str, ...]


def add_message_arguments(parser: argparse.ArgumentParser) -> None:
    """The message flags of ``send``."""
    group = parser.add_argument_group(
        "message", "With --message FILE the file is sent unchanged: --from sets the envelope"
        " sender and --to/--cc/--bcc the envelope recipients, which then REPLACE the file's"
        " To/Cc/Bcc recipients (as sendmail and msmtp do). --subject, --body, --body-file,"
        " --html-file, --attach, --header and --reply-to cannot be combined with --message.")
    group.add_argument("--from", dest="sender", help="From address (and envelope sender)")
    group.add_argument("--to", action="append", default=[], help="recipient (repeatable)")
    group.add_argument("--cc", action="append", default=[], help="Cc recipient (repeatable)")
    group.add_argument("--bcc", action="append", default=[],
                       help="blind recipient: envelope only, never in the headers")
    group.add_argument("--subject")
    body = group.add_mutually_exclusive_group()
    body.add_argument("--body", help="plain-text body")
    body.add_argument("--body-file", help="read the plain-text body (UTF-8 text) from this file")
    group.add_argument("--html-file", help="HTML alternative body (UTF-8)")
    group.add_argument("--attach", action="append", default=[],
                       help="attach a file (repeatable); non-ASCII names per RFC 2231")
    group.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                       help="an extra header field (repeatable)")
    group.add_argument("--reply-to", help="Reply-To address")
    group.add_argument("--message", help="send a complete RFC 5322 message from this file, or -"
                                         " for standard input")
    group.add_argument("--dsn-notify", metavar="WHEN",
                       help="delivery status notifications (RFC 3461): NEVER, or a comma list"
                            " of SUCCESS, FAILURE, DELAY")
    group.add_argument("--dsn-return", choices=["FULL", "HDRS"],
                       help="what a bounce returns: the full message or only its headers")


def read_input(path: str, flag: str) -> bytes:
    """The bytes of an input file (``-`` is standard input), or a clear error naming ``flag``."""
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except IsADirectoryError:
        raise UnreadableInput(f"{flag} {path} is a directory", field=flag) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read {flag} {path}: {exc.strerror}", field=flag) from None


def _text(path: str, flag: str) -> str:
    data = read_input(path, flag)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if "\0" in text or (data and not text):
        raise InputError(f"{flag} {path} is not UTF-8 text (binary?); send it with --attach",
                         field=flag)
    return text


def idna_address(address: str, flag: str) -> str:
    """``user@bücher.example`` -> ``user@xn--bcher-kva.example``: ASCII wherever it can be.

    An A-label (RFC 5890 §2.3.2.1) is valid with or without SMTPUTF8, so an internationalised
    domain never needs the extension; a non-ASCII local part still does (RFC 6531).
    """
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise InputError(f"{flag} {address!r}: the domain is not a valid international"
                         " domain name", field=flag) from None


def _set(message: EmailMessage, name: str, value: str, flag: str) -> None:
    try:
        message[name] = value
    except (ValueError, TypeError) as exc:
        raise InputError(f"{flag}: invalid {name}: {exc}", field=flag) from None


def _add_header(message: EmailMessage, text: str) -> None:
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _FIELD_NAME.fullmatch(name):
        raise UsageError(f"--header {text!r}: expected 'Name: value' with a printable ASCII name",
                         field="--header")
    if name.lower() in _OWNED_FIELDS:
        raise UsageError(f"--header {name}: set it with its own flag (--from, --to, --subject,"
                         " --reply-to ...), not --header", field="--header")
    if "\r" in value or "\n" in value:  # header injection (RFC 5322 §2.2)
        raise InputError(f"--header {name}: the value contains a line break", field="--header")
    _set(message, name, value, "--header")


def _attach(message: EmailMessage, path: str) -> None:
    name = Path(path).name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"--attach: the file name {name.encode('utf-8', 'surrogateescape')!r}"
                         " is not UTF-8; rename the file", field="--attach") from None
    data = read_input(path, "--attach")
    kind, _ = mimetypes.guess_type(name)
    maintype, _, subtype = (kind or "application/octet-stream").partition("/")
    # The email package writes a non-ASCII filename as an RFC 2231 parameter (filename*=).
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)


def _new_message(args: argparse.Namespace, sender: str) -> EmailMessage:
    message = EmailMessage()
    _set(message, "From", sender, "--from")
    for name, values in (("To", args.to), ("Cc", args.cc), ("Bcc", args.bcc)):
        if values:
            _set(message, name, ", ".join(idna_address(v, f"--{name.lower()}") for v in values),
                 f"--{name.lower()}")
    if args.reply_to:
        _set(message, "Reply-To", idna_address(args.reply_to, "--reply-to"), "--reply-to")
    _set(message, "Subject", args.subject or "", "--subject")
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    for header in args.header:
        _add_header(message, header)
    text = args.body if args.body is not None else ""
    if args.body_file:
        text = _text(args.body_file, "--body-file")
    message.set_content(text)
    if args.html_file:
        message.add_alternative(_text(args.html_file, "--html-file"), subtype="html")
    for path in args.attach:
        _attach(message, path)
    return message


def _dsn_options(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    mail_options: tuple[str, ...] = (f"RET={args.dsn_return}",) if args.dsn_return else ()
    rcpt_options: tuple[str, ...] = ()
    if args.dsn_notify:
        if not _DSN_NOTIFY.fullmatch(args.dsn_notify):
            raise UsageError(f"--dsn-notify {args.dsn_notify!r}: use NEVER, or a comma list of"
                             " SUCCESS, FAILURE, DELAY", field="--dsn-notify")
        rcpt_options = (f"NOTIFY={args.dsn_notify.upper()}",)
    return mail_options, rcpt_options


# Flags whose text goes into the message; argv that is not UTF-8 arrives as lone surrogates.
_TEXT_FLAGS = (("sender", "--from"), ("to", "--to"), ("cc", "--cc"), ("bcc", "--bcc"),
               ("subject", "--subject"), ("body", "--body"), ("header", "--header"),
               ("reply_to", "--reply-to"))


def _check_utf8(args: argparse.Namespace) -> None:
    for attr, flag in _TEXT_FLAGS:
        value = getattr(args, attr, None)
        for text in value if isinstance(value, list) else [value]:
            if text is None:
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"{flag}: the text is not valid UTF-8 (check the terminal's"
                                 " or the script's encoding)", field=flag) from None


def compose(args: argparse.Namespace, default_sender: str | None) -> Composed:
    """The message and envelope the flags describe; usage errors before anything is read."""
    _check_utf8(args)
    recipients = [idna_address(address, flag) for flag, addresses in
                  (("--to", args.to), ("--cc", args.cc), ("--bcc", args.bcc))
                  for address in addresses]
    sender = idna_address(args.sender, "--from") if args.sender else default_sender
    mail_options, rcpt_options = _dsn_options(args)
    if args.message:
        given = [flag for attr, flag in _CONTENT_FLAGS if getattr(args, attr)]
        if given:
            raise UsageError(f"{', '.join(given)} cannot be combined with --message (the file is"
                             " sent unchanged; only the envelope can be set)", field="--message")
        return Composed(read_input(args.message, "--message"), sender, recipients or None,
                        mail_options, rcpt_options)
    if not sender:
        raise UsageError("--from is required (or an account with from = ..., or --message)",
                         field="--from")
    if not recipients:
        raise UsageError("give at least one --to, --cc or --bcc", field="--to")
    return Composed(_new_message(args, sender), None, None, mail_options, rcpt_options)
