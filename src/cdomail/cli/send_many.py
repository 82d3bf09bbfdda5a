"""``cdomail send-many``: a directory of messages or an mbox, through a pool of connections.

::

    cdomail send-many --messages DIR|MBOX [--connections N] [--from S] [--to R ...] [--json]

Each regular file of DIR (in name order) is one RFC 5322 message; an mbox file holds many.
A progress bar shows on a terminal; the summary counts messages sent, refused, with an
unknown status, failed, and encrypted. Ctrl-C stops the batch and still prints what is known.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CdoMailError, StatusUnknown
from ..pool import AsyncPool
from ..result import SendResult
from ._compose import idna_address
from ._connection import add_connection_arguments, client_options
from ._exit import ExitCode, UnreadableInput, UsageError, exit_code_for
from ._output import diagnose, print_json, stderr_console, stdout_console

__all__ = ["Tally", "add_parser", "load_messages", "run"]


@dataclass
class Tally:
    """What is known so far about a batch (kept outside the event loop, so Ctrl-C keeps it)."""

    total: int
    sent: int = 0
    partial: int = 0
    refused: int = 0
    status_unknown: int = 0
    failed: int = 0
    encrypted: int = 0
    interrupted: bool = False
    first_error: CdoMailError | None = field(default=None, repr=False)

    @property
    def settled(self) -> int:
        """Messages whose fate is known."""
        return self.sent + self.partial + self.refused + self.status_unknown + self.failed

    def record(self, result: SendResult | None, error: CdoMailError | None) -> None:
        """Count one message's outcome."""
        failure = error or (result.error if result else None)
        if result is not None and result.ok:
            self.encrypted += result.encrypted
            if result.refused:
                self.partial += 1
            else:
                self.sent += 1
            return
        if isinstance(failure, StatusUnknown):
            self.status_unknown += 1
        elif result is not None and result.refused and not result.accepted:
            self.refused += 1
        else:
            self.failed += 1
        if self.first_error is None and failure is not None:
            self.first_error = failure

    def to_dict(self) -> dict[str, object]:
        """The JSON summary."""
        return {"messages": self.total, "sent": self.sent, "partially_refused": self.partial,
                "refused": self.refused, "status_unknown": self.status_unknown,
                "failed": self.failed, "encrypted": self.encrypted,
                "not_settled": self.total - self.settled, "interrupted": self.interrupted}

    def exit_code(self) -> int:
        """81 if any may have been delivered; 0 if all sent; 80 if some; else the error's."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.status_unknown:
            return ExitCode.STATUS_UNKNOWN
        if self.settled == self.sent:
            return ExitCode.OK
        if self.sent or self.partial:
            return ExitCode.PARTIAL
        return exit_code_for(self.first_error) if self.first_error else ExitCode.NO_USER


def add_parser(subparsers: Any) -> None:
    """Register ``send-many``."""
    parser = subparsers.add_parser(
        "send-many", help="send a directory of messages or an mbox through a connection pool",
        description="Send every message of a directory (one RFC 5322 message per file, in"
                    " name order) or an mbox file over a pool of pipelined connections."
                    " --from/--to set the envelope of every message (command-line recipients"
                    " replace the header recipients). Ctrl-C prints the counts known so far.")
    add_connection_arguments(parser, account_short=True)
    parser.add_argument("--messages", required=True, type=Path, metavar="DIR|MBOX",
                        help="a directory of message files, or an mbox file")
    parser.add_argument("--connections", type=_positive_int, default=4, metavar="N",
                        help="connections at once (default 4)")
    parser.add_argument("--from", dest="sender", help="envelope sender of every message")
    parser.add_argument("--to", action="append", default=[],
                        help="envelope recipient of every message (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def load_messages(path: Path) -> list[bytes]:
    """The messages in a directory (each file one message) or an mbox file."""
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            return [p.read_bytes() for p in files]
        if not path.exists():
            raise UnreadableInput(f"--messages {path}: no such file or directory",
                                  field="--messages")
        box = mailbox.mbox(path, create=False)
        try:
            return [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()
    except OSError as exc:
        raise UnreadableInput(f"cannot read --messages {path}: {exc.strerror}",
                              field="--messages") from None


async def _send_all(options: dict[str, Any], messages: list[bytes], envelope: dict[str, Any],
                    connections: int, tally: Tally, advance: Callable[[], None]) -> None:
    async def one(pool: AsyncPool, message: bytes) -> None:
        try:
            tally.record(await pool.send(message, **envelope), None)
        except CdoMailError as error:
            tally.record(None, error)
        advance()

    host, port = options.pop("host"), options.pop("port")
    pool = AsyncPool(host, port, max_connections=connections, **options)
    # No ``async with``: on Ctrl-C, aclose() would first finish every queued message. Left
    # open, the pool's workers are cancelled by asyncio.run as it ends, and messages still in
    # flight stay "not settled" in the tally (never counted as sent).
    await asyncio.gather(*(one(pool, message) for message in messages))
    await pool.aclose()


def _batch(args: argparse.Namespace, tally: Tally, messages: list[bytes],
           options: dict[str, Any], envelope: dict[str, Any]) -> None:
    show_progress = not (args.quiet or args.json) and stderr_console().is_terminal
    if not show_progress:
        asyncio.run(_send_all(options, messages, envelope, args.connections, tally,
                              lambda: None))
        return
    from rich.progress import Progress

    with Progress(console=stderr_console(), transient=True) as progress:
        task = progress.add_task("sending", total=len(messages))
        asyncio.run(_send_all(options, messages, envelope, args.connections, tally,
                              lambda: progress.advance(task)))


def _report(args: argparse.Namespace, tally: Tally) -> int:
    if args.json:
        print_json(tally.to_dict())
    else:
        counts = tally.to_dict()
        stdout_console().print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in
                                         counts.items() if k != "interrupted"), markup=False)
    if tally.interrupted:
        diagnose("send-many", f"interrupted (Ctrl-C): {tally.total - tally.settled} of"
                              f" {tally.total} messages not sent or with an unknown status")
    if tally.status_unknown:
        diagnose("send-many", f"{tally.status_unknown} message(s) MAY HAVE BEEN DELIVERED:"
                              " the server did not confirm them; check before resending")
    if tally.first_error is not None:
        diagnose("send-many", f"first failure: {tally.first_error}")
    return tally.exit_code()


def run(args: argparse.Namespace) -> int:
    """Send the batch; see the exit-status table in ``--help``."""
    options, account = client_options(args)
    sender = idna_address(args.sender, "--from") if args.sender else None
    recipients = [idna_address(r, "--to") for r in args.to]
    messages = load_messages(args.messages)
    if not messages:
        raise UsageError(f"--messages {args.messages}: no messages found", field="--messages")
    envelope = {"sender": sender or (account.sender if account else None),
                "recipients": recipients or None}
    tally = Tally(total=len(messages))
    try:
        _batch(args, tally, messages, options, envelope)
    except KeyboardInterrupt:
        tally.interrupted = True
    return _report(args, tally)
