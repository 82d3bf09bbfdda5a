"""The senders under test, each as ``run(endpoint, messages, connections) -> elapsed seconds``.

Every contestant is timed from before it opens its first connection to after its last QUIT, so
connection setup counts the same for all. Modules are imported before the clock starts.
cdomail is imported lazily: until the client exists, its contestants raise
:class:`ContestantUnavailable` and the benchmark prints why instead of failing.
"""

from __future__ import annotations

import asyncio
import importlib
import smtplib
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from cdomail.bench._sink import find_postfix_tool

__all__ = [
    "CONTESTANTS",
    "RECIPIENT",
    "SENDER",
    "Contestant",
    "ContestantUnavailable",
    "Endpoint",
    "RunFunction",
    "import_cdomail",
    "make_messages",
]

SENDER = "bench@example.com"
RECIPIENT = "sink@example.net"
#: Sent in EHLO by every contestant; smtplib's default (``getfqdn()``) may wait on DNS.
LOCAL_HOSTNAME = "bench.localhost"
BODY_SIZE = 1024


class ContestantUnavailable(Exception):
    """The contestant cannot run here (e.g. cdomail's client is not written yet)."""


@dataclass(frozen=True)
class Endpoint:
    """Where the contestants send: the sink, directly or through a proxy."""

    host: str
    port: int
    implicit_tls: bool = False
    ca_path: str | None = None

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context for the TLS front (trusting the benchmark CA)."""
        return ssl.create_default_context(cafile=self.ca_path)


RunFunction = Callable[[Endpoint, Sequence[bytes], int], float]


@dataclass(frozen=True)
class Contestant:
    """A named sender; ``run(endpoint, messages, connections)`` returns elapsed seconds."""

    name: str
    run: RunFunction
    is_cdomail: bool = False


def make_messages(count: int, body_size: int = BODY_SIZE) -> list[bytes]:
    """``count`` distinct RFC 5322 messages with a ``body_size``-byte body, CRLF line ends."""
    line = b"The quick brown fox jumps over the lazy dog, 0123456789 ABCDEF.\r\n"  # 66 bytes
    body = (line * (body_size // len(line) + 1))[: body_size - 2] + b"\r\n"
    date = formatdate(localtime=False).encode()
    messages = []
    for number in range(count):
        header = (
            (
                f"From: Bench <{SENDER}>\r\nTo: Sink <{RECIPIENT}>\r\n"
                f"Subject: benchmark message {number}\r\n"
                f"Message-ID: <{uuid.uuid4().hex}@bench.localhost>\r\n"
            ).encode()
            + b"Date: "
            + date
            + b"\r\nMIME-Version: 1.0\r\n"
        )
        messages.append(header + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body)
    return messages


def _require_one_connection(connections: int, name: str) -> None:
    if connections != 1:
        raise ValueError(f"{name} is a one-connection contestant, asked for {connections}")


# --- Python's standard library ------------------------------------------------------------


def run_smtplib(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """smtplib: one connection, ``sendmail`` per message (MAIL, RCPT, DATA each awaited)."""
    _require_one_connection(connections, "smtplib")
    context = endpoint.client_ssl_context() if endpoint.implicit_tls else None
    start = time.perf_counter()
    client: smtplib.SMTP
    if context is not None:
        client = smtplib.SMTP_SSL(
            endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME, context=context
        )
    else:
        client = smtplib.SMTP(endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME)
    with client:
        client.ehlo()
        for message in messages:
            refused = client.sendmail(SENDER, [RECIPIENT], message)
            if refused:
                raise RuntimeError(f"smtplib: recipients refused: {refused}")
    return time.perf_counter() - start


# --- aiosmtplib -------------------------------------------------------------------------------


async def _aiosmtplib_session(endpoint: Endpoint, messages: Sequence[bytes]) -> None:
    import aiosmtplib

    client = aiosmtplib.SMTP(
        hostname=endpoint.host,
        port=endpoint.port,
        local_hostname=LOCAL_HOSTNAME,
        use_tls=endpoint.implicit_tls,
        start_tls=False,
        tls_context=endpoint.client_ssl_context() if endpoint.implicit_tls else None,
    )
    await client.connect()
    transport = client.transport
    try:
        for message in messages:
            refused, _ = await client.sendmail(SENDER, [RECIPIENT], message)
            if refused:
                raise RuntimeError(f"aiosmtplib: recipients refused: {refused}")
    finally:
        await client.quit()
        # QUIT is answered: the session is over. A TLS transport's close() then waits for
        # the front's close_notify, possibly past the end of the event loop (a socket left
        # open, reported later as a ResourceWarning): cut it instead. Not timed differently.
        if isinstance(transport, asyncio.Transport):
            transport.abort()


def run_aiosmtplib(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """aiosmtplib: ``connections`` concurrent connections, each sending its share in turn."""
    import aiosmtplib  # noqa: F401  (imported before the clock starts)

    shares = [messages[i::connections] for i in range(connections)]

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_aiosmtplib_session(endpoint, share) for share in shares))
        return time.perf_counter() - start

    return asyncio.run(main())


# --- Postfix smtp-source (C) ------------------------------------------------------------------


def _smtp_source_argv(
    endpoint: Endpoint, message_file: Path, count: int, sessions: int
) -> list[str]:
    return [
        find_postfix_tool("smtp-source"),
        "-d",  # keep the connection: send every message over the same session
        "-s", str(sessions),
        "-m", str(count),
        "-M", LOCAL_HOSTNAME,
        "-f", SENDER,
        "-t", RECIPIENT,
        "-F", str(message_file),
        f"{endpoint.host}:{endpoint.port}",
    ]  # fmt: skip


def run_smtp_source(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """Postfix ``smtp-source -d``: C, no pipelining, ``connections`` sessions in parallel."""
    if endpoint.implicit_tls:
        raise ContestantUnavailable("smtp-source does not speak TLS")
    with tempfile.TemporaryDirectory(prefix="cdomail-bench-") as tmp:
        # -F reads lines and appends CRLF itself, so the file holds LF line ends.
        message_file = Path(tmp) / "message.txt"
        message_file.write_bytes(messages[0].replace(b"\r\n", b"\n"))
        argv = _smtp_source_argv(endpoint, message_file, len(messages), connections)
        start = time.perf_counter()
        completed = subprocess.run(argv, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(
            f"smtp-source exited {completed.returncode}: "
            f"{completed.stderr.decode(errors='replace').strip()}"
        )
    return elapsed


# --- cdomail ----------------------------------------------------------------------------------


def import_cdomail(*names: str) -> list[Any]:
    """Return ``cdomail.<name>`` for each name, or raise :class:`ContestantUnavailable`."""
    try:
        module = importlib.import_module("cdomail")
    except ImportError as exc:
        raise ContestantUnavailable(f"cannot import cdomail: {exc}") from exc
    found = []
    for name in names:
        value = getattr(module, name, None)
        if value is None:
            raise ContestantUnavailable(f"cdomail.{name} does not exist yet")
        found.append(value)
    return found


def _cdomail_tls_options(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.implicit_tls:
        return {"tls": "implicit", "cafile": endpoint.ca_path}
    return {"tls": "none"}


def _check_all_accepted(results: Sequence[Any], expected: int, name: str) -> None:
    if len(results) != expected:
        raise RuntimeError(f"{name}: {len(results)} results for {expected} messages")
    for result in results:
        if getattr(result, "error", None) is not None:
            raise RuntimeError(f"{name}: a message failed: {result.error}")
        if getattr(result, "refused", None):
            raise RuntimeError(f"{name}: recipients refused: {result.refused}")


def _with_envelope(messages: Sequence[bytes]) -> list[Any]:
    """The messages as ``cdomail.OutgoingMessage`` with the envelope the peers are given."""
    (outgoing,) = import_cdomail("OutgoingMessage")
    return [outgoing(message, sender=SENDER, recipients=[RECIPIENT]) for message in messages]


def run_cdomail_sync(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """cdomail ``SMTPClient.send_many`` on one connection (pipelined when advertised)."""
    _require_one_connection(connections, "cdomail sync")
    (client_class,) = import_cdomail("SMTPClient")
    items = _with_envelope(messages)
    start = time.perf_counter()
    with client_class(
        endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME,
        **_cdomail_tls_options(endpoint),
    ) as client:  # fmt: skip
        results = client.send_many(items)
    elapsed = time.perf_counter() - start
    _check_all_accepted(results, len(messages), "cdomail sync")
    return elapsed


async def _cdomail_async_session(
    client_class: Any, endpoint: Endpoint, messages: Sequence[Any]
) -> list[Any]:
    async with client_class(
        endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME,
        **_cdomail_tls_options(endpoint),
    ) as client:  # fmt: skip
        results: list[Any] = await client.send_many(messages)
    return results


def run_cdomail_async(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """cdomail async: ``cdomail.Pool`` if it exists, else ``connections`` AsyncSMTPClients."""
    try:
        (pool_class,) = import_cdomail("Pool")
    except ContestantUnavailable:
        pool_class = None
    (client_class,) = import_cdomail("AsyncSMTPClient")
    items = _with_envelope(messages)
    shares = [items[i::connections] for i in range(connections)]

    async def with_clients() -> list[Any]:
        batches = await asyncio.gather(
            *(_cdomail_async_session(client_class, endpoint, share) for share in shares)
        )
        return [result for batch in batches for result in batch]

    async def with_pool() -> list[Any]:
        async with pool_class(
            endpoint.host, endpoint.port, max_connections=connections,
            local_hostname=LOCAL_HOSTNAME, **_cdomail_tls_options(endpoint),
        ) as pool:  # fmt: skip
            results: list[Any] = await pool.send_many(items)
        return results

    async def main() -> tuple[float, list[Any]]:
        start = time.perf_counter()
        results = await (with_pool() if pool_class is not None else with_clients())
        return time.perf_counter() - start, results

    elapsed, results = asyncio.run(main())
    _check_all_accepted(results, len(messages), "cdomail async")
    return elapsed


CONTESTANTS: dict[str, Contestant] = {
    contestant.name: contestant
    for contestant in (
        Contestant("cdomail", run_cdomail_sync, is_cdomail=True),
        Contestant("cdomail async", run_cdomail_async, is_cdomail=True),
        Contestant("smtplib", run_smtplib),
        Contestant("aiosmtplib", run_aiosmtplib),
        Contestant("smtp-source", run_smtp_source),
    )
}
