"""Tiny loopback servers for what the lab cannot be: silent, not SMTP, or with a bad certificate."""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Callable
from types import TracebackType

Handler = Callable[[socket.socket, threading.Event], None]


class TinyServer:
    """Accepts on 127.0.0.1:<free port>; runs ``handler`` per connection in its own thread.

    ``close()`` stops accepting, tells handlers to stop, and joins every thread, so no test
    leaks a thread or a socket.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._handler(conn, self._stop)
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> TinyServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and never write a byte (a black hole that completes the TCP handshake)."""
    stop.wait(30)


def http_error_at_once(conn: socket.socket, stop: threading.Event) -> None:
    """Speak first, and not SMTP."""
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def http_error_when_spoken_to(conn: socket.socket, stop: threading.Event) -> None:
    """Like a web server: wait for the client's bytes, then answer with an HTTP error."""
    if _wait_readable(conn, stop) and conn.recv(4096):
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _wait_readable(conn: socket.socket, stop: threading.Event) -> bool:
    """Wait for the client to send (or close) without blocking ``close()`` of the server."""
    while not stop.is_set():
        readable, _, _ = select.select([conn], [], [], 0.05)
        if readable:
            return True
    return False


def smtps_with(context: ssl.SSLContext) -> Handler:
    """An implicit-TLS SMTP server presenting ``context``'s certificate (greeting, EHLO, QUIT)."""

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        if not _wait_readable(conn, stop):
            return
        conn.settimeout(2)
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"220 tiny.test ESMTP\r\n")
            buffer = b""
            while not stop.is_set():
                data = tls.recv(4096)
                if not data:
                    return
                buffer += data
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    verb = line.split(b" ")[0].upper()
                    if verb == b"EHLO":
                        tls.sendall(b"250-tiny.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n")
                    elif verb == b"QUIT":
                        tls.sendall(b"221 bye\r\n")
                        return
                    else:
                        tls.sendall(b"502 not here\r\n")

    return handler


def plain_smtp(greeting: bytes, *, ehlo: bool = True) -> Handler:
    """A plaintext SMTP server with the given greeting; ``ehlo=False`` knows only HELO."""

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(greeting + b"\r\n")
        buffer = b""
        while not stop.is_set() and _wait_readable(conn, stop):
            data = conn.recv(4096)
            if not data:
                return
            buffer += data
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                verb = line.split(b" ")[0].upper()
                if verb == b"EHLO" and ehlo:
                    conn.sendall(b"250-old.test\r\n250 8BITMIME\r\n")
                elif verb == b"HELO":
                    conn.sendall(b"250 old.test\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 5.5.1 unknown command\r\n")

    return handler


def free_port() -> int:
    """A port nothing listens on: bind one, then close it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
