"""The sans-IO SMTP client core: bytes in, events out, no sockets.

This package must not import socket, ssl, asyncio or threading (a test checks
it), so the same state machine drives the sync and async clients, the probe
and the tests.
"""

from __future__ import annotations

from ._commands import (
    Auth,
    AuthResponse,
    Bdat,
    Command,
    Data,
    Ehlo,
    EndOfData,
    Helo,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    check_argument,
    is_esmtp_parameter,
)
from ._connection import NEED_DATA, ClientConnection, ConnectionClosed, Event
from ._data import MAX_CONTENT_LINE, CheckedContent, ContentEncoder, check_content, encode_data
from ._extensions import Extensions
from ._reply import MAX_LINE_LENGTH, MAX_REPLY_LENGTH, Reply, ReplyParser
from ._sasl import (
    MAX_CHALLENGES,
    PREFERRED_MECHANISMS,
    Authenticator,
    CramMD5,
    Login,
    Plain,
    XOAuth2,
    password_authenticator,
    sasl_dialogue,
)
from ._secret import Secret
from ._state import SEND_TRANSITIONS, ClientState

__all__ = [
    "MAX_CHALLENGES",
    "MAX_CONTENT_LINE",
    "MAX_LINE_LENGTH",
    "MAX_REPLY_LENGTH",
    "NEED_DATA",
    "PREFERRED_MECHANISMS",
    "SEND_TRANSITIONS",
    "Auth",
    "AuthResponse",
    "Authenticator",
    "Bdat",
    "CheckedContent",
    "ClientConnection",
    "ClientState",
    "Command",
    "ConnectionClosed",
    "ContentEncoder",
    "CramMD5",
    "Data",
    "Ehlo",
    "EndOfData",
    "Event",
    "Extensions",
    "Helo",
    "Login",
    "MailFrom",
    "Noop",
    "Plain",
    "Quit",
    "RcptTo",
    "Reply",
    "ReplyParser",
    "Rset",
    "Secret",
    "StartTLS",
    "XOAuth2",
    "check_argument",
    "check_content",
    "encode_data",
    "is_esmtp_parameter",
    "password_authenticator",
    "sasl_dialogue",
]
