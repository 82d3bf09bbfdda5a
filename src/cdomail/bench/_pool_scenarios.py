"""Benchmark scenario P: the pools against the sink's own capacity, and their memory.

* Capacity: at 1, 2, 4 and 8 sessions, ``smtp-source -s N`` (Postfix, C) measures
  what the sink takes; then ``AsyncPool(max_connections=N)`` and
  ``ProcessPool(max_connections=N)`` send the same number of messages as bytes and
  as ``EmailMessage`` objects. Each figure is a share of that run's capacity at the
  same session count (issue 13 targets: ≥ 60 % for bytes, ≥ 30 % for EmailMessage).
* Memory: a fresh process sends 100,000 ``EmailMessage`` objects from a generator
  (``AsyncPool(4).send_many(..., compact=True)``, ``AsyncPool(4).send_iter`` and
  ``SMTPClient.send_many(..., compact=True)``) and reports its peak RSS growth
  (``VmHWM``) over the baseline taken after connecting (target ≤ 64 MiB).

Run alone: ``python -m cdomail.bench --scenario P``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial
from typing import TYPE_CHECKING, Any

from cdomail.bench._contestants import (
    RECIPIENT,
    SENDER,
    Endpoint,
    make_messages,
    run_smtp_source,
)
from cdomail.bench._sink import SmtpSink

if TYPE_CHECKING:
    from cdomail.bench._scenarios import BenchConfig, Measurement

__all__ = ["CONNECTION_COUNTS", "POOL_SCENARIO_KEY", "make_email", "run_pool_scenarios"]

POOL_SCENARIO_KEY = "P"
CONNECTION_COUNTS = (1, 2, 4, 8)
MEMORY_MESSAGES = 100_000
MEMORY_MODES = ("AsyncPool(4).send_many compact", "AsyncPool(4).send_iter",
                "SMTPClient.send_many compact")
_BODY = "The quick brown fox jumps over the lazy dog, 0123456789 ABCDEF.\n" * 15

Progress = Callable[[str], None]


def make_email(number: int) -> EmailMessage:
    """One distinct ~1 KB text message as an EmailMessage (cheap to build)."""
    message = EmailMessage()
    message["From"] = f"Bench <{SENDER}>"
    message["To"] = f"Sink <{RECIPIENT}>"
    message["Subject"] = f"benchmark message {number}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{number}.pool@bench.localhost>"
    message["Content-Type"] = "text/plain; charset=us-ascii"
    message.set_payload(_BODY)
    return message


def run_pool_scenarios(
    sink: SmtpSink, config: BenchConfig, progress: Progress
) -> list[Measurement]:
    """Every pool measurement of scenario P (the caller's ``Measurement`` rows)."""

    count = 400 if config.quick else max(1, round(20_000 * config.scale))
    raw = make_messages(count)
    emails = [make_email(n) for n in range(count)]
    gc.freeze()  # the inputs are not the contestants' garbage to collect
    endpoint = Endpoint(sink.host, sink.port)
    measurements: list[Measurement] = []
    for sessions in CONNECTION_COUNTS:
        runs: list[tuple[str, Callable[[], float]]] = [
            (f"smtp-source ×{sessions}", partial(run_smtp_source, endpoint, raw, sessions)),
            (f"AsyncPool bytes ×{sessions}", partial(_async_pool, sink, raw, sessions)),
            (f"ProcessPool bytes ×{sessions}", partial(_process_pool, sink, raw, sessions)),
            (f"AsyncPool EmailMessage ×{sessions}", partial(_async_pool, sink, emails, sessions)),
            (f"ProcessPool EmailMessage ×{sessions}",
             partial(_process_pool, sink, emails, sessions)),
        ]
        best: dict[str, Measurement] = {}
        for _round in range(config.repeat):  # contestants alternate within each round
            for name, run in runs:
                measurement = _timed(sink, name, count, run)
                current = best.get(name)
                if current is None or (measurement.seconds or 1e9) < (current.seconds or 1e9):
                    best[name] = measurement
        capacity = best[runs[0][0]].rate
        for name, _ in runs:
            measurement = best[name]
            if capacity and measurement.rate:
                measurement.note = f"{100 * measurement.rate / capacity:.0f} % of the sink"
            progress(f"  {name}: {_rate_text(measurement)} {measurement.note}"
                     f"{measurement.error or ''}")
            measurements.append(measurement)
    memory_messages = 2_000 if config.quick else MEMORY_MESSAGES
    for mode in MEMORY_MODES:
        measurements.append(_memory(sink, mode, memory_messages, progress))
    gc.unfreeze()
    return measurements


def _rate_text(measurement: Measurement) -> str:
    return f"{measurement.rate:,.0f} msg/s" if measurement.rate else "–"


def _timed(sink: SmtpSink, name: str, count: int, run: Callable[[], float]) -> Measurement:
    from cdomail.bench._scenarios import Measurement

    measurement = Measurement(POOL_SCENARIO_KEY, name, count)
    before = sink.messages_received()
    try:
        measurement.seconds = run()
    except Exception as exc:
        measurement.error = f"failed: {type(exc).__name__}: {exc}"
        return measurement
    arrived = sink.wait_for_messages(before + count) - before
    if arrived != count:
        measurement.error = f"sink counted {arrived} of {count} messages"
        measurement.seconds = None
    return measurement


def _async_pool(sink: SmtpSink, messages: list[Any], sessions: int) -> float:
    import cdomail

    async def main() -> float:
        async with cdomail.AsyncPool(sink.host, sink.port, tls="none",
                                     max_connections=sessions) as pool:
            start = time.perf_counter()
            results = await pool.send_many(messages, compact=True)
            elapsed = time.perf_counter() - start
        _check(results)
        return elapsed

    return asyncio.run(main())


def _process_pool(sink: SmtpSink, messages: list[Any], sessions: int) -> float:
    import cdomail

    # The worker processes start before the clock, as a Pool's connections open in it:
    # process start-up is a one-time cost a long-running sender does not pay per batch.
    with cdomail.ProcessPool(sink.host, sink.port, tls="none",
                             max_connections=sessions) as pool:
        start = time.perf_counter()
        results = pool.send_many(messages, compact=True)
        elapsed = time.perf_counter() - start
    _check(results)
    return elapsed


def _check(results: list[Any]) -> None:
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} messages failed, first: {failed[0]}")


