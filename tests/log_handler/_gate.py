"""A TCP forwarder that holds every connection until the test opens the gate.

While the gate is closed the client has connected (``connected`` is set) but the server has
not seen a byte: the sender is stuck on the network exactly as with a slow server, and the
test can check what the logging caller did meanwhile without any timing assumption.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Gate:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.opened = threading.Event()
        self.connected = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connected.set()
            self._spawn(self._forward, client)

    def _forward(self, client: socket.socket) -> None:
        self.opened.wait()
        with client, socket.create_connection(self.target) as upstream:
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join(10)

    def close(self) -> None:
        self.opened.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        except OSError:
            pass
        self._listener.close()
        for thread in list(self._threads):
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
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@contextmanager
def gate(target: tuple[str, int]) -> Iterator[Gate]:
    running = Gate(target)
    running._spawn(running._accept)
    try:
        yield running
    finally:
        running.close()
