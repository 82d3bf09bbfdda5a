"""asyncio stream: the non-blocking socket itself in plaintext, a small Protocol of our own
over TLS.

Plaintext goes to the socket directly (``recv``/``send`` tried at once, the event loop
asked only when one would block), as the blocking stream does. Through a transport,
a reply reaches us only after an event-loop iteration (select, ``data_received``, an
Event, a task wake-up): on a pipelined batch the reply has usually arrived while the
next message was prepared, and ``read_available`` can take it with one ``recv``
instead of two loop iterations per message.

TLS (implicit, or after STARTTLS) runs through asyncio's own TLS transport. Why not
``asyncio.StreamReader`` there: its buffer is private, and STARTTLS needs to know that
nothing unread sits in it when the handshake starts (RFC 3207 §6; bytes that arrived in
plaintext must never be read as if TLS protected them).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from ..errors import (
    ConnectError,
    ConnectTimeout,
    HandshakeDisconnected,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnected,
    WriteTimeout,
)
from ._hostname import cached_local_hostname, default_local_hostname
from ._tls_errors import TLSPeer, handshake_failure


class _ReceiveProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._readable: asyncio.Event = asyncio.Event()
        self._writable: asyncio.Event = asyncio.Event()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._readable.set()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._readable.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._readable.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def wait_readable(self) -> None:
        while not self.buffer and not self.eof:
            self._readable.clear()
            await self._readable.wait()

    @property
    def writable(self) -> bool:
        return self._writable.is_set()

    async def wait_writable(self) -> None:
        await self._writable.wait()


class AsyncNetworkStream:
    """A connected stream: a plaintext socket, or an asyncio transport with TLS."""

    def __init__(
        self,
        transport: asyncio.Transport | None,
        protocol: _ReceiveProtocol | None,
        sock: socket.socket | None = None,
    ) -> None:
        #: In plaintext, the non-blocking socket (no transport owns it); None over TLS.
        self._sock = sock
        self._transport = transport
        self._protocol = protocol if protocol is not None else _ReceiveProtocol()

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to ``max_bytes``; ``b""`` at EOF."""
        if self._sock is not None:
            return await self._read_socket(self._sock, max_bytes, timeout)
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                # asyncio.timeout, not wait_for: no extra task per read on the hot path.
                async with asyncio.timeout(timeout):
                    await protocol.wait_readable()
            except TimeoutError:
                raise ReadTimeout(f"no reply from the server within {timeout:.3g} s") from None
        if not protocol.buffer:
            if isinstance(protocol.error, OSError | ssl.SSLError):
                raise ServerDisconnected(f"connection lost while reading: {protocol.error}")
            return b""
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        return data

    async def _read_socket(self, sock: socket.socket, max_bytes: int,
                           timeout: float | None) -> bytes:
        try:
            return sock.recv(max_bytes)
        except (BlockingIOError, InterruptedError):
            pass  # nothing yet: wait below
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while reading: {exc}") from exc
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.get_running_loop().sock_recv(sock, max_bytes)
        except TimeoutError:  # before OSError: TimeoutError is one
            raise ReadTimeout(f"no reply from the server within {timeout:.3g} s") from None
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while reading: {exc}") from exc

    def read_available(self, max_bytes: int) -> bytes | None:
        """What already arrived, without waiting: ``None`` if nothing, ``b""`` at EOF."""
        sock = self._sock
        if sock is not None:
            try:
                return sock.recv(max_bytes)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                return b""  # a lost connection reads as its end, as through a transport
        protocol = self._protocol
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            return data
        return b"" if protocol.eof else None

    async def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        """Hand ``data`` to the kernel (plaintext), or queue it and wait until the transport
        accepts more (flow control)."""
        if self._sock is not None:
            await self._write_socket(self._sock, data, timeout)
            return
        assert self._transport is not None
        if self._transport.is_closing():
            raise ServerDisconnected("connection lost while writing")
        self._transport.write(bytes(data))
        if not self._protocol.writable:
            try:
                async with asyncio.timeout(timeout):
                    await self._protocol.wait_writable()
            except TimeoutError:
                raise WriteTimeout(f"the server stopped reading for {timeout:.3g} s") from None
        if self._protocol.error is not None:
            raise ServerDisconnected(f"connection lost while writing: {self._protocol.error}")

    async def _write_socket(self, sock: socket.socket, data: bytes | bytearray | memoryview,
                            timeout: float | None) -> None:
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while writing: {exc}") from exc
        if sent == len(data):
            return
        # The kernel's buffer is full: the rest waits for the peer to read. A copy, so the
        # caller's buffer is not held (and can be resized) if this wait is cancelled.
        rest = bytes(memoryview(data)[sent:])
        try:
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_sendall(sock, rest)
        except TimeoutError:  # before OSError: TimeoutError is one
            raise WriteTimeout(f"the server stopped reading for {timeout:.3g} s") from None
        except OSError as exc:
            raise ServerDisconnected(f"connection lost while writing: {exc}") from exc

    async def start_tls(
        self,
        context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
        *,
        tls_peer: TLSPeer | None = None,
    ) -> None:
        """Upgrade in place. Refuses when plaintext bytes are still unread (injection).
        With ``tls_peer``, a TLS failure is raised as a diagnosed cdomail error."""
        if self._protocol.buffer or self._unread_plaintext():
            raise RemoteProtocolError(
                "the server sent data after the STARTTLS 220 before the TLS handshake"
                " (response injection)"
            )
        loop = asyncio.get_running_loop()
        transport: asyncio.BaseTransport | None
        try:
            if self._sock is not None:
                transport = await self._socket_to_tls(context, server_hostname, timeout)
            else:
                assert self._transport is not None
                transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
        except (TimeoutError, ConnectionAbortedError):
            # asyncio's sslproto reports its own ssl_handshake_timeout as ConnectionAbortedError
            # (and nothing else as that error): a stalled handshake is a timeout, never a bare
            # builtin error outside the cdomail tree.
            raise ReadTimeout(f"TLS handshake did not complete within {timeout:.3g} s") from None
        except ssl.SSLError as exc:
            raise handshake_failure(exc, tls_peer) from exc
        except OSError as exc:
            raise HandshakeDisconnected(
                f"the connection was lost during the TLS handshake: {exc}") from exc
        if transport is None:
            raise ServerDisconnected("connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    async def _socket_to_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> asyncio.BaseTransport:
        """The plaintext socket handed to a TLS transport (asyncio has no TLS over a bare
        socket), handshake done; on failure the socket is closed."""
        sock, self._sock = self._sock, None
        assert sock is not None
        try:
            transport, self._protocol = await asyncio.get_running_loop().create_connection(
                _ReceiveProtocol,
                sock=sock,
                ssl=context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except BaseException:
            sock.close()
            raise
        return transport

    def _unread_plaintext(self) -> bool:
        """Whether bytes wait unread in the plaintext socket (a peek: nothing is consumed)."""
        if self._sock is None:
            return False
        try:
            return bool(self._sock.recv(1, socket.MSG_PEEK))
        except OSError:
            return False  # nothing (BlockingIOError), or a lost connection: the handshake says

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS session, when there is one."""
        if self._transport is None:
            return None
        obj = self._transport.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def aclose(self) -> None:
        """Close without waiting for the peer."""
        sock = self._sock
        if sock is not None:
            if sock.fileno() >= 0:
                _forget_waiters(sock)
            sock.close()
            return
        # A TLS transport's close() waits for the peer's close_notify, which may never come
        # (and leaves the socket open past the event loop); the session is over: abort.
        # So does a plain transport with unsent bytes (a peer that stopped reading):
        # close() would wait for them forever.
        transport = self._transport
        if transport is None:
            return  # a STARTTLS handshake failed: its socket is closed already
        if transport.is_closing() or self.ssl_object is not None or (
            transport.get_write_buffer_size()
        ):
            transport.abort()
        else:
            transport.close()


def _forget_waiters(sock: socket.socket) -> None:
    """Unregister the socket from the event loop before it is closed, so a closed (and
    reused) descriptor is never watched for a wait that no longer exists."""
    loop = asyncio.get_running_loop()
    try:
        loop.remove_reader(sock)
        loop.remove_writer(sock)
    except NotImplementedError:
        pass  # a proactor loop (Windows) registers nothing beyond its pending operations


async def resolve_local_hostname() -> str:
    """This machine's EHLO name; its one lookup (``getfqdn``, possibly DNS) runs in a worker
    thread so the event loop does not wait on it."""
    name = cached_local_hostname()
    if name is None:
        name = await asyncio.to_thread(default_local_hostname)
    return name


async def open_async_stream(
    host: str,
    port: int,
    *,
    timeout: float | None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    tls_peer: TLSPeer | None = None,
) -> AsyncNetworkStream:
    """Connect (and, for implicit TLS, handshake) within ``timeout`` seconds. With
    ``tls_peer``, a TLS failure is raised as a diagnosed cdomail error."""
    loop = asyncio.get_running_loop()
    try:
        if ssl_context is None:
            sock = await asyncio.wait_for(_connect_socket(loop, host, port), timeout)
            return AsyncNetworkStream(None, None, sock)
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                _ReceiveProtocol,
                host,
                port,
                ssl=ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            ),
            timeout,
        )
    except TimeoutError:
        what = "connect and complete the TLS handshake" if ssl_context else "connect"
        raise ConnectTimeout(f"could not {what} to {host}:{port} within {timeout:.3g} s") from None
    except ssl.SSLError as exc:
        raise handshake_failure(exc, tls_peer) from exc
    except OSError as exc:
        raise ConnectError(f"could not connect to {host}:{port}: {exc.strerror or exc}") from exc
    assert isinstance(transport, asyncio.Transport)
    return AsyncNetworkStream(transport, protocol)


async def _connect_socket(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket: each address of ``host`` in turn, as
    ``loop.create_connection`` tries them; the last failure if none answers."""
    last_error: OSError | None = None
    for family, kind, proto, _, address in await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            # Small pipelined groups must leave at once (asyncio's transports set it too).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise last_error or OSError(f"no address found for {host}")
