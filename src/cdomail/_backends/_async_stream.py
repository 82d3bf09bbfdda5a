"""asyncio stream built on a small Protocol of our own.

Why not ``asyncio.StreamReader``: its buffer is private, and STARTTLS needs to
know that nothing unread sits in it when the handshake starts (RFC 3207 §6;
bytes that arrived in plaintext must never be read as if TLS protected them).
"""

from __future__ import annotations

import asyncio
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
    """A connected asyncio transport, possibly with TLS."""

    def __init__(self, transport: asyncio.Transport, protocol: _ReceiveProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to ``max_bytes``; ``b""`` at EOF."""
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

    def read_available(self, max_bytes: int) -> bytes | None:
        """What already arrived, without waiting: ``None`` if nothing, ``b""`` at EOF."""
        protocol = self._protocol
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            return data
        return b"" if protocol.eof else None

    async def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        """Queue ``data`` and wait until the transport accepts more (flow control)."""
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
        if self._protocol.buffer:
            raise RemoteProtocolError(
                "the server sent data after the STARTTLS 220 before the TLS handshake"
                " (response injection)"
            )
        loop = asyncio.get_running_loop()
        try:
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
        self._transport = transport

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS session, when there is one."""
        obj = self._transport.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def aclose(self) -> None:
        """Close without waiting for the peer."""
        # A TLS transport's close() waits for the peer's close_notify, which may never come
        # (and leaves the socket open past the event loop); the session is over: abort.
        # So does a plain transport with unsent bytes (a peer that stopped reading):
        # close() would wait for them forever.
        transport = self._transport
        if transport.is_closing() or self.ssl_object is not None or (
            transport.get_write_buffer_size()
        ):
            transport.abort()
        else:
            transport.close()


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
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                _ReceiveProtocol,
                host,
                port,
                ssl=ssl_context,
                server_hostname=server_hostname if ssl_context else None,
                ssl_handshake_timeout=timeout if ssl_context else None,
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
