"""The tests' one hand-written SMTP server on loopback: scripted, hookable, able to misbehave.

Plain sockets and one thread per session, so the server can send any bytes at any moment
(aiosmtpd could not: it always speaks correct SMTP). The security suite, the CDO error rows and
the probe's odd ports (silent, not SMTP, bad certificates) all run on it. Typical use::

    script = Script(replies={"EHLO": b"250-x\\r\\n250 AUTH PLAIN\\r\\n"})
    with ScriptedServer(script) as server:
        ...  # connect a client to server.host, server.port
        server.settle()
        assert ("MAIL", False) not in server.commands()

:meth:`ScriptedServer.stop` joins every thread it started and raises if one is still alive, so a
test cannot leak threads.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType

from .certs import CertificateSet
from .record import Line, SessionRecord
from .script import Script, TLSSetup
from .session import POLL_SECONDS, Session

JOIN_TIMEOUT = 5.0


class ScriptedServer:
    """A threaded SMTP server on 127.0.0.1 (port 0) that follows ``script`` in every session."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        certs: CertificateSet | None = None,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.script = script if script is not None else Script()
        if self.script.tls is not TLSSetup.NONE and certs is None and tls_context is None:
            raise ValueError("a TLS script needs a CertificateSet or an SSLContext")
        self.certs = certs
        self.host = "127.0.0.1"
        self.port = 0
        self.sessions: list[SessionRecord] = []
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        #: ``tls_context`` replaces the script's certificate (no SNI recording then).
        self._context: ssl.SSLContext | None = tls_context
        #: The SNI name of every TLS ClientHello (None when the client sent no SNI).
        self.sni_names: list[str | None] = []

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Bind, listen and start accepting; returns self."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "hostile-accept")
        return self

    def stop(self) -> None:
        """Stop accepting, end every session, join every thread (raise if one will not end)."""
        self._stop.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        alive = []
        for thread in list(self._threads):
            thread.join(JOIN_TIMEOUT)
            if thread.is_alive():
                alive.append(thread.name)
        if self._listener is not None:
            self._listener.close()
        if alive:
            raise RuntimeError(f"hostile server threads did not stop: {alive}")

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener], [], [], POLL_SECONDS)
            if not readable:
                continue
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            record = SessionRecord()
            with self._lock:
                self.sessions.append(record)
                self._sockets.append(conn)
            session = Session(conn, self.script, record, self._stop, self._tls_context,
                              number=len(self.sessions))
            self._spawn(session.run, f"hostile-session-{len(self.sessions)}")

    def _tls_context(self) -> ssl.SSLContext:
        if self._context is None:
            assert self.certs is not None
            context = self.certs.server_context(self.script.certificate)

            def remember_sni(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
                self.sni_names.append(name)

            context.sni_callback = remember_sni
            self._context = context
        return self._context

    # --- the record --------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to connect to."""
        return self.host, self.port

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted."""
        return len(self.sessions)

    def settle(self, timeout: float = 3.0) -> bool:
        """Wait until every session that can end has ended; True if they all did in time.

        Call it after the client closed, before asserting on the record. A False result means
        the client left a connection open (stalled sessions, which never end, are skipped).
        """
        deadline = time.monotonic() + timeout
        for record in list(self.sessions):
            if record.stalled:
                continue
            if not record.finished.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    @property
    def lines(self) -> list[Line]:
        """Every received unit of every session, in order."""
        return [line for record in self.sessions for line in record.lines]

    @property
    def received(self) -> list[tuple[bool, bytes]]:
        """(tls, bytes) per received line, over all sessions."""
        return [(line.tls, line.data) for line in self.lines]

    @property
    def raw(self) -> bytes:
        """All bytes the server read, concatenated (plaintext and decrypted alike)."""
        return b"".join(line.data for line in self.lines)

    def commands(self) -> list[tuple[str, bool]]:
        """(verb, tls) for every command line over all sessions."""
        return [pair for record in self.sessions for pair in record.commands()]

    @property
    def command_lines(self) -> list[str]:
        """Every command line received, over all sessions, without its line ending."""
        return [
            line.data.decode("latin-1").rstrip("\r\n")
            for line in self.lines
            if line.kind == "command"
        ]

    def verbs(self) -> list[str]:
        """Just the verbs of :meth:`commands`."""
        return [verb for verb, _ in self.commands()]

    @property
    def bodies(self) -> list[bytes]:
        """Decoded message bodies (DATA un-dot-stuffed, or reassembled BDAT), all sessions."""
        return [body for record in self.sessions for body in record.bodies]

    @property
    def events(self) -> list[str]:
        """Notable moments of every session (TLS, EOF, closes, synchronisation errors)."""
        return [event for record in self.sessions for event in record.events]
