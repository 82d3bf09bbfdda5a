"""``python -m cdomail.bench.relay``: the relay benchmark of issue 15 (harness).

End to end on loopback, in the same run: ``smtp-source`` -> relay -> ``smtp-sink``, for

* ``cdomail relay run`` (a child process, the spool with WAL + ``synchronous=FULL``), and
* Postfix configured as a relay (its own ``smtpd`` -> queue -> ``smtp``, fsync'd queue files),

and prints messages per second from the first byte sent to the last message counted by the
sink, the time the intake took (when the last 250 was given), and the latency from arrival to
upstream delivery (cdomail: its own records, arrival to the upstream's verdict; Postfix: the
``delay=`` of its ``status=sent`` log lines). Target (issue 15): cdomail at least half of
Postfix's end-to-end rate on this machine.

Needs Postfix (``smtp-source``, ``smtp-sink``, ``postfix``) and root for the Postfix peer.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cdomail.bench._contestants import Endpoint, make_messages, run_smtp_source
from cdomail.bench._postfix_relay import postfix_relay
from cdomail.bench._sink import PostfixToolMissing, SmtpSink
from cdomail.relay.spool import Spool

__all__ = ["RelayMeasurement", "main", "measure_cdomail_relay", "measure_postfix_relay"]

#: Issue 15: cdomail's end-to-end rate must be at least this share of Postfix's.
TARGET_SHARE = 0.5
_READY = re.compile(r"ready: accepting on (\S+):(\d+)")


@dataclass
class RelayMeasurement:
    """One relay's run: ``error`` set when it could not run."""

    name: str
    messages: int
    seconds: float | None = None
    intake_seconds: float | None = None
    latencies: Sequence[float] = ()
    error: str | None = None

    @property
    def rate(self) -> float | None:
        """End-to-end messages per second."""
        return None if not self.seconds else self.messages / self.seconds

    def latency_text(self) -> str:
        if not self.latencies:
            return "-"
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def _through(sink: SmtpSink, entry: Endpoint, count: int, sessions: int,
             timeout: float) -> tuple[float, float]:
    """Send ``count`` messages to ``entry``; (intake seconds, seconds until the sink had all)."""
    before = sink.messages_received()
    start = time.perf_counter()
    intake = run_smtp_source(entry, make_messages(1) * count, sessions)
    reached = sink.wait_for_messages(before + count, timeout=timeout)
    elapsed = time.perf_counter() - start
    if reached < before + count:
        raise RuntimeError(f"the sink got {reached - before} of {count} messages in time")
    return intake, elapsed


@contextmanager
def _cdomail_relay(workdir: Path, sink: SmtpSink, concurrency: int) -> Iterator[Endpoint]:
    config = workdir / "relay.toml"
    config.write_text(
        f'[[listen]]\naddress = "127.0.0.1:0"\n\n[spool]\npath = "{workdir / "spool"}"\n\n'
        f'[upstream]\nhost = "{sink.host}"\nport = {sink.port}\ntls = "none"\n'
        f"allow_plaintext = true\n\n[delivery]\nconcurrency = {concurrency}\n")
    with relay_node(config) as entry:
        yield entry


@contextmanager
def relay_node(config: Path) -> Iterator[Endpoint]:
    """``cdomail relay run --config CONFIG`` as a child process, until the block ends (SIGTERM)."""
    process = subprocess.Popen([sys.executable, "-m", "cdomail", "relay", "run", "--config",
                                str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    drainer: threading.Thread | None = None
    try:
        for line in process.stderr:
            found = _READY.search(line)
            if found:
                break
        else:
            raise RuntimeError(f"cdomail relay run exited {process.wait()} before it was ready")
        drainer = threading.Thread(target=process.stderr.read, daemon=True)
        drainer.start()
        yield Endpoint(found.group(1), int(found.group(2)))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drainer is not None:
            drainer.join(5)
        process.stderr.close()


def _spool_latencies(spool_path: Path) -> list[float]:
    with Spool.open(spool_path) as spool:
        details = [spool.show(summary.id) for summary in spool.list(limit=1_000_000)]
    return [recipient.updated_at - detail.arrival.received_at for detail in details
            for recipient in detail.recipients if recipient.state == "delivered"]


def measure_cdomail_relay(sink: SmtpSink, count: int, sessions: int, concurrency: int,
                          timeout: float) -> RelayMeasurement:
    """smtp-source -> ``cdomail relay run`` -> the sink."""
    result = RelayMeasurement("cdomail relay", count)
    with tempfile.TemporaryDirectory(prefix="cdomail-bench-relay-") as tmp:
        workdir = Path(tmp)
        try:
            with _cdomail_relay(workdir, sink, concurrency) as entry:
                result.intake_seconds, result.seconds = _through(sink, entry, count, sessions,
                                                                 timeout)
            result.latencies = _spool_latencies(workdir / "spool")
        except (OSError, RuntimeError) as error:
            result.error = str(error)
    return result


def measure_postfix_relay(sink: SmtpSink, count: int, sessions: int, concurrency: int,
                          timeout: float) -> RelayMeasurement:
    """smtp-source -> a private Postfix relay -> the sink."""
    result = RelayMeasurement("Postfix relay", count)
    try:
        with postfix_relay((sink.host, sink.port), concurrency=concurrency) as relay:
            entry = Endpoint(relay.host, relay.port)
            result.intake_seconds, result.seconds = _through(sink, entry, count, sessions, timeout)
            time.sleep(0.5)  # the log line of the last delivery is written just after it
            result.latencies = relay.delivery_delays()
    except (OSError, RuntimeError, subprocess.SubprocessError, PostfixToolMissing) as error:
        result.error = str(error)
    return result


def report(results: Sequence[RelayMeasurement], sessions: int, concurrency: int) -> str:
    """The table, and whether the target was met."""
    lines = [f"relay benchmark: smtp-source ({sessions} sessions) -> relay ({concurrency} upstream"
             " connections) -> smtp-sink, loopback, durability on", "",
             f"{'relay':<15} {'messages':>8} {'msg/s':>8} {'intake s':>9}  250 -> upstream"]
    for result in results:
        if result.error is not None:
            lines.append(f"{result.name:<15} {result.messages:>8}  did not run: {result.error}")
            continue
        lines.append(f"{result.name:<15} {result.messages:>8} {result.rate or 0:>8.1f}"
                     f" {result.intake_seconds or 0:>9.2f}  {result.latency_text()}")
    rates = {r.name: r.rate for r in results}
    ours, peer = rates.get("cdomail relay"), rates.get("Postfix relay")
    if ours and peer:
        share = ours / peer
        verdict = "met" if share >= TARGET_SHARE else "NOT met"
        lines += ["", f"cdomail / Postfix end-to-end: {share:.2f} (target >= {TARGET_SHARE}):"
                      f" {verdict}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both relays against one sink and print the table; 1 when something did not run."""
    parser = argparse.ArgumentParser(prog="python -m cdomail.bench.relay",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000, help="messages per relay (2000)")
    parser.add_argument("--sessions", type=int, default=8, help="smtp-source sessions (8)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="upstream connections of each relay (4, cdomail's default)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for the sink to count every message (300)")
    args = parser.parse_args(argv)
    try:
        sink = SmtpSink()
        sink.start()
    except PostfixToolMissing as missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    try:
        results = [
            measure_cdomail_relay(sink, args.messages, args.sessions, args.concurrency,
                                  args.timeout),
            measure_postfix_relay(sink, args.messages, args.sessions, args.concurrency,
                                  args.timeout),
        ]
    finally:
        sink.stop()
    print(report(results, args.sessions, args.concurrency))
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
