"""CDO's errors: one :class:`CdoError` class carrying the HRESULT a CDO user would see.

VBA shows an HRESULT as a signed 32-bit ``Err.Number`` (0x80040213 is -2147220973), so every
error carries both forms, the ``CDO_E_...`` name and the documented text with the server's reply
filled in. The cdomail error that caused it is chained (``raise ... from exc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from cdomail.errors import CdoMailError, printable

__all__ = [
    "CDO_E_AUTHENTICATION_FAILURE",
    "CDO_E_CONNECTION_DROPPED",
    "CDO_E_FAILED_TO_CONNECT",
    "CDO_E_FROM_MISSING",
    "CDO_E_INVALID_CHARSET",
    "CDO_E_INVALID_SEND_OPTION",
    "CDO_E_LOGON_FAILURE",
    "CDO_E_NO_PICKUP_DIR",
    "CDO_E_RECIPIENTS_REJECTED",
    "CDO_E_RECIPIENT_MISSING",
    "CDO_E_SENDER_REJECTED",
    "CDO_E_SMTP_SEND_FAILED",
    "CDO_E_SMTP_SERVER_REQUIRED",
    "CdoCompatibilityWarning",
    "CdoError",
    "ErrorCode",
    "signed_hresult",
]


@dataclass(frozen=True)
class ErrorCode:
    """One row of CDO's error table: HRESULT, symbolic name and documented text."""

    hresult: int
    name: str
    text: str


CDO_E_SMTP_SERVER_REQUIRED: Final = ErrorCode(
    0x8004020A,
    "CDO_E_SMTP_SERVER_REQUIRED",
    "The SMTP server name is required, and was not found in the configuration source.",
)
CDO_E_RECIPIENT_MISSING: Final = ErrorCode(
    0x8004020C,
    "CDO_E_RECIPIENT_MISSING",
    "At least one recipient is required, but none were found.",
)
CDO_E_FROM_MISSING: Final = ErrorCode(
    0x8004020D,
    "CDO_E_FROM_MISSING",
    "At least one of the From or Sender fields is required, and neither was found.",
)
CDO_E_SENDER_REJECTED: Final = ErrorCode(
    0x8004020E,
    "CDO_E_SENDER_REJECTED",
    "The server rejected the sender address. The server response was: %1",
)
CDO_E_RECIPIENTS_REJECTED: Final = ErrorCode(
    0x8004020F,
    "CDO_E_RECIPIENTS_REJECTED",
    "The server rejected one or more recipient addresses. The server response was: %1",
)
CDO_E_SMTP_SEND_FAILED: Final = ErrorCode(
    0x80040211,
    "CDO_E_SMTP_SEND_FAILED",
    "The message could not be sent to the SMTP server. The transport error code was %2. "
    "The server response was %1",
)
CDO_E_CONNECTION_DROPPED: Final = ErrorCode(
    0x80040212,
    "CDO_E_CONNECTION_DROPPED",
    "The transport lost its connection to the server.",
)
CDO_E_FAILED_TO_CONNECT: Final = ErrorCode(
    0x80040213,
    "CDO_E_FAILED_TO_CONNECT",
    "The transport failed to connect to the server.",
)
CDO_E_AUTHENTICATION_FAILURE: Final = ErrorCode(
    0x80040215,
    "CDO_E_AUTHENTICATION_FAILURE",
    "The server rejected the logon attempt due to authentication failure. "
    "The server response was: %1",
)
CDO_E_LOGON_FAILURE: Final = ErrorCode(
    0x80040217,
    "CDO_E_LOGON_FAILURE",
    "The transport was unable to log on to the server.",
)
CDO_E_INVALID_SEND_OPTION: Final = ErrorCode(
    0x80040220,
    "CDO_E_INVALID_SEND_OPTION",
    'The "SendUsing" configuration value is invalid.',
)
CDO_E_NO_PICKUP_DIR: Final = ErrorCode(
    0x80040222,
    "CDO_E_NO_PICKUP_DIR",
    "The pickup directory path is required and was not specified.",
)
CDO_E_INVALID_CHARSET: Final = ErrorCode(
    0x8004022B,
    "CDO_E_INVALID_CHARSET",
    "The requested character set is not installed on the computer.",
)

