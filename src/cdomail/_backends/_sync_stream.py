"""Blocking socket stream."""

from __future__ import annotations

import select
import socket
import ssl
import time

from ..errors import (
    ConnectError,
    ConnectTimeout,
    HandshakeDisconnected,
    ReadTimeout,
    ServerDisconnected,
    WriteTimeout,
)
from ..tls import keep_session, take_session
from ._hostname import default_local_hostname
from ._tls_errors import TLSPeer, handshake_failure

#: What ``NetworkStream._wait`` returns when the deadline passed before the socket was ready.
_EXPIRED = -1.0


class NetworkStream:
    """A connected TCP socket, possibly wrapped in TLS.

    The socket stays non-blocking and each read or write is tried at once; only
    when it would block do we wait (poll) for the remaining time. A socket with a
    timeout would instead pay an ioctl per ``settimeout`` and a poll before every
    call, which on a pipelined batch doubled the system calls per message.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.setblocking(False)
        #: Where this connection's TLS session is kept for resumption when it closes.
        self._session_slot: tuple[ssl.SSLContext, str | None, tuple[str, int]] | None = None

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to ``max_bytes``; ``b""`` at EOF."""
        deadline: float | None = None
        while True:
            try:
                return self._sock.recv(max_bytes)
            except (BlockingIOError, ssl.SSLWantReadError):
                wait_for_write = False
            except ssl.SSLWantWriteError:
                wait_for_write = True
            except ssl.SSLError as exc:
                raise ServerDisconnected(f"TLS error while reading: {exc}") from exc
            except OSError as exc:
                raise ServerDisconnected(f"connection lost while reading: {exc}") from exc
            deadline = self._wait(wait_for_write, timeout, deadline)
            if deadline == _EXPIRED:
                raise ReadTimeout(f"no reply from the server within {timeout:.3g} s")

    def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        """All of ``data``, or an error."""
        view = data  # a memoryview only after a partial write (rare on a small batch)
        deadline: float | None = None
        while view:
            try:
                sent = self._sock.send(view)
                view = b"" if sent == len(view) else memoryview(view)[sent:]
                continue
            except (BlockingIOError, ssl.SSLWantWriteError):
                wait_for_write = True
            except ssl.SSLWantReadError:
                wait_for_write = False
            except OSError as exc:
                raise ServerDisconnected(f"connection lost while writing: {exc}") from exc
            deadline = self._wait(wait_for_write, timeout, deadline)
            if deadline == _EXPIRED:
                raise WriteTimeout(f"the server stopped reading for {timeout:.3g} s")

    def _wait(self, for_write: bool, timeout: float | None, deadline: float | None) -> float | None:
        """Wait until the socket is ready. The deadline is set on the first wait of a call
        (``timeout`` from then); returns it, or ``_EXPIRED`` when it passed first."""
        if deadline is None and timeout is not None:
            deadline = time.monotonic() + timeout
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if remaining == 0.0:
            return _EXPIRED
        if not hasattr(select, "poll"):  # Windows: select() has no descriptor limit there
            wanted = ([], [self._sock]) if for_write else ([self._sock], [])
            readable, writable, _ = select.select(*wanted, [], remaining)
            ready = bool(readable or writable)
        else:
            poller = select.poll()  # poll, not select: no FD_SETSIZE limit on busy processes
            poller.register(self._sock, select.POLLOUT if for_write else select.POLLIN)
            ready = bool(poller.poll(None if remaining is None else remaining * 1000))
        return deadline if ready else _EXPIRED

    def start_tls(
        self,
        context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
        *,
        tls_peer: TLSPeer | None = None,
    ) -> None:
        """Upgrade in place; raises ``ReadTimeout`` or, on a TLS failure, ``ssl.SSLError``
        (diagnosed as a cdomail error with ``tls_peer``)."""
        self._sock.settimeout(timeout)  # the handshake itself runs blocking, with a timeout
        address = _peer_address(self._sock)
        session = None if address is None else take_session(context, server_hostname, address)
        try:
            self._sock = context.wrap_socket(
                self._sock, server_hostname=server_hostname, session=session
            )
        except TimeoutError:
            raise ReadTimeout(f"TLS handshake did not complete within {timeout:.3g} s") from None
        except ssl.SSLError as exc:
            raise handshake_failure(exc, tls_peer) from exc
        except OSError as exc:
            raise HandshakeDisconnected(
                f"the connection was lost during the TLS handshake: {exc}") from exc
        self._sock.setblocking(False)
        if address is not None:
            self._session_slot = (context, server_hostname, address)

    def read_available(self, max_bytes: int) -> bytes | None:
        """What already arrived, without waiting: ``None`` if nothing, ``b""`` at EOF."""
        try:
            return self._sock.recv(max_bytes)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            # Nothing; for TLS, possibly only a record without application data (a TLS 1.3
            # session ticket), which is not a reply.
            return None
        except OSError as exc:
            raise ServerDisconnected(f"connection lost: {exc}") from exc

    @property
    def ssl_object(self) -> ssl.SSLSocket | None:
        """The TLS session, when there is one."""
        return self._sock if isinstance(self._sock, ssl.SSLSocket) else None

    def close(self) -> None:
        """Close without waiting; keep the TLS session for the next connection to the server."""
        slot, self._session_slot = self._session_slot, None
        if slot is not None and isinstance(self._sock, ssl.SSLSocket):
            # Read at the close, not after the handshake: TLS 1.3 tickets arrive after it.
            keep_session(*slot, self._sock.session)
        try:
            self._sock.close()
        except OSError:
            pass


def _peer_address(sock: socket.socket) -> tuple[str, int] | None:
    try:
        peer = sock.getpeername()
    except OSError:
        return None
    return (peer[0], peer[1]) if isinstance(peer, tuple) else None


def resolve_local_hostname() -> str:
    """This machine's EHLO name (looked up once per process)."""
    return default_local_hostname()


def open_stream(
    host: str,
    port: int,
    *,
    timeout: float | None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    tls_peer: TLSPeer | None = None,
) -> NetworkStream:
    """Connect (and, for implicit TLS, handshake) within ``timeout`` seconds. With
    ``tls_peer``, a TLS failure is raised as a diagnosed cdomail error."""
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
            stream.start_tls(ssl_context, server_hostname, timeout, tls_peer=tls_peer)
        except ReadTimeout:
            stream.close()
            raise ConnectTimeout(
                f"the TLS handshake with {host}:{port} did not complete within {timeout:.3g} s"
            ) from None
        except BaseException:
            stream.close()
            raise
    return stream
