"""The run that measures every registered scenario (see ``_registry``) and judges its targets.

One run starts one ``smtp-sink`` and sends every contestant's messages to it: directly, through
a delay proxy (scenarios with a round trip), or through a TLS-terminating front (implicit TLS).
After each contestant the sink's own counter is checked, so a sender that lost messages is
reported as an error, not as fast. Contestants run in rotation, ``--repeat`` rounds; every
round's time is kept (min/median/max, and per-round ratios between contestants).
"""

from __future__ import annotations

import contextlib
import gc
import smtplib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cdomail.bench._bigmail import make_attachment, run_bigmail
from cdomail.bench._contestants import (
    ContestantUnavailable,
    Endpoint,
    make_messages,
    run_smtp_source,
)
from cdomail.bench._model import Scenario, Target
from cdomail.bench._pool_scenarios import run_pool_scenarios
from cdomail.bench._proxy import ProxyProcess
from cdomail.bench._registry import CONTESTANTS, SCENARIOS, TARGETS
from cdomail.bench._sink import SmtpSink
from cdomail.bench._tls import make_certificates, system_bundle_with, trusted_by_default

__all__ = [
    "SCENARIOS",
    "TARGETS",
    "BenchConfig",
    "BenchResults",
    "Measurement",
    "Scenario",
    "Target",
    "TargetOutcome",
    "evaluate_targets",
    "paired_ratios",
    "run_benchmark",
]

MIB = 1024 * 1024


@dataclass(frozen=True)
class BenchConfig:
    """What to run: sizes, delay, and which scenarios."""

    quick: bool = False
    rtt_ms: float = 20.0
    connections: int = 8
    attachment_mb: float = 50.0
    sink_rate_messages: int = 20000
    scenarios: tuple[str, ...] = tuple(s.key for s in SCENARIOS)
    scale: float = 1.0
    repeat: int = 1

    def messages_for(self, scenario: Scenario) -> int:
        """How many messages each contestant sends in ``scenario``."""
        if scenario.attachment:
            return 1
        base = scenario.quick_messages if self.quick else scenario.messages
        return max(1, round(base * self.scale))

    @property
    def attachment_size_mb(self) -> float:
        """Scenario 5's attachment size in MiB (1 MiB in a quick run)."""
        return 1.0 if self.quick else self.attachment_mb

    def title_of(self, scenario: Scenario) -> str:
        """The scenario's title with this run's figures filled in."""
        return scenario.title.format(
            rtt=f"{self.rtt_ms:g}",
            connections=self.connections,
            attachment_mb=f"{self.attachment_size_mb:g}",
        )