#: Every documented error, keyed by HRESULT.
ERROR_CODES: Final = {
    code.hresult: code
    for code in (
        CDO_E_SMTP_SERVER_REQUIRED, CDO_E_RECIPIENT_MISSING, CDO_E_FROM_MISSING,
        CDO_E_SENDER_REJECTED, CDO_E_RECIPIENTS_REJECTED, CDO_E_SMTP_SEND_FAILED,
        CDO_E_CONNECTION_DROPPED, CDO_E_FAILED_TO_CONNECT, CDO_E_AUTHENTICATION_FAILURE,
        CDO_E_LOGON_FAILURE, CDO_E_INVALID_SEND_OPTION, CDO_E_NO_PICKUP_DIR,
        CDO_E_INVALID_CHARSET,
    )
}


def signed_hresult(hresult: int) -> int:
    """Return the HRESULT as VBA's ``Err.Number`` shows it (a signed 32-bit integer)."""
    hresult &= 0xFFFFFFFF
    return hresult - 0x1_0000_0000 if hresult & 0x8000_0000 else hresult


class CdoError(CdoMailError):
    """An error exactly as CDO raises it from ``Send`` (same HRESULT, same text).

    Attributes:
        hresult: the unsigned HRESULT, e.g. ``0x80040213``.
        number: the signed value VBA's ``Err.Number`` shows, e.g. ``-2147220973``.
        name: the symbolic name, e.g. ``"CDO_E_FAILED_TO_CONNECT"``.
        description: the documented text with ``%1`` (server response) and ``%2``
            (transport error code) filled in, as VBA's ``Err.Description``.
        server_response: the server's reply that caused it, if any.
        detail: what cdomail knows beyond CDO's text (plain words; never a secret).
        note: a sentence appended to CDO's text in ``description``, for what a caller must
            know before sending again (e.g. "the server may have accepted it").
    """

    def __init__(
        self,
        code: ErrorCode,
        /,
        *,
        server_response: str = "",
        transport_code: int | str = "",
        detail: str = "",
        note: str = "",
    ) -> None:
        self.code = code
        self.hresult = code.hresult
        self.number = signed_hresult(code.hresult)
        self.name = code.name
        self.server_response = printable(server_response, newlines=False)
        self.detail = detail
        #: The core's SendResult when part of the send succeeded (partial recipient refusal).
        self.send_result: Any = None
        transport = f"0x{transport_code:X}" if isinstance(transport_code, int) else transport_code
        # The server's words are escaped: Err.Description is shown to people (MsgBox, logs).
        description = code.text.replace("%2", transport or "0x0").replace(
            "%1", self.server_response
        )
        if note:
            # What CDO's fixed text cannot say and a caller must know before retrying
            # (the message may already be delivered, to everyone or to some).
            description += f" {printable(note)}"
        self.description = description
        super().__init__(self.description)

    # VBA spellings, so `Err.Number` / `Err.Description` port too.
    @property
    def Number(self) -> int:
        """Alias of :attr:`number`."""
        return self.number

    @property
    def Description(self) -> str:
        """Alias of :attr:`description`."""
        return self.description

    def __str__(self) -> str:
        text = f"0x{self.hresult:08X} {self.name}: {self.description}"
        if self.detail:
            text += f" ({self.detail})"
        return printable(text)

    def __repr__(self) -> str:
        return f"CdoError(0x{self.hresult:08X}, {self.name})"


class CdoCompatibilityWarning(UserWarning):
    """A CDO configuration does something other than what its author most likely believes."""
