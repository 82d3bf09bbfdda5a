"""The async client's plaintext stream is the socket itself (``_backends/_async_stream.py``).

``recv``/``send`` are tried at once and the event loop is asked only when one would block:
these tests take the paths where it would (a message larger than the kernel's buffers, a
server that stops reading, a server that closes), and the STARTTLS upgrade of that socket.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest

from cdomail import AsyncSMTPClient
from cdomail._backends._async_stream import open_async_stream
from cdomail.errors import ConnectError, RemoteProtocolError, ServerDisconnected, WriteTimeout
from tests._server import CertificateSet, Reply, Script, Then, TLSSetup, fixtures
from tests._server.fixtures import ServerFactory

certs = fixtures.certs
hostile = fixtures.hostile

MESSAGE = b"From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: stream\r\n\r\nHello.\r\n"


def _client(server: Any, certs: CertificateSet, **options: Any) -> AsyncSMTPClient:
    settings: dict[str, Any] = {"cafile": str(certs.ca_path), "local_hostname": "client.test",
                                "connect_timeout": 2.0, "command_timeout": 2.0, **options}
    return AsyncSMTPClient(server.host, server.port, **settings)


def test_a_message_larger_than_the_socket_buffers_arrives_whole(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script())
    big = MESSAGE + (b"z" * 998 + b"\r\n") * 8_000  # ~8 MB: partial sends, then waits

    async def main() -> None:
        async with _client(server, certs, tls="none") as client:
            result = await client.send(big)
            assert result.error is None

    asyncio.run(main())
    assert server.bodies == [big]


def test_a_server_that_stops_reading_is_a_write_timeout(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"DATA": Reply(b"354 go\r\n", then=Then.STALL)}))
    huge = MESSAGE + (b"z" * 998 + b"\r\n") * 32_000  # ~32 MB: more than any socket buffer
    client = _client(server, certs, tls="none", command_timeout=0.5)

    async def main() -> None:
        await client.connect()
        await client.send(huge)

    with pytest.raises(WriteTimeout) as info:
        asyncio.run(main())
    assert type(info.value) is WriteTimeout
    assert not client.is_connected


def test_a_server_that_closes_is_a_disconnect(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(replies={"MAIL": Reply(b"", then=Then.CLOSE)}))

    async def main() -> None:
        async with _client(server, certs, tls="none") as client:
            await client.send(MESSAGE)

    with pytest.raises(ServerDisconnected):
        asyncio.run(main())
    assert server.bodies == []


def test_starttls_upgrades_the_plaintext_socket(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS))

    async def main() -> None:
        async with _client(server, certs, tls="starttls", server_hostname="localhost") as client:
            result = await client.send(MESSAGE)
            assert result.error is None
            assert client.tls_info is not None and client.tls_info.verified

    asyncio.run(main())
    assert server.bodies == [MESSAGE]


def test_unread_plaintext_before_the_handshake_is_refused() -> None:
    """Bytes waiting in the socket when STARTTLS begins (RFC 3207 §6) are never handed to
    TLS: the upgrade is refused before a byte of the handshake is sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def main() -> None:
        stream = await open_async_stream("127.0.0.1", port, timeout=2.0)
        peer, _ = listener.accept()
        try:
            peer.sendall(b"250 injected\r\n")
            await asyncio.sleep(0.05)  # in the client's socket, not yet read
            with pytest.raises(RemoteProtocolError, match="response injection"):
                await stream.start_tls(ssl.create_default_context(), "localhost", 2.0)
            peer.settimeout(0.2)
            with pytest.raises(TimeoutError):
                peer.recv(1)  # no ClientHello was sent
        finally:
            await stream.aclose()
            peer.close()

    try:
        asyncio.run(main())
    finally:
        listener.close()


def test_connect_to_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused

    async def main() -> None:
        await open_async_stream("127.0.0.1", port, timeout=2.0)

    with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
        asyncio.run(main())
