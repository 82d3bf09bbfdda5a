"""SMTP commands as values. Each knows its wire form and validates its arguments.

Validation here is the last line of defence against command injection
(CPython bpo-43124, aiosmtplib GHSA-v3q9-hj7j-63hq): no argument may carry CR,
LF, NUL or any other C0 control or DEL, so no caller input can ever end a
command early and start another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import LocalProtocolError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OPTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(=[\x21-\x3c\x3e-\x7e\x80-\U0010ffff]+)?")
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")


def is_esmtp_parameter(text: str) -> bool:
    """``KEYWORD`` or ``KEYWORD=value`` (RFC 5321 §4.1.2 esmtp-param), nothing else."""
    return _OPTION.fullmatch(text) is not None


def check_argument(value: str, what: str) -> str:
    """Raise :class:`LocalProtocolError` when ``value`` contains a control character."""
    if _CONTROL.search(value):
        raise LocalProtocolError(f"{what} contains a control character (CR, LF, NUL or C0)")
    return value


_NOT_IN_PATH = re.compile(r"[\x00-\x1f\x7f<> ]")


def _check_path(address: str, what: str) -> str:
    if _NOT_IN_PATH.search(address):  # one scan for the common, clean case
        check_argument(address, what)
        raise LocalProtocolError(f"{what} contains '<', '>' or a space: {address!r}")
    return address


def _check_options(options: tuple[str, ...], what: str) -> None:
    for option in options:
        # The parameter syntax admits no control character, so one match settles the
        # common case; check_argument then only words the error.
        if not is_esmtp_parameter(option):
            check_argument(option, what)
            raise LocalProtocolError(f"{what} is not an ESMTP parameter: {option!r}")


def _utf8(text: str) -> bytes:
    # Non-ASCII only reaches the wire under SMTPUTF8 (RFC 6531); the driver checks
    # that the server offered it before building such a command.
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Command:
    """Base of all commands. ``verb`` names it; ``to_bytes()`` is its wire form."""

    verb: ClassVar[str] = ""
    #: RFC 2920 §3.1 (and RFC 3207, RFC 4954): the client must wait for the reply
    #: to this command before sending anything else.
    ends_group: ClassVar[bool] = False
    #: The command line carries a secret (AUTH initial response, SASL answers).
    secret: ClassVar[bool] = False
    #: Its reply can change the connection's state (EHLO, STARTTLS, AUTH, DATA, QUIT).
    reply_moves_state: ClassVar[bool] = False

    def to_bytes(self) -> bytes:
        """The command line, CRLF included."""
        return self.verb.encode("ascii") + b"\r\n"

    def redacted(self) -> bytes:
        """The command line as a transcript may show it."""
        return self.to_bytes()


@dataclass(frozen=True, slots=True)
class Ehlo(Command):
    """EHLO with the client's name (RFC 5321 §4.1.1.1)."""

    name: str
    verb: ClassVar[str] = "EHLO"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_argument(self.name, "EHLO name")
        if not self.name or " " in self.name:
            raise LocalProtocolError(f"invalid EHLO name: {self.name!r}")

    def to_bytes(self) -> bytes:
        return f"{self.verb} {self.name}\r\n".encode("ascii", "strict")


@dataclass(frozen=True, slots=True)
class Helo(Ehlo):
    """HELO, the pre-ESMTP greeting; only the driver's policy decides to use it."""

    verb: ClassVar[str] = "HELO"


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    """STARTTLS (RFC 3207)."""

    verb: ClassVar[str] = "STARTTLS"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Auth(Command):
    """AUTH mechanism [initial-response] (RFC 4954). The response is base64 text."""

    mechanism: str
    initial_response: str | None = field(default=None, repr=False)
    verb: ClassVar[str] = "AUTH"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True
    secret: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not _MECHANISM.fullmatch(self.mechanism):
            raise LocalProtocolError(f"invalid SASL mechanism name: {self.mechanism!r}")
        if self.initial_response is not None:
            check_argument(self.initial_response, "AUTH initial response")

    def to_bytes(self) -> bytes:
        line = f"AUTH {self.mechanism}"
        if self.initial_response is not None:
            # RFC 4954 §4: an empty initial response is sent as "=".
            line += " " + (self.initial_response or "=")
        return line.encode("ascii") + b"\r\n"

    def redacted(self) -> bytes:
        suffix = b" ***" if self.initial_response is not None else b""
        return b"AUTH " + self.mechanism.encode("ascii") + suffix + b"\r\n"


@dataclass(frozen=True, slots=True)
class AuthResponse(Command):
    """One line of a SASL exchange after a 334 challenge; ``*`` cancels (RFC 4954 §4)."""

    data: str = field(repr=False)
    verb: ClassVar[str] = "AUTH-RESPONSE"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True
    secret: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_argument(self.data, "SASL response")

    def to_bytes(self) -> bytes:
        return self.data.encode("ascii") + b"\r\n"

    def redacted(self) -> bytes:
        return b"***\r\n"


@dataclass(frozen=True, slots=True)
class MailFrom(Command):
    """MAIL FROM:<reverse-path> [parameters] (RFC 5321 §4.1.1.2)."""

    address: str
    options: tuple[str, ...] = ()
    verb: ClassVar[str] = "MAIL"

    def __post_init__(self) -> None:
        _check_path(self.address, "sender address")
        _check_options(self.options, "MAIL parameter")

    def to_bytes(self) -> bytes:
        tail = " " + " ".join(self.options) if self.options else ""
        return _utf8(f"MAIL FROM:<{self.address}>{tail}\r\n")


@dataclass(frozen=True, slots=True)
class RcptTo(Command):
    """RCPT TO:<forward-path> [parameters] (RFC 5321 §4.1.1.3)."""

    address: str
    options: tuple[str, ...] = ()
    verb: ClassVar[str] = "RCPT"

    def __post_init__(self) -> None:
        _check_path(self.address, "recipient address")
        if not self.address:
            raise LocalProtocolError("recipient address is empty")
        _check_options(self.options, "RCPT parameter")

    def to_bytes(self) -> bytes:
        tail = " " + " ".join(self.options) if self.options else ""
        return _utf8(f"RCPT TO:<{self.address}>{tail}\r\n")


@dataclass(frozen=True, slots=True)
class Data(Command):
    """DATA (RFC 5321 §4.1.1.4); content follows only after a 354."""

    verb: ClassVar[str] = "DATA"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class EndOfData(Command):
    """The content's terminating ``CRLF.CRLF``; its reply is the message's final verdict."""

    verb: ClassVar[str] = "."

    def to_bytes(self) -> bytes:
        return b".\r\n"


@dataclass(frozen=True, slots=True)
class Bdat(Command):
    """BDAT size [LAST] (RFC 3030 §2); the chunk's octets follow the command at once."""

    size: int
    last: bool = False
    verb: ClassVar[str] = "BDAT"

    def __post_init__(self) -> None:
        if self.size < 0:
            raise LocalProtocolError("BDAT size must not be negative")

    def to_bytes(self) -> bytes:
        return f"BDAT {self.size}{' LAST' if self.last else ''}\r\n".encode("ascii")


@dataclass(frozen=True, slots=True)
class Rset(Command):
    """RSET: abandon the current transaction (RFC 5321 §4.1.1.5)."""

    verb: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    """NOOP."""

    verb: ClassVar[str] = "NOOP"
    ends_group: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Quit(Command):
    """QUIT (RFC 5321 §4.1.1.10)."""

    verb: ClassVar[str] = "QUIT"
    reply_moves_state: ClassVar[bool] = True
    ends_group: ClassVar[bool] = True
