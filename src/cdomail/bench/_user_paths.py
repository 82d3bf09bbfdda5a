"""The paths most users take (issue 13): EmailMessage objects, one-shot sends, CDO ``Send()``.

Scenarios 1-5 give every contestant pre-serialised bytes and an explicit envelope. Here each
contestant gets what a user has: ``EmailMessage`` objects built through the ``email`` API (the
envelope comes from their headers, as with ``smtplib.send_message``), one connection per
message for the one-shot scenarios, and the system trust store for TLS (a copy of it with the
benchmark CA added, named by SSL_CERT_FILE for every contestant, so the store has its real
size). Inputs are built before the clock starts, then the garbage collector is frozen
(``gc.freeze()``) so collecting them does not land inside somebody's time.

smtplib is given its best case: an explicit ``local_hostname`` (no ``getfqdn()`` per
connection) and, for TLS, one default context shared by all the connections of a run. cdomail
runs as users call it: no EHLO name (its own, looked up once per process), no context, no CA
file; its shared contexts are forgotten before each run. So each contestant loads the trust
store once per run, inside its time, as a process that starts and sends does.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from cdomail.bench._contestants import (
    BODY_SIZE,
    LOCAL_HOSTNAME,
    RECIPIENT,
    SENDER,
    Contestant,
    Endpoint,
    import_cdomail,
)
from cdomail.bench._model import Scenario, Target

__all__ = ["CONTESTANTS", "SCENARIOS", "TARGETS", "make_email_messages"]

_LINE = "The quick brown fox jumps over the lazy dog, 0123456789 ABCDEF.\n"
BODY = (_LINE * (BODY_SIZE // len(_LINE) + 1))[: BODY_SIZE - 1] + "\n"


def make_email_messages(count: int) -> list[EmailMessage]:
    """``count`` distinct messages built as a user builds them (``email`` API, set_content)."""
    date = formatdate(localtime=False)
    messages = []
    for number in range(count):
        message = EmailMessage()
        message["From"] = f"Bench <{SENDER}>"
        message["To"] = f"Sink <{RECIPIENT}>"
        message["Subject"] = f"benchmark message {number}"
        message["Message-ID"] = f"<{uuid.uuid4().hex}@bench.localhost>"
        message["Date"] = date
        message.set_content(BODY)
        messages.append(message)
    return messages


def _inputs_ready() -> None:
    """Inputs are built: keep the collector away from them (the harness unfreezes)."""
    gc.collect()
    gc.freeze()


def _as_a_fresh_process() -> None:
    """Forget cdomail's shared SSLContexts, so every run pays for loading the trust store
    once, inside its time, as a process that starts and sends does (and as smtplib's run
    does with its one context)."""
    tls = importlib.import_module("cdomail.tls")
    tls.clear_ssl_context_cache()


def _require_one_connection(connections: int, name: str) -> None:
    if connections != 1:
        raise ValueError(f"{name} is a one-connection contestant, asked for {connections}")


def _check_results(results: Sequence[Any], expected: int, name: str) -> None:
    if len(results) != expected:
        raise RuntimeError(f"{name}: {len(results)} results for {expected} messages")
    for result in results:
        if result.error is not None or result.refused:
            raise RuntimeError(f"{name}: not accepted: {result.error or result.refused}")


# --- one connection, EmailMessage objects --------------------------------------------------


def run_cdomail_email(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """``SMTPClient.send_many(list of EmailMessage)`` on one connection."""
    _require_one_connection(connections, "cdomail EmailMessage")
    (client_class,) = import_cdomail("SMTPClient")
    items = make_email_messages(len(messages))
    _inputs_ready()
    start = time.perf_counter()
    with client_class(endpoint.host, endpoint.port, tls="none") as client:
        results = client.send_many(items)
    elapsed = time.perf_counter() - start
    _check_results(results, len(items), "cdomail EmailMessage")
    return elapsed


def run_smtplib_send_message(
    endpoint: Endpoint, messages: Sequence[bytes], connections: int
) -> float:
    """smtplib: one connection, ``send_message`` per message."""
    _require_one_connection(connections, "smtplib send_message")
    items = make_email_messages(len(messages))
    _inputs_ready()
    start = time.perf_counter()
    with smtplib.SMTP(endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME) as client:
        for message in items:
            refused = client.send_message(message)
            if refused:
                raise RuntimeError(f"smtplib: recipients refused: {refused}")
    return time.perf_counter() - start


def run_cdomail_async_email(
    endpoint: Endpoint, messages: Sequence[bytes], connections: int
) -> float:
    """``AsyncSMTPClient.send_many(list of EmailMessage)`` on one connection."""
    _require_one_connection(connections, "cdomail async EmailMessage")
    (client_class,) = import_cdomail("AsyncSMTPClient")
    items = make_email_messages(len(messages))
    _inputs_ready()

    async def main() -> tuple[float, list[Any]]:
        start = time.perf_counter()
        async with client_class(endpoint.host, endpoint.port, tls="none") as client:
            results: list[Any] = await client.send_many(items)
        return time.perf_counter() - start, results

    elapsed, results = asyncio.run(main())
    _check_results(results, len(items), "cdomail async EmailMessage")
    return elapsed


def run_aiosmtplib_send_message(
    endpoint: Endpoint, messages: Sequence[bytes], connections: int
) -> float:
    """aiosmtplib: one connection, ``send_message`` per message."""
    _require_one_connection(connections, "aiosmtplib send_message")
    import aiosmtplib

    items = make_email_messages(len(messages))
    _inputs_ready()

    async def main() -> float:
        start = time.perf_counter()
        client = aiosmtplib.SMTP(hostname=endpoint.host, port=endpoint.port,
                                 local_hostname=LOCAL_HOSTNAME, start_tls=False)  # fmt: skip
        await client.connect()
        transport = client.transport
        try:
            for message in items:
                refused, _ = await client.send_message(message)
                if refused:
                    raise RuntimeError(f"aiosmtplib: recipients refused: {refused}")
        finally:
            await client.quit()
            if isinstance(transport, asyncio.Transport):
                transport.abort()  # as in _contestants: no socket left past the loop
        return time.perf_counter() - start

    return asyncio.run(main())


# --- one connection per message ------------------------------------------------------------


def run_cdomail_one_shot(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """``cdomail.send(message, host=..., port=...)`` per message, as users call it."""
    _require_one_connection(connections, "cdomail.send")
    (send,) = import_cdomail("send")
    items = make_email_messages(len(messages))
    tls = "implicit" if endpoint.implicit_tls else "none"
    _as_a_fresh_process()
    _inputs_ready()
    start = time.perf_counter()
    results = [send(message, host=endpoint.host, port=endpoint.port, tls=tls) for message in items]
    elapsed = time.perf_counter() - start
    _check_results(results, len(items), "cdomail.send")
    if endpoint.implicit_tls and not all(r.tls and r.tls.verified for r in results):
        raise RuntimeError("cdomail.send: a TLS session was not verified")
    return elapsed


def run_smtplib_one_shot(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """smtplib: a new ``SMTP``/``SMTP_SSL`` per message; TLS with one shared default context."""
    _require_one_connection(connections, "smtplib one-shot")
    items = make_email_messages(len(messages))
    _inputs_ready()
    start = time.perf_counter()
    # One context from the system store (SSL_CERT_FILE), shared by every connection of the
    # run: smtplib's best case, and what cdomail's shared context amounts to.
    context = ssl.create_default_context() if endpoint.implicit_tls else None
    for message in items:
        client: smtplib.SMTP
        if context is not None:
            client = smtplib.SMTP_SSL(endpoint.host, endpoint.port,
                                      local_hostname=LOCAL_HOSTNAME, context=context)  # fmt: skip
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, local_hostname=LOCAL_HOSTNAME)
        with client:
            refused = client.send_message(message)
            if refused:
                raise RuntimeError(f"smtplib: recipients refused: {refused}")
    return time.perf_counter() - start


def _cdo_messages(endpoint: Endpoint, count: int) -> list[Any]:
    cdo = importlib.import_module("cdomail.cdo")
    configuration = cdo.Configuration()
    fields = configuration.Fields
    fields[cdo.cdoSendUsingMethod] = cdo.cdoSendUsingPort
    fields[cdo.cdoSMTPServer] = endpoint.host
    fields[cdo.cdoSMTPServerPort] = endpoint.port
    # CDO's rule: smtpusessl on any port but 25 is implicit TLS, trusted by the system store.
    fields[cdo.cdoSMTPUseSSL] = endpoint.implicit_tls
    fields.Update()
    messages = []
    for number in range(count):
        message = cdo.Message()
        message.Configuration = configuration
        message.From = f"Bench <{SENDER}>"
        message.To = f"Sink <{RECIPIENT}>"
        message.Subject = f"benchmark message {number}"
        message.TextBody = BODY
        messages.append(message)
    return messages


def run_cdo_send(endpoint: Endpoint, messages: Sequence[bytes], connections: int) -> float:
    """``cdomail.cdo.Message.Send()`` per message (builds its MIME and connects each time)."""
    _require_one_connection(connections, "cdomail.cdo Send()")
    items = _cdo_messages(endpoint, len(messages))
    _as_a_fresh_process()
    _inputs_ready()
    start = time.perf_counter()
    for message in items:
        message.Send()
    elapsed = time.perf_counter() - start
    if endpoint.implicit_tls and not all(m.LastSendResult.encrypted for m in items):
        raise RuntimeError("cdomail.cdo: a message was not sent over TLS")
    return elapsed


CONTESTANTS: dict[str, Contestant] = {
    contestant.name: contestant
    for contestant in (
        Contestant("cdomail EmailMessage", run_cdomail_email, is_cdomail=True),
        Contestant("smtplib send_message", run_smtplib_send_message),
        Contestant("cdomail async EmailMessage", run_cdomail_async_email, is_cdomail=True),
        Contestant("aiosmtplib send_message", run_aiosmtplib_send_message),
        Contestant("cdomail.send", run_cdomail_one_shot, is_cdomail=True),
        Contestant("cdomail.cdo Send()", run_cdo_send, is_cdomail=True),
        Contestant("smtplib one-shot", run_smtplib_one_shot),
    )
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("6", "EmailMessage objects, one connection",
             ("cdomail EmailMessage", "smtplib send_message"), 2000, 30),
    Scenario("7", "EmailMessage objects, one connection, async",
             ("cdomail async EmailMessage", "aiosmtplib send_message"), 2000, 30),
    Scenario("8", "one-shot sends, plaintext (one connection per message)",
             ("cdomail.send", "smtplib one-shot"), 300, 8),
    Scenario("9", "one-shot sends, implicit TLS, system trust store",
             ("cdomail.send", "smtplib one-shot"), 200, 6, implicit_tls=True,
             system_store=True),
    Scenario("10", "CDO Message.Send(), plaintext",
             ("cdomail.cdo Send()", "smtplib one-shot"), 300, 8),
    Scenario("11", "CDO Message.Send(), implicit TLS, system trust store",
             ("cdomail.cdo Send()", "smtplib one-shot"), 200, 6, implicit_tls=True,
             system_store=True),
)  # fmt: skip

TARGETS: tuple[Target, ...] = (
    Target("6", "cdomail EmailMessage", "smtplib send_message", "rate", 3.0, paired=True),
    Target("7", "cdomail async EmailMessage", "aiosmtplib send_message", "rate", 3.0,
           paired=True),
    Target("8", "cdomail.send", "smtplib one-shot", "rate", 1.0, paired=True),
    Target("9", "cdomail.send", "smtplib one-shot", "rate", 1.0, paired=True),
    Target("10", "cdomail.cdo Send()", "smtplib one-shot", "rate", 1.0, paired=True),
    Target("11", "cdomail.cdo Send()", "smtplib one-shot", "rate", 1.0, paired=True),
)  # fmt: skip
