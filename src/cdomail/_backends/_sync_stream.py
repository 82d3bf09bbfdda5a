"""Blocking socket stream."""

from __future__ import annotations

import socket
import ssl

from ..errors import ConnectError, ConnectTimeout, ReadTimeout, ServerDisconnected, WriteTimeout


class NetworkStream:
    """A connected TCP socket, possibly wrapped in TLS."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to ``max_bytes``; ``b""`` at EOF."""
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError:
            raise ReadTimeout(f"no reply from the server within {timeout:.3g} s") from None
        except ssl.SSLError as exc:
            raise ServerDisconnected(f"TLS error while reading: {exc}") from exc
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while reading: {exc}") from exc

    def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        """All of ``data``, or an error."""
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise WriteTimeout(f"the server stopped reading for {timeout:.3g} s") from None
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while writing: {exc}") from exc

    def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> None:
        """Upgrade in place; raises ``ssl.SSLError`` or ``ReadTimeout`` on failure."""
        self._sock.settimeout(timeout)
        try:
            self._sock = context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError:
            raise ReadTimeout(f"TLS handshake did not complete within {timeout:.3g} s") from None

    def read_available(self, max_bytes: int) -> bytes | None:
        """What already arrived, without waiting: ``None`` if nothing, ``b""`` at EOF."""
        self._sock.setblocking(False)
        try:
            return self._sock.recv(max_bytes)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            # Nothing; for TLS, possibly only a record without application data (a TLS 1.3
            # session ticket), which is not a reply.
            return None
        except OSError as exc:
            raise ServerDisconnected(f"connection lost: {exc}") from exc
        finally:
            self._sock.setblocking(True)

    @property
    def ssl_object(self) -> ssl.SSLSocket | None:
        """The TLS session, when there is one."""
        return self._sock if isinstance(self._sock, ssl.SSLSocket) else None

    def close(self) -> None:
        """Close without waiting."""
        try:
            self._sock.close()
        except OSError:
            pass


def open_stream(
    host: str,
    port: int,
    *,
    timeout: float | None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> NetworkStream:
    """Connect (and, for implicit TLS, handshake) within ``timeout`` seconds."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise ConnectTimeout(f"could not connect to {host}:{port} within {timeout:.3g} s") from None
    except OSError as exc:
        raise ConnectError(f"could not connect to {host}:{port}: {exc.strerror or exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = NetworkStream(sock)
    if ssl_context is not None:
        try:
            stream.start_tls(ssl_context, server_hostname, timeout)
        except ReadTimeout:
            stream.close()
            raise ConnectTimeout(
                f"the TLS handshake with {host}:{port} did not complete within {timeout:.3g} s"
            ) from None
        except BaseException:
            stream.close()
            raise
    return stream
