"""A hostile, scriptable SMTP server for cdomail's security tests, with its certificates.

Import from here: ``from tests._server import ScriptedServer, Script, Reply, ...``.
"""

from __future__ import annotations

from .certs import CERT_KINDS, CertificateSet, make_certificate_set
from .record import Line, SessionRecord, decode_data_body, split_data_stream
from .script import (
    Close,
    Endless,
    Handshake,
    Reply,
    Script,
    Silence,
    Step,
    Steps,
    Then,
    TLSSetup,
    ehlo_reply,
)
from .server import ScriptedServer

__all__ = [
    "CERT_KINDS",
    "CertificateSet",
    "Close",
    "Endless",
    "Handshake",
    "Line",
    "Reply",
    "Script",
    "ScriptedServer",
    "SessionRecord",
    "Silence",
    "Step",
    "Steps",
    "TLSSetup",
    "Then",
    "decode_data_body",
    "ehlo_reply",
    "make_certificate_set",
    "split_data_stream",
]
