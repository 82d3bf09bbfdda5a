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


def _answer_commands(
    sock: socket.socket, stop: threading.Event, answer: Callable[[bytes], bytes | None],
    *, wait: bool = True,
) -> None:
    """Read CRLF-terminated commands and send ``answer(verb)``; ``None`` ends the session."""
    buffer = b""
    while not stop.is_set() and (not wait or _wait_readable(sock, stop)):
        data = sock.recv(4096)
        if not data:
            return
        buffer += data
        while b"\r\n" in buffer:
            line, buffer = buffer.split(b"\r\n", 1)
            reply = answer(line.split(b" ")[0].upper())
            if reply is None:
                return
            sock.sendall(reply)


def _quit_or(replies: dict[bytes, bytes], otherwise: bytes) -> Callable[[bytes], bytes | None]:
    def answer(verb: bytes) -> bytes | None:
        if verb == b"QUIT":
            return None
        return replies.get(verb, otherwise)

    return answer


def smtps_with(context: ssl.SSLContext) -> Handler:
    """An implicit-TLS SMTP server presenting ``context``'s certificate (greeting, EHLO, QUIT)."""
    answer = _quit_or({b"EHLO": b"250-tiny.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n"},
                      b"502 not here\r\n")

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        if not _wait_readable(conn, stop):
            return
        conn.settimeout(2)
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"220 tiny.test ESMTP\r\n")
            # TLS may hold decrypted bytes select() cannot see: read without waiting first.
            _answer_commands(tls, stop, _with_bye(tls, answer), wait=False)

    return handler


def plain_smtp(greeting: bytes, *, ehlo: bool = True) -> Handler:
    """A plaintext SMTP server with the given greeting; ``ehlo=False`` knows only HELO."""
    replies = {b"HELO": b"250 old.test\r\n"}
    if ehlo:
        replies[b"EHLO"] = b"250-old.test\r\n250 8BITMIME\r\n"
    answer = _quit_or(replies, b"502 5.5.1 unknown command\r\n")

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(greeting + b"\r\n")
        _answer_commands(conn, stop, _with_bye(conn, answer))

    return handler


def _with_bye(
    sock: socket.socket, answer: Callable[[bytes], bytes | None]
) -> Callable[[bytes], bytes | None]:
    """Say 221 before ending the session on QUIT."""

    def wrapped(verb: bytes) -> bytes | None:
        reply = answer(verb)
        if reply is None:
            sock.sendall(b"221 bye\r\n")
        return reply

    return wrapped


def free_port() -> int:
    """A port nothing listens on: bind one, then close it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
