"""A TCP forwarder between a client under test and a real server on loopback.

Two uses, one piece of code:

- ``held=True``: every connection waits until the test sets ``opened``. The client has
  connected (``connected`` is set) but the server has not seen a byte: the client is stuck on
  the network exactly as with a slow server, and the test can check what the caller did
  meanwhile without any timing assumption (the logging handler's tests).
- ``connections``: when each connection opened and ended, as seen at the server's door. The
  relay cluster tests count the relays' upstream connections here rather than from the lab's
  session records: a relay that aborts a pipelined batch (its slot's lease ran out) leaves
  commands in the lab's input buffer, and over TLS the lab's asyncio transport keeps the
  half-closed session open (its replies dropped with "SSL connection is closed") until
  aiosmtpd has worked through them, a reply delay each: seconds after the relay's connection
  was gone. TLS passes through the forwarder untouched, end to end.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["ForwardedConnection", "Forwarder", "forwarder"]


@dataclass
class ForwardedConnection:
    """When the client connected, and when the connection ended (the client's close or
    reset, or the server's: after either, nothing more passes)."""

    opened_at: float
    closed_at: float | None = None


class Forwarder:
    """Forward ``host:port`` (loopback) to *target*; see the module docstring."""

    def __init__(self, target: tuple[str, int], *, held: bool = False) -> None:
        self.target = target
        self.opened = threading.Event()
        if not held:
            self.opened.set()
        self.connected = threading.Event()
        self.connections: list[ForwardedConnection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open_connections(self) -> int:
        return sum(1 for connection in list(self.connections) if connection.closed_at is None)

    def wait_closed(self, timeout: float) -> bool:
        """Whether every connection so far has ended within *timeout*."""
        deadline = time.monotonic() + timeout
        while self.open_connections():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed (the shutdown in close() wakes a blocked accept)
            connection = ForwardedConnection(time.monotonic())
            with self._lock:
                self.connections.append(connection)
                self._sockets.append(client)
            self.connected.set()
            self._spawn(self._forward, client, connection)

    def _forward(self, client: socket.socket, connection: ForwardedConnection) -> None:
        self.opened.wait()
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            connection.closed_at = time.monotonic()
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        with client, upstream:
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            connection.closed_at = time.monotonic()
            back.join(10)

    def close(self) -> None:
        self.opened.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:  # a connection neither side ended: end it now
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(10)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until one side ends, then end both: a peer that has gone reads nothing more.

    SHUT_RDWR (not SHUT_WR) also wakes the other direction's blocked recv(), so a server
    waiting for a TLS close_notify that can no longer come sees the connection end.
    """
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for sock in (sink, source):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def forwarder(target: tuple[str, int], *, held: bool = False) -> Iterator[Forwarder]:
    running = Forwarder(target, held=held)
    running._spawn(running._accept)
    try:
        yield running
    finally:
        running.close()
