"""The client's limits hold after STARTTLS too (RFC 5321 §4.5.3.2): a server that stalls
after its ``220 ready to start TLS``, or trickles a reply, cannot keep either client waiting
past the per-command timeout or the overall deadline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cdomail import AsyncSMTPClient
from cdomail.errors import ReadTimeout, TimeoutError
from tests._server import CertificateSet, Handshake, Reply, Script, ScriptedServer, TLSSetup
from tests._server.fixtures import ServerFactory

from .helpers import MESSAGE, make_client, smtp_verbs

#: Without these limits the client would wait RFC 5321's minutes.
LIMITS = [{"command_timeout": 0.8, "deadline": None}, {"command_timeout": None, "deadline": 0.8}]
IDS = ["command_timeout", "deadline"]


def timed_send(api: str, server: ScriptedServer, certs: CertificateSet,
               **options: Any) -> tuple[Exception, float]:
    """Send with ``tls="starttls"``; return the error raised and how long it took."""
    started = time.monotonic()
    try:
        if api == "sync":
            make_client(server, certs, tls="starttls", **options).send(MESSAGE)
        else:
            async def main() -> None:
                async with AsyncSMTPClient(server.host, server.port, tls="starttls",
                                           cafile=str(certs.ca_path),
                                           local_hostname="client.test", connect_timeout=2.0,
                                           **options) as client:
                    await client.send(MESSAGE)

            asyncio.run(main())
    except Exception as error:
        return error, time.monotonic() - started
    raise AssertionError("the send did not fail")


@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("limits", LIMITS, ids=IDS)
def test_stall_after_starttls_220_is_bounded(
    hostile: ServerFactory, certs: CertificateSet, api: str, limits: dict[str, Any]
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS, handshake=Handshake.STALL))
    error, elapsed = timed_send(api, server, certs, server_hostname="localhost", **limits)
    assert isinstance(error, ReadTimeout), repr(error)
    assert elapsed < 2.5
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "STARTTLS"]  # nothing after, in any form


@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("limits", LIMITS, ids=IDS)
def test_trickled_starttls_reply_is_bounded(
    hostile: ServerFactory, certs: CertificateSet, api: str, limits: dict[str, Any]
) -> None:
    slow_220 = Reply(b"220 2.0.0 ready to start TLS" + b" " * 300 + b"\r\n", trickle=(1, 0.01))
    server = hostile(Script(tls=TLSSetup.STARTTLS, replies={"STARTTLS": slow_220}))
    error, elapsed = timed_send(api, server, certs, server_hostname="localhost", **limits)
    assert isinstance(error, TimeoutError), repr(error)
    assert elapsed < 2.5


@pytest.mark.parametrize("api", ["sync", "async"])
def test_trickled_reply_inside_tls_is_bounded_by_the_deadline(
    hostile: ServerFactory, certs: CertificateSet, api: str
) -> None:
    slow_ehlo = Reply(b"250-hostile.test\r\n" + b"250-X-PAD\r\n" * 100 + b"250 8BITMIME\r\n",
                      trickle=(4, 0.01))
    server = hostile(Script(tls=TLSSetup.STARTTLS, tls_replies={"EHLO": slow_ehlo}))
    error, elapsed = timed_send(api, server, certs, server_hostname="localhost",
                                command_timeout=None, deadline=1.0)
    assert isinstance(error, TimeoutError), repr(error)
    assert elapsed < 2.5
    assert "MAIL" not in smtp_verbs(server)