def _memory(sink: SmtpSink, mode: str, count: int, progress: Progress) -> Measurement:
    from cdomail.bench._scenarios import Measurement

    name = f"{mode}, {count:,} from a generator"
    measurement = Measurement(POOL_SCENARIO_KEY, name, count)
    progress(f"  {name}: peak RSS growth in a fresh process")
    argv = [sys.executable, "-m", "cdomail.bench._pool_scenarios", mode, sink.host,
            str(sink.port), str(count)]
    before = sink.messages_received()
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        measurement.error = f"failed: {completed.stderr.strip()[-300:]}"
        return measurement
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    arrived = sink.wait_for_messages(before + count) - before
    if arrived < count or figures["ok"] != count:
        measurement.error = f"sink counted {arrived}, results ok {figures['ok']} of {count}"
        return measurement
    measurement.seconds = figures["seconds"]
    measurement.rss_growth_bytes = figures["rss_growth_bytes"]
    progress(f"    +{figures['rss_growth_bytes'] / 2**20:.1f} MiB")
    return measurement


# -- the memory measurement's own process ----------------------------------------------


def _peak_rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _generated(count: int) -> Iterator[EmailMessage]:
    for number in range(count):
        yield make_email(number)


def _measure_memory(mode: str, host: str, port: int, count: int) -> dict[str, float]:
    import cdomail

    figures: dict[str, float] = {}
    if mode.startswith("SMTPClient"):
        with cdomail.SMTPClient(host, port, tls="none") as client:
            baseline = _peak_rss_bytes()
            start = time.perf_counter()
            figures["ok"] = sum(r.ok for r in client.send_many(_generated(count), compact=True))
    else:
        async def main() -> int:
            async with cdomail.AsyncPool(host, port, tls="none", max_connections=4) as pool:
                if mode.endswith("send_iter"):
                    ok = 0
                    async for result in pool.send_iter(_generated(count)):
                        ok += result.ok
                    return ok
                results = await pool.send_many(_generated(count), compact=True)
                return sum(r.ok for r in results)

        baseline = _peak_rss_bytes()
        start = time.perf_counter()
        figures["ok"] = asyncio.run(main())
    figures["seconds"] = time.perf_counter() - start
    figures["rss_growth_bytes"] = _peak_rss_bytes() - baseline
    return figures


def main(argv: list[str]) -> int:
    mode, host, port, count = argv[0], argv[1], int(argv[2]), int(argv[3])
    if mode not in MEMORY_MODES:
        print(f"unknown mode {mode!r}; one of {MEMORY_MODES}", file=sys.stderr)
        return 64
    print(json.dumps(_measure_memory(mode, host, port, count)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
