"""cdomail: SMTP sending that tells the truth about encryption, and a faithful CDO.

The public API lives here: the clients, the TLS modes, results and errors.
``cdomail.protocol`` is the sans-IO core; ``cdomail.cdo`` the CDO port;
``cdomail.lab`` the local test servers.
"""

from __future__ import annotations

import sys
from typing import Any

from . import log_handler as logging
from ._async.client import AsyncSMTPClient
from ._sync.client import SMTPClient
from .batch import CompactResult, partial_results
from .errors import (
    AuthenticationFailed,
    AuthenticationRefusedLocally,
    CdoMailError,
    CertificateVerifyFailed,
    ConfigurationError,
    ConnectError,
    ConnectTimeout,
    DataRefused,
    FingerprintMismatch,
    InputError,
    ProtocolError,
    RecipientRefused,
    RecipientsRefused,
    ReplyError,
    SenderRefused,
    SendInterrupted,
    ServerDisconnected,
    ServiceClosing,
    StatusUnknown,
    TimeoutError,
    TLSError,
    TLSHandshakeError,
    TLSRequired,
    UnexpectedReply,
)
from .message import MessageInput, OutgoingMessage
from .mime import Attachment, StreamedMessage
from .pool import AsyncPool, Pool
from .process_pool import ProcessPool
from .protocol import Reply, Secret
from .result import SendResult
from .tls import TLSInfo, TLSMode
from .transcript import Transcript

__version__ = "0.1.0"

# ``cdomail.logging.SMTPHandler``: the module is log_handler.py, because a file named
# logging.py inside the package could shadow the standard library's logging wherever the
# package directory itself ends up on sys.path. This alias makes ``import cdomail.logging``
# and ``from cdomail.logging import SMTPHandler`` work; it is left out of __all__ so that
# ``from cdomail import *`` cannot replace a caller's ``logging``.
sys.modules.setdefault(f"{__name__}.logging", logging)


def send(
    message: MessageInput,
    *,
    host: str,
    port: int | None = None,
    sender: str | None = None,
    recipients: list[str] | None = None,
    **options: Any,
) -> SendResult:
    """Connect, send one message, and close: the one-shot convenience.

    ``options`` are the :class:`SMTPClient` keywords (``tls``, ``username``,
    ``password``, ``cafile``, ...).
    """
    with SMTPClient(host, port, **options) as client:
        return client.send(message, sender=sender, recipients=recipients)


__all__ = [
    "AsyncPool",
    "AsyncSMTPClient",
    "Attachment",
    "AuthenticationFailed",
    "AuthenticationRefusedLocally",
    "CdoMailError",
    "CertificateVerifyFailed",
    "CompactResult",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "DataRefused",
    "FingerprintMismatch",
    "InputError",
    "OutgoingMessage",
    "Pool",
    "ProcessPool",
    "ProtocolError",
    "RecipientRefused",
    "RecipientsRefused",
    "Reply",
    "ReplyError",
    "SMTPClient",
    "Secret",
    "SendInterrupted",
    "SendResult",
    "SenderRefused",
    "ServerDisconnected",
    "ServiceClosing",
    "StatusUnknown",
    "StreamedMessage",
    "TLSError",
    "TLSHandshakeError",
    "TLSInfo",
    "TLSMode",
    "TLSRequired",
    "TimeoutError",
    "Transcript",
    "UnexpectedReply",
    "partial_results",
    "send",
]
