"""Smoke tests of the benchmark harness pieces (issue 6), on loopback only.

Timing is checked only as lower bounds (the proxy must add at least the configured delay);
no test asserts that anything is fast.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from cdomail.bench._bigmail import make_attachment, run_bigmail
from cdomail.bench._contestants import (
    RECIPIENT,
    SENDER,
    ContestantUnavailable,
    Endpoint,
    RunFunction,
    import_cdomail,
    make_messages,
    run_aiosmtplib,
    run_cdomail_sync,
    run_smtp_source,
    run_smtplib,
)
from cdomail.bench._proxy import DelayProxy, ProxyProcess
from cdomail.bench._scenarios import (
    BenchConfig,
    BenchResults,
    Measurement,
    evaluate_targets,
)
from cdomail.bench._sink import PostfixToolMissing, SmtpSink, find_postfix_tool
from cdomail.bench._tls import make_certificates

try:
    find_postfix_tool("smtp-sink")
    find_postfix_tool("smtp-source")
    HAVE_POSTFIX = True
except PostfixToolMissing:
    HAVE_POSTFIX = False

T = TypeVar("T")

needs_postfix = pytest.mark.skipif(not HAVE_POSTFIX, reason="Postfix smtp-sink/smtp-source missing")


# --- the delay proxy (in process, against an asyncio echo server) ---------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        # Also when asyncio.run() cancels this handler at the end of a test (a loaded
        # machine may not have delivered the EOF yet): an unclosed transport would be
        # reported later, in whichever test the garbage collector happens to run.
        writer.transport.abort()


Exchange = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[T]]


async def _with_echo_proxy(
    rtt: float,
    exchange: Exchange[T],
    server_ssl: ssl.SSLContext | None = None,
    client_ssl: ssl.SSLContext | None = None,
) -> T:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    try:
        async with DelayProxy("127.0.0.1", echo_port, rtt=rtt, server_ssl=server_ssl) as proxy:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", proxy.port, ssl=client_ssl,
                server_hostname="127.0.0.1" if client_ssl else None,
            )  # fmt: skip
            try:
                return await exchange(reader, writer)
            finally:
                writer.close()
                try:
                    await writer.wait_closed()
                except (ConnectionError, ssl.SSLError):
                    pass
    finally:
        echo.close()
        await echo.wait_closed()


def test_proxy_round_trip_costs_at_least_the_rtt() -> None:
    rtt = 0.06

    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[bytes, float]:
        start = time.perf_counter()
        writer.write(b"ping\r\n")
        await writer.drain()
        line = await reader.readline()
        return line, time.perf_counter() - start

    line, elapsed = asyncio.run(_with_echo_proxy(rtt, exchange))
    assert line == b"ping\r\n"
    assert elapsed >= rtt * 0.98  # timer granularity; a missing delay gives ~0


def test_proxy_preserves_order_of_many_small_writes_and_forwards_eof() -> None:
    pieces = [f"{i:05d}|".encode() for i in range(2000)]

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        writer.write_eof()  # the echo server closes after EOF; the proxy must pass both on
        return await asyncio.wait_for(reader.read(), timeout=10)

    echoed = asyncio.run(_with_echo_proxy(0.01, exchange))
    assert echoed == b"".join(pieces)


def test_proxy_terminates_tls_as_a_front(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        assert writer.get_extra_info("ssl_object") is not None
        writer.write(b"over tls\n")
        await writer.drain()
        return await reader.readline()

    line = asyncio.run(
        _with_echo_proxy(0.0, exchange, certs.server_context(), certs.client_context())
    )
    assert line == b"over tls\n"


def test_proxy_rejects_negative_rtt() -> None:
    with pytest.raises(ValueError, match="rtt"):
        DelayProxy("127.0.0.1", 25, rtt=-1)


# --- smtp-sink, the proxy process and the contestants --------------------------------------


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    if not HAVE_POSTFIX:
        pytest.skip("Postfix smtp-sink/smtp-source missing")
    with SmtpSink() as running:
        yield running


@needs_postfix
def test_sink_advertises_pipelining_and_counts_messages(sink: SmtpSink) -> None:
    before = sink.messages_received()
    with smtplib.SMTP(sink.host, sink.port, local_hostname="test.localhost") as client:
        client.ehlo()
        assert client.has_extn("pipelining")
        for message in make_messages(3):
            client.sendmail(SENDER, [RECIPIENT], message)
    assert sink.wait_for_messages(before + 3) == before + 3


@needs_postfix
def test_proxy_process_forwards_smtp_and_adds_the_delay(sink: SmtpSink) -> None:
    rtt = 0.03
    with ProxyProcess(sink.host, sink.port, rtt=rtt) as proxy:
        before = sink.messages_received()
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", proxy.port, local_hostname="test.localhost") as client:
            client.sendmail(SENDER, [RECIPIENT], make_messages(1)[0])
        elapsed = time.perf_counter() - start
    # greeting (half), EHLO, MAIL, RCPT, DATA, end of data, QUIT: at least 6 round trips.
    assert elapsed >= 6 * rtt
    assert sink.wait_for_messages(before + 1) == before + 1


@needs_postfix
@pytest.mark.parametrize(
    ("run", "connections"),
    [(run_smtplib, 1), (run_aiosmtplib, 1), (run_aiosmtplib, 3), (run_smtp_source, 2)],
)
def test_contestant_delivers_every_message(
    sink: SmtpSink, run: RunFunction, connections: int
) -> None:
    messages = make_messages(7)
    before = sink.messages_received()
    elapsed = run(Endpoint(sink.host, sink.port), messages, connections)
    assert elapsed > 0
    assert sink.wait_for_messages(before + 7) == before + 7


@needs_postfix
def test_peers_send_over_the_implicit_tls_front(sink: SmtpSink, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    with ProxyProcess(sink.host, sink.port, certfile=str(certs.cert_chain_path),
                      keyfile=str(certs.key_path)) as front:  # fmt: skip
        endpoint = Endpoint("127.0.0.1", front.port, implicit_tls=True, ca_path=str(certs.ca_path))
        before = sink.messages_received()
        run_smtplib(endpoint, make_messages(2), 1)
        run_aiosmtplib(endpoint, make_messages(2), 1)
        with pytest.raises(ContestantUnavailable, match="TLS"):
            run_smtp_source(endpoint, make_messages(1), 1)
    assert sink.wait_for_messages(before + 4) == before + 4


@needs_postfix
def test_cdomail_contestant_runs_or_says_why_not(sink: SmtpSink) -> None:
    endpoint = Endpoint(sink.host, sink.port)
    try:
        import_cdomail("SMTPClient")
    except ContestantUnavailable:
        with pytest.raises(ContestantUnavailable, match=r"cdomail\.SMTPClient"):
            run_cdomail_sync(endpoint, make_messages(5), 1)
        return
    before = sink.messages_received()
    run_cdomail_sync(endpoint, make_messages(5), 1)
    assert sink.wait_for_messages(before + 5) == before + 5


@needs_postfix
def test_bigmail_child_reports_time_and_memory(sink: SmtpSink, tmp_path: Path) -> None:
    attachment = make_attachment(tmp_path / "a.bin", 2 * 1024 * 1024)
    before = sink.messages_received()
    result = run_bigmail("smtplib", sink.host, sink.port, attachment)
    assert result.elapsed > 0
    # smtplib + email hold the base64 text and more: at least the attachment's size in memory.
    assert result.rss_growth_bytes >= 2 * 1024 * 1024
    assert sink.wait_for_messages(before + 1) == before + 1


# --- target evaluation (pure) ---------------------------------------------------------------


def test_targets_pass_fail_and_not_measurable() -> None:
    results = BenchResults(BenchConfig(scenarios=("1", "5")))
    results.measurements = [
        Measurement("1", "cdomail", 100, seconds=1.0),
        Measurement("1", "smtplib", 100, seconds=3.0),  # cdomail 3× faster: passes ≥ 2×
        Measurement("1", "smtp-source", 100, seconds=0.5),  # cdomail 0.5×: fails ≥ 1×
        Measurement("5", "cdomail", 1, error="skipped: not yet"),
        Measurement("5", "smtplib", 1, seconds=4.0, rss_growth_bytes=280 << 20),
    ]
    outcomes = {(o.target.scenario, o.target.peer or o.target.kind): o
                for o in evaluate_targets(results)}  # fmt: skip
    assert set(outcomes) == {("1", "smtplib"), ("1", "smtp-source"), ("5", "smtplib"),
                             ("5", "rss")}  # fmt: skip
    assert outcomes["1", "smtplib"].passed is True
    assert outcomes["1", "smtplib"].achieved == pytest.approx(3.0)
    assert outcomes["1", "smtp-source"].passed is False
    assert outcomes["5", "smtplib"].passed is None
    assert "not yet" in outcomes["5", "rss"].reason


# --- the command line -------------------------------------------------------------------------


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    from cdomail.bench.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "--quick" in capsys.readouterr().out


@needs_postfix
def test_quick_run_writes_docs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cdomail.bench.__main__ import main

    report = tmp_path / "out" / "bench.md"
    status = main(["--quick", "--scenario", "1", "--output", str(report)])
    output = capsys.readouterr().out
    assert status in (0, 1)  # 1 only if cdomail exists and misses a target
    assert "smtp-source" in output
    markdown = report.read_text(encoding="utf-8")
    assert "| smtplib | 40 |" in markdown
    assert "python -m cdomail.bench --quick --scenario 1" in markdown
    assert (tmp_path / "out" / "bench.png").read_bytes().startswith(b"\x89PNG")
