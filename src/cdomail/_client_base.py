"""What both clients know without I/O: their configuration, the session's protocol state,
its TLS facts, the transcript, and how a batch plan is set up for them.

``AsyncSMTPClient`` (``_async/client.py``) and the generated ``SMTPClient`` derive from
:class:`ClientBase` and add the I/O: they open, write, read, upgrade to TLS and close.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

from ._backends._tls_errors import TLSPeer
from .batch import BatchResult
from .errors import InputError, LocalProtocolError, RemoteProtocolError
from .message import PreparedMessage
from .protocol import (
    ClientConnection,
    ClientState,
    Command,
    ConnectionClosed,
    Extensions,
    Quit,
    Reply,
)
from .result import SendResult
from .session import ClientConfig, Clock, hide_secrets
from .session._batch import shown_reply
from .session._batch_plan import BatchPlan, BatchSteps
from .tls import TLSInfo, TLSMode, check_pin, shared_ssl_context, tls_info
from .transcript import Transcript

#: A QUIT here would be read as message text (mid-content) or cannot be sent at all.
_NO_QUIT_STATES = (ClientState.CONTENT, ClientState.BDAT, ClientState.TLS_HANDSHAKE,
                   ClientState.CLOSED)


class ClientBase:
    """The state of a client and every answer it gives without touching the network."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        transcript: Transcript | None = None,
        **options: Any,
    ) -> None:
        options = hide_secrets(options)  # before anything can raise with these locals
        self.config = ClientConfig.build(host, port, **options)
        self.transcript = transcript
        self._conn: ClientConnection | None = None
        self._clock = Clock(self.config)
        #: The EHLO name: the one given, else this machine's (looked up in ``connect``).
        self._ehlo_name = self.config.local_hostname or ""
        self._tls: TLSInfo | None = None
        #: A BDAT transaction went through: later small ones stream (the batch plan's rule).
        self._bdat_trusted = False

    def __repr__(self) -> str:
        # getattr: a traceback printed with its locals shows a client whose __init__ raised.
        if getattr(self, "config", None) is None:
            return f"<{type(self).__name__} not configured>"
        state = "connected" if getattr(self, "_conn", None) is not None else "not connected"
        return (
            f"<{type(self).__name__} {self.config.host}:{self.config.port}"
            f" tls={self.config.mode.value} {state}>"
        )

    @property
    def extensions(self) -> Extensions:
        """Extensions from the last EHLO (after STARTTLS: the post-TLS list only)."""
        if self._conn is None or self._conn.extensions is None:
            raise LocalProtocolError("not connected")
        return self._conn.extensions

    @property
    def tls_info(self) -> TLSInfo | None:
        """TLS facts of the current connection, ``None`` when it is plaintext."""
        return self._tls

    @property
    def is_connected(self) -> bool:
        """Whether a session is open."""
        return self._conn is not None

    @property
    def _peer(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _require_conn(self) -> ClientConnection:
        if self._conn is None:
            raise LocalProtocolError("not connected")
        return self._conn

    def _ssl_context(self) -> ssl.SSLContext:
        """The caller's context, else one shared by clients with the same TLS settings."""
        return self.config.ssl_context or shared_ssl_context(self.config.tls)

    def _tls_peer(self, mode: TLSMode) -> TLSPeer:
        return TLSPeer(self.config.host, self.config.port, mode)

    def _encode(self, command: Command) -> bytes:
        """The bytes for ``command``, queued in the core (and shown in the transcript)."""
        conn = self._require_conn()
        data = conn.send(command)
        if self.transcript is not None:
            self.transcript.client(command.redacted(), tls=conn.tls_active)
        return data

    def _quit_bytes(self) -> bytes | None:
        """QUIT's bytes, or None when the session cannot take one now (not connected, a
        reply pending, mid-content, mid-handshake, closed)."""
        conn = self._conn
        if conn is None or conn.state in _NO_QUIT_STATES or conn.pending:
            return None
        return self._encode(Quit())

    def _event(self, text: str, *, tls: bool = False) -> None:
        if self.transcript is not None:
            self.transcript.event(text, tls=tls)

    def _reply_from(self, event: Reply | ConnectionClosed) -> Reply:
        """The reply (shown in the transcript), or the error for a closed connection."""
        return shown_reply(event, self.transcript, self._require_conn(), self._peer)

    def _batch_plan(
        self,
        items: Iterator[PreparedMessage | InputError],
        on_settled: Callable[[SendResult], object] | None,
        shrink: Callable[[SendResult], BatchResult] | None,
    ) -> BatchPlan:
        return BatchPlan(items, self.config.effective_mode.value, self._peer,
                         on_settled=on_settled, shrink=shrink)

    def _batch_steps(self, plan: BatchPlan) -> BatchSteps[list[SendResult]]:
        """The batch plan's steps over the session just opened."""
        return plan.steps(self._require_conn(), self.extensions, self._tls,
                          chunking=self.config.chunking, transcript=self.transcript,
                          bdat_trusted=self._bdat_trusted)

    def _tls_established(self, ssl_object: ssl.SSLObject | ssl.SSLSocket | None,
                         mode: TLSMode) -> TLSInfo:
        """The TLS facts of a completed handshake (a pinned fingerprint checked first)."""
        if ssl_object is None:
            raise RemoteProtocolError("TLS handshake completed without a TLS session")
        check_pin(self.config.tls, ssl_object.getpeercert(binary_form=True))
        info = tls_info(ssl_object, mode, self.config.tls)
        self._event(f"TLS established: {info.version} {info.cipher}"
                    f" verified={info.verified_by}", tls=True)
        return info
