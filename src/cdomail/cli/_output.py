"""Where the command line writes: results on stdout, diagnostics on stderr.

Piped output is never wrapped (a fingerprint or a message ID split over two lines cannot be
pasted), and JSON escapes every character a terminal could act on.
"""

from __future__ import annotations

import logging
import sys

from rich.console import Console

from .._escape import json_dumps
from ..errors import printable

__all__ = ["diagnose", "dumps_json", "print_json", "stderr_console", "stdout_console",
           "tame_server_log"]

# Beyond what ensure_ascii already escapes (every non-ASCII character, so C1 and the bidi
# controls too), DEL is a control character JSON leaves raw (RFC 8259 §7 escapes only C0).


class _Console(Console):
    """rich's Console, but a closed pipe reaches cdomail's handler (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError("the reader of the output went away")


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return _Console(stderr=stderr, highlight=False)
    # Not a terminal: no wrapping, no colour codes, no width guess (rich would use 80).
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, width=10_000,
                    no_color=True, color_system=None)


def stdout_console() -> Console:
    """The console for results."""
    return _console(stderr=False)


def stderr_console() -> Console:
    """The console for diagnostics and progress."""
    return _console(stderr=True)


def dumps_json(document: object) -> str:
    """``document`` as JSON text with C0, DEL, C1 and bidi controls as ``\\uXXXX`` escapes."""
    return json_dumps(document, indent=2, default=str)


def print_json(document: object) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(dumps_json(document) + "\n")
    sys.stdout.flush()


def diagnose(command: str, message: str) -> None:
    """One line on stderr: ``cdomail COMMAND: message`` (server text escaped)."""
    prefix = f"cdomail {command}" if command else "cdomail"
    sys.stderr.write(f"{prefix}: {printable(message, newlines=False)}\n")
    sys.stderr.flush()


class _ServerLogLine(logging.Handler):
    """aiosmtpd's warnings as one escaped line each, without the bytes a client sent.

    aiosmtpd logs an unknown command with its raw bytes: a TLS ClientHello sent to a
    plaintext listener would reach the terminal as binary noise (and control characters).
    """

    def __init__(self, command: str, expect_not_smtp: bool) -> None:
        super().__init__(logging.WARNING)
        self.command = command
        self.expect_not_smtp = expect_not_smtp

    def emit(self, record: logging.LogRecord) -> None:
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
        if "unrecognised" in str(record.msg):
            if self.expect_not_smtp:
                return
            text = (f"{peer} sent a line that is not SMTP (for example a TLS ClientHello to a"
                    " plaintext port)")
        else:
            text = record.getMessage()[:200]
        diagnose(self.command, text)


def tame_server_log(command: str, *, expect_not_smtp: bool = False) -> None:
    """Route the lab's server warnings through :class:`_ServerLogLine` (stderr, escaped).

    ``expect_not_smtp``: the caller sends TLS to plaintext ports on purpose (the demo), so
    those lines are dropped rather than summarised.
    """
    server_log = logging.getLogger("mail.log")
    for handler in [h for h in server_log.handlers if isinstance(h, _ServerLogLine)]:
        server_log.removeHandler(handler)
    server_log.addHandler(_ServerLogLine(command, expect_not_smtp))
    server_log.propagate = False
