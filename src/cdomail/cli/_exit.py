"""Exit codes: ``sysexits.h`` where it has a name for the situation, then cdomail's own.

The ONE mapping from the exception tree to an exit status, shared by every subcommand.
sysexits.h stops at 78, so the three outcomes it cannot express (a TLS/certificate
failure, a partial delivery, an unknown status) take 79-81: scripts must be able to tell
"not encrypted as demanded" from "try again later", and "some recipients have it" or
"may have been delivered" from a clean failure, because retrying those would duplicate mail.
"""

from __future__ import annotations

import socket
from enum import IntEnum

from .._extras import MissingExtra
from ..errors import (
    AuthenticationFailed,
    AuthenticationRefusedLocally,
    CdoMailError,
    ConfigurationError,
    ConnectError,
    InputError,
    RecipientRefused,
    RecipientsRefused,
    RemoteProtocolError,
    ReplyError,
    StatusUnknown,
    TimeoutError,
    TLSError,
    TransportError,
)

__all__ = ["EPILOG", "ExitCode", "UnreadableInput", "UsageError", "exit_code_for"]


class ExitCode(IntEnum):
    """Every status a ``cdomail`` command can exit with."""

    OK = 0
    #: A negative answer that is not an error: probe found no TLS port, explain says plaintext.
    NEGATIVE = 1
    USAGE = 64        # EX_USAGE: bad or conflicting command-line arguments
    DATA = 65         # EX_DATAERR: the message, an address, a header or a body is invalid
    NO_INPUT = 66     # EX_NOINPUT: an input file is missing, unreadable or a directory
    NO_USER = 67      # EX_NOUSER: every recipient was refused
    NO_HOST = 68      # EX_NOHOST: the server's name does not resolve (DNS failure)
    UNAVAILABLE = 69  # EX_UNAVAILABLE: connection refused, or a permanent (5xx) refusal
    SOFTWARE = 70     # EX_SOFTWARE: a bug in cdomail (please report it, with --debug)
    IO_ERROR = 74     # EX_IOERR: our output could not be written (e.g. a closed pipe)
    TEMPORARY = 75    # EX_TEMPFAIL: timeout, disconnect or 4xx: retrying later may work
    PROTOCOL = 76     # EX_PROTOCOL: the server broke the SMTP protocol
    AUTH = 77         # EX_NOPERM: authentication failed or was refused locally
    CONFIG = 78       # EX_CONFIG: the accounts file or a TLS file (--cafile ...) is unusable
    TLS = 79          # TLS could not be established as demanded, or the certificate failed
    PARTIAL = 80      # some recipients accepted the message, others refused it
    STATUS_UNKNOWN = 81  # no final reply after the message: it may have been delivered
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


EPILOG = """\
exit status:
  0   success                            74  output closed early (broken pipe)
  1   negative answer (probe, explain)   75  temporary failure or timeout: retry later
  64  usage error                        76  the server broke the SMTP protocol
  65  invalid message or input data      77  authentication failed or refused
  66  input file missing or unreadable   78  accounts file or TLS file unusable
  67  every recipient refused            79  TLS or certificate failure
  68  host name does not resolve (DNS)   80  partial delivery: some recipients refused
  69  service unavailable (refused, 5xx) 81  status unknown: may have been delivered
  70  internal error (a bug)             130 interrupted (Ctrl-C)
"""


class UsageError(InputError):
    """Command-line arguments that are wrong or contradict each other."""


class UnreadableInput(InputError):
    """An input file (message, body, attachment) cannot be read."""


# Most specific first is not needed: the lookup walks each exception's MRO.
_BY_CLASS: dict[type[BaseException], ExitCode] = {
    UsageError: ExitCode.USAGE,
    MissingExtra: ExitCode.UNAVAILABLE,  # a part of cdomail that is not installed
    UnreadableInput: ExitCode.NO_INPUT,
    ConfigurationError: ExitCode.CONFIG,
    InputError: ExitCode.DATA,
    RecipientsRefused: ExitCode.NO_USER,
    StatusUnknown: ExitCode.STATUS_UNKNOWN,
    TimeoutError: ExitCode.TEMPORARY,
    TLSError: ExitCode.TLS,
    AuthenticationFailed: ExitCode.AUTH,
    AuthenticationRefusedLocally: ExitCode.AUTH,
    RemoteProtocolError: ExitCode.PROTOCOL,
    ConnectError: ExitCode.UNAVAILABLE,
    TransportError: ExitCode.TEMPORARY,
    ReplyError: ExitCode.UNAVAILABLE,
    CdoMailError: ExitCode.SOFTWARE,
}


def _is_dns_failure(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return True
        cause = cause.__cause__
    return False


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit status that ``error`` stands for."""
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, ConnectError) and _is_dns_failure(error):
        return ExitCode.NO_HOST
    if isinstance(error, ReplyError | RecipientRefused) and error.is_transient:
        return ExitCode.TEMPORARY
    for cls in type(error).__mro__:
        if cls in _BY_CLASS:
            return _BY_CLASS[cls]
    return ExitCode.SOFTWARE
