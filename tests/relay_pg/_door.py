"""A TCP forwarder at the upstream's door: when each relay connection opened and closed.

The cluster tests check ``[delivery] concurrency`` where it matters, at the upstream. The
lab's own session records cannot say when the *relay* closed a connection: a relay that
aborts a pipelined batch (its slot's lease ran out) leaves commands in the lab's input
buffer, and over TLS the lab's asyncio transport keeps the half-closed session open (its
replies dropped with "SSL connection is closed") until aiosmtpd has worked through them,
a reply delay each: seconds after the relay's connection was gone. This forwarder sits
between the relays and the lab (TLS passes through it untouched, end to end) and notes the
moment a relay's close or reset reaches the upstream's address: that is the number of
connections the cluster holds open, which is what the limit is about.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType

__all__ = ["Door", "DoorSession"]

_CHUNK = 65536


@dataclass
class DoorSession:
    """One relay connection: when it was accepted, and when the relay closed it."""

    opened_at: float
    closed_at: float | None = None


class Door:
    """Forward ``127.0.0.1:<port>`` to *target*, recording each connection's life."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        # A close from another thread does not wake a blocked accept(): look at the flag.
        self._listener.settimeout(0.1)
        self._closing = threading.Event()
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self.sessions: list[DoorSession] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="door-accept", daemon=True)

    def __enter__(self) -> Door:
        self._acceptor.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._closing.set()
        self._acceptor.join(10)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(10)

    def open_sessions(self) -> int:
        return sum(1 for session in list(self.sessions) if session.closed_at is None)

    def wait_closed(self, timeout: float) -> bool:
        """Whether every connection the relays opened was closed within *timeout*."""
        deadline = time.monotonic() + timeout
        while self.open_sessions():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            session = DoorSession(time.monotonic())
            thread = threading.Thread(target=self._serve, args=(client, session),
                                      name="door-session", daemon=True)
            with self._lock:
                self.sessions.append(session)
                self._sockets.append(client)
                self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket, session: DoorSession) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=10)
        except OSError:
            session.closed_at = time.monotonic()
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        back = threading.Thread(target=_pump, args=(upstream, client), name="door-back",
                                daemon=True)
        back.start()
        _pump(client, upstream)
        session.closed_at = time.monotonic()  # the relay's close (or reset) arrived
        back.join(30)
        client.close()
        upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until *source* ends (closed, reset, or the door shut); then end *sink*'s input."""
    while True:
        try:
            data = source.recv(_CHUNK)
        except OSError:
            data = b""
        if not data:
            break
        try:
            sink.sendall(data)
        except OSError:
            pass  # the other side is gone: keep reading until this one ends too
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
