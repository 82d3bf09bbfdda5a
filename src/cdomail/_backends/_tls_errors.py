"""TLS failures in cdomail's words, at the backend: drivers see no ``ssl`` exception."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from ..tls import TLSMode, diagnose_handshake


@dataclass(frozen=True, slots=True)
class TLSPeer:
    """The server as the user named it (not a ``connect_to`` address), for error messages,
    and how the handshake came about (implicit TLS or STARTTLS)."""

    host: str
    port: int
    mode: TLSMode


def handshake_failure(exc: ssl.SSLError, peer: TLSPeer | None) -> BaseException:
    """The error to raise for ``exc``: diagnosed for ``peer``; raw without one (the probe
    records the ``ssl`` error itself)."""
    if peer is None:
        return exc
    return diagnose_handshake(exc, host=peer.host, port=peer.port, mode=peer.mode)