@dataclass
class Measurement:
    """One contestant in one scenario; ``error`` set when it did not run or failed."""

    scenario: str
    contestant: str
    messages: int
    seconds: float | None = None
    rss_growth_bytes: int | None = None
    error: str | None = None
    note: str = ""
    #: Seconds of every round that succeeded, in round order (``None``: that round failed).
    samples: list[float | None] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Messages per second, or None if it did not run."""
        if self.seconds is None or self.seconds <= 0:
            return None
        return self.messages / self.seconds

    def rates(self) -> list[float]:
        """Messages per second of every successful round."""
        return [self.messages / s for s in self.samples if s]


@dataclass
class BenchResults:
    """Everything one run measured, plus the limits the figures are compared with."""

    config: BenchConfig
    measurements: list[Measurement] = field(default_factory=list)
    sink_rate: float | None = None
    sink_rate_sessions: int = 16
    measured_rtt_ms: float | None = None

    def find(self, scenario: str, contestant: str) -> Measurement | None:
        """The measurement of ``contestant`` in ``scenario``, if any."""
        for measurement in self.measurements:
            if measurement.scenario == scenario and measurement.contestant == contestant:
                return measurement
        return None

    def limit(self, scenario: Scenario) -> float | None:
        """Upper bound for messages/s in ``scenario`` (None if it has no rate limit)."""
        if scenario.attachment:
            return None
        if scenario.delayed:
            # One round trip per message per connection is the floor for a pipelining
            # client (RFC 2920 §3.1: the '.' reply must be awaited before results are known).
            per_connection = 1000.0 / self.config.rtt_ms if self.config.rtt_ms > 0 else None
            if per_connection is None:
                return self.sink_rate
            bound = per_connection * (self.config.connections if scenario.connections > 1 else 1)
            return min(bound, self.sink_rate) if self.sink_rate else bound
        return self.sink_rate


@dataclass(frozen=True)
class TargetOutcome:
    """A target with the figure this run reached; ``passed`` is None when not measurable."""

    target: Target
    achieved: float | None
    passed: bool | None
    reason: str = ""
    #: The ratio of each round in which both contestants ran (rate targets).
    ratios: tuple[float, ...] = ()


def paired_ratios(ours: Measurement, theirs: Measurement) -> tuple[float, ...]:
    """cdomail's msg/s over the peer's, round by round (each round ran both in turn)."""
    return tuple(
        (ours.messages / mine) / (theirs.messages / other)
        for mine, other in zip(ours.samples, theirs.samples, strict=False)
        if mine and other
    )


def evaluate_targets(results: BenchResults) -> list[TargetOutcome]:
    """Compare cdomail with each peer as issue 6 asks."""
    outcomes = []
    for target in TARGETS:
        if target.scenario not in results.config.scenarios:
            continue
        ours = results.find(target.scenario, target.cdomail)
        theirs = results.find(target.scenario, target.peer) if target.peer else None
        achieved: float | None = None
        reason = ""
        ratios: tuple[float, ...] = ()
        if ours is None or ours.error or ours.seconds is None:
            reason = f"{target.cdomail}: {ours.error if ours else 'not run'}"
        elif target.kind == "rss":
            if ours.rss_growth_bytes is not None:
                achieved = ours.rss_growth_bytes / MIB
        elif theirs is None or theirs.error or theirs.seconds is None:
            reason = f"{target.peer}: {theirs.error if theirs else 'not run'}"
        elif target.kind == "time":
            achieved = theirs.seconds / ours.seconds
        else:
            ratios = paired_ratios(ours, theirs)
            ours_rate, theirs_rate = ours.rate, theirs.rate
            if target.paired:
                achieved = statistics.median(ratios) if ratios else None
            elif ours_rate is not None and theirs_rate:
                achieved = ours_rate / theirs_rate
        if achieved is None:
            outcomes.append(TargetOutcome(target, None, None, reason or "no figure", ratios))
        elif target.kind == "rss":
            outcomes.append(TargetOutcome(target, achieved, achieved <= target.ratio))
        else:
            outcomes.append(TargetOutcome(target, achieved, achieved >= target.ratio, "", ratios))
    return outcomes


Progress = Callable[[str], None]


def _measure(
    sink: SmtpSink,
    scenario: Scenario,
    name: str,
    endpoint: Endpoint,
    messages: list[bytes],
    connections: int,
) -> Measurement:
    measurement = Measurement(scenario.key, name, len(messages))
    before = sink.messages_received()
    # Inputs are built: collections of them must not land in anybody's time (contestants
    # that build their own objects freeze again once they have).
    gc.collect()
    gc.freeze()
    try:
        measurement.seconds = CONTESTANTS[name].run(endpoint, messages, connections)
    except ContestantUnavailable as exc:
        measurement.error = f"skipped: {exc}"
        return measurement
    except Exception as exc:
        measurement.error = f"failed: {type(exc).__name__}: {exc}"
        return measurement
    finally:
        gc.unfreeze()
    arrived = sink.wait_for_messages(before + len(messages)) - before
    if arrived != len(messages):
        measurement.error = f"sink counted {arrived} of {len(messages)} messages"
        measurement.seconds = None
    if connections > 1:
        measurement.note = f"{connections} connections"
    return measurement


@contextlib.contextmanager
def _endpoint_for(
    scenario: Scenario, sink: SmtpSink, config: BenchConfig, workdir: Path
) -> Iterator[Endpoint]:
    if scenario.implicit_tls:
        certs = make_certificates(workdir / "tls")
        with ProxyProcess(
            sink.host, sink.port, certfile=str(certs.cert_chain_path), keyfile=str(certs.key_path)
        ) as front:
            if scenario.system_store:
                bundle = system_bundle_with(certs.ca_path, workdir)
                with trusted_by_default(bundle):
                    yield Endpoint("127.0.0.1", front.port, implicit_tls=True)
            else:
                yield Endpoint("127.0.0.1", front.port, implicit_tls=True,
                               ca_path=str(certs.ca_path))  # fmt: skip
    elif scenario.delayed:
        with ProxyProcess(sink.host, sink.port, rtt=config.rtt_ms / 1000) as proxy:
            yield Endpoint("127.0.0.1", proxy.port)
    else:
        yield Endpoint(sink.host, sink.port)


def _measure_sink_rate(sink: SmtpSink, results: BenchResults, progress: Progress) -> None:
    count = 500 if results.config.quick else results.config.sink_rate_messages
    progress(f"sink's own rate: smtp-source -s {results.sink_rate_sessions}, {count} messages")
    try:
        seconds = _smtp_source_many(sink, count, results.sink_rate_sessions)
    except Exception as exc:
        progress(f"  could not measure the sink's rate: {exc}")
        return
    results.sink_rate = count / seconds


def _smtp_source_many(sink: SmtpSink, count: int, sessions: int) -> float:
    # smtp-source sends copies of one message, so one is enough to describe all ``count``.
    one = make_messages(1)
    return run_smtp_source(Endpoint(sink.host, sink.port), one * count, sessions)


def _send_attachment_once(
    sink: SmtpSink, scenario: Scenario, name: str, attachment: Path
) -> Measurement:
    sender = "cdomail" if name == "cdomail" else "smtplib"
    measurement = Measurement(scenario.key, name, 1)
    before = sink.messages_received()
    try:
        figures = run_bigmail(sender, sink.host, sink.port, attachment)
    except ContestantUnavailable as exc:
        measurement.error = f"skipped: {exc}"
    except Exception as exc:
        measurement.error = f"failed: {exc}"
    else:
        if sink.wait_for_messages(before + 1) - before != 1:
            measurement.error = "the sink did not count the message"
        else:
            measurement.seconds = figures.elapsed
            measurement.rss_growth_bytes = figures.rss_growth_bytes
            measurement.note = figures.variant
    return measurement


def _run_attachment_scenario(
    sink: SmtpSink, scenario: Scenario, config: BenchConfig, workdir: Path, progress: Progress
) -> list[Measurement]:
    size = int(config.attachment_size_mb * MIB)
    attachment = make_attachment(workdir / "attachment.bin", size)
    best: dict[str, Measurement] = {}
    peak: dict[str, int] = {}
    for round_number in range(config.repeat):
        for name in scenario.contestants:
            if name in best and best[name].error:
                continue
            suffix = f" (run {round_number + 1})" if config.repeat > 1 else ""
            progress(f"  {name}: {size / MIB:g} MiB attachment in a fresh process{suffix}")
            measurement = _send_attachment_once(sink, scenario, name, attachment)
            if measurement.error:
                progress(f"    {measurement.error}")
            if measurement.rss_growth_bytes is not None:
                peak[name] = max(peak.get(name, 0), measurement.rss_growth_bytes)
            if _better(measurement, best.get(name)):
                best[name] = measurement
    for name, measurement in best.items():
        # The best time counts, but memory is reported at its worst over the repeats.
        if name in peak:
            measurement.rss_growth_bytes = peak[name]
    return [best[name] for name in scenario.contestants]


def _better(candidate: Measurement, incumbent: Measurement | None) -> bool:
    if incumbent is None:
        return True
    if candidate.seconds is None:
        return False
    return incumbent.seconds is None or candidate.seconds < incumbent.seconds


def _measure_round_trip(endpoint: Endpoint, samples: int = 15) -> float:
    """Median seconds of an SMTP NOOP round trip to the sink through ``endpoint``."""
    times = []
    with smtplib.SMTP(endpoint.host, endpoint.port, local_hostname="bench.localhost") as client:
        client.ehlo()
        for _ in range(samples):
            start = time.perf_counter()
            client.noop()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run_rounds(
    sink: SmtpSink,
    scenario: Scenario,
    config: BenchConfig,
    endpoint: Endpoint,
    messages: list[bytes],
    connections: int,
    progress: Progress,
) -> list[Measurement]:
    """Every contestant once per round; the best run of each, with every round's time."""
    best: dict[str, Measurement] = {}
    samples: dict[str, list[float | None]] = {name: [] for name in scenario.contestants}
    for round_number in range(config.repeat):
        # Rounds alternate the order (A B, B A, ...) so a drift of the machine's load, and
        # whatever one contestant leaves behind for the next, spreads over all of them.
        order = scenario.contestants if round_number % 2 == 0 else scenario.contestants[::-1]
        for name in order:
            if name in best and best[name].error:
                samples[name].append(None)
                continue  # skipped or failed once: do not retry
            suffix = f" (run {round_number + 1})" if config.repeat > 1 else ""
            progress(f"  {name}: {len(messages)} messages{suffix}")
            measurement = _measure(sink, scenario, name, endpoint, messages, connections)
            samples[name].append(measurement.seconds)
            if measurement.error:
                progress(f"    {measurement.error}")
            if _better(measurement, best.get(name)):
                best[name] = measurement
    for name, measurement in best.items():
        measurement.samples = samples[name]
    return [best[name] for name in scenario.contestants]


def run_benchmark(config: BenchConfig, progress: Progress = print) -> BenchResults:
    """Run every selected scenario against one ``smtp-sink``; return all figures."""
    results = BenchResults(config)
    with tempfile.TemporaryDirectory(prefix="cdomail-bench-") as tmp, SmtpSink() as sink:
        workdir = Path(tmp)
        progress(f"smtp-sink listening on {sink.host}:{sink.port}")
        _measure_sink_rate(sink, results, progress)
        for scenario in SCENARIOS:
            if scenario.key not in config.scenarios:
                continue
            progress(f"scenario {scenario.key}: {config.title_of(scenario)}")
            if scenario.key == "P":  # the pools: their own runner (bench/_pool_scenarios.py)
                results.measurements += run_pool_scenarios(sink, config, progress)
                continue
            if scenario.attachment:
                results.measurements += _run_attachment_scenario(
                    sink, scenario, config, workdir, progress
                )
                continue
            count = config.messages_for(scenario)
            connections = config.connections if scenario.connections > 1 else 1
            messages = make_messages(count)
            with _endpoint_for(scenario, sink, config, workdir) as endpoint:
                if scenario.delayed and results.measured_rtt_ms is None:
                    results.measured_rtt_ms = _measure_round_trip(endpoint) * 1000
                    progress(f"  measured round trip through the proxy: "
                             f"{results.measured_rtt_ms:.1f} ms (SMTP NOOP, median)")  # fmt: skip
                results.measurements += _run_rounds(
                    sink, scenario, config, endpoint, messages, connections, progress
                )
    return results
