"""Presenting a benchmark run: rich tables on the terminal, Markdown + a PNG chart for docs."""

from __future__ import annotations

import datetime
import platform
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cdomail.bench._scenarios import (
    MIB,
    SCENARIOS,
    BenchResults,
    Measurement,
    Scenario,
    TargetOutcome,
    evaluate_targets,
)

__all__ = ["machine_facts", "print_results", "render_markdown", "write_chart"]


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _selected(results: BenchResults) -> list[Scenario]:
    return [s for s in SCENARIOS if s.key in results.config.scenarios]


def _cdomail_name(scenario: Scenario) -> str:
    return next((n for n in scenario.contestants if n.startswith("cdomail")), "cdomail")


def _spread(values: Sequence[float]) -> str:
    """``min / median / max`` of several figures (one figure: just it)."""
    if not values:
        return "–"
    if len(values) == 1:
        return _fmt_rate(values[0])
    return " / ".join(_fmt_rate(v) for v in (min(values), statistics.median(values), max(values)))


def _row(results: BenchResults, scenario: Scenario, measurement: Measurement) -> list[str]:
    """Cells: contestant, messages, seconds, msg/s, min/median/max, % of limit, cdomail ÷ this,
    RSS, note."""
    limit = results.limit(scenario)
    rate = measurement.rate
    ours = results.find(scenario.key, _cdomail_name(scenario))
    ratio = "–"
    if ours is not None and ours is not measurement and ours.seconds and measurement.seconds:
        # For the attachment the figure that matters is time, so compare times there.
        if scenario.attachment:
            ratio = f"{measurement.seconds / ours.seconds:.2f}× faster"
        elif ours.rate and rate:
            ratio = _fmt_ratio(ours.rate / rate)
    rss = "–"
    if measurement.rss_growth_bytes is not None:
        rss = f"{measurement.rss_growth_bytes / MIB:,.1f} MiB"
    share = f"{100 * rate / limit:.0f} %" if rate and limit and not scenario.attachment else "–"
    return [
        measurement.contestant,
        str(measurement.messages),
        "–" if measurement.seconds is None else f"{measurement.seconds:.3f}",
        "–" if scenario.attachment else _fmt_rate(rate),
        "–" if scenario.attachment else _spread(measurement.rates()),
        share,
        ratio,
        rss,
        measurement.error or measurement.note,
    ]


_COLUMNS = ("contestant", "messages", "seconds", "msg/s", "msg/s min / median / max",
            "% of limit", "cdomail ÷ this", "peak RSS growth", "note")  # fmt: skip
_TARGET_COLUMNS = ("scenario", "comparison", "target", "achieved", "per round min / median / max",
                   "result", "why N/A")  # fmt: skip


def _target_cells(outcome: TargetOutcome) -> list[str]:
    target = outcome.target
    if target.kind == "rss":
        comparison = f"{target.cdomail}: peak RSS growth"
        wanted = f"≤ {target.ratio:g} MiB"
        achieved = "–" if outcome.achieved is None else f"{outcome.achieved:,.1f} MiB"
    elif target.kind == "time":
        comparison = f"{target.peer} time ÷ {target.cdomail} time"
        wanted = f"≥ {target.ratio:g}×"
        achieved = _fmt_ratio(outcome.achieved)
    else:
        comparison = f"{target.cdomail} ÷ {target.peer} (msg/s)"
        wanted = f"≥ {target.ratio:g}×" + (" (median per round)" if target.paired else " (best)")
        achieved = _fmt_ratio(outcome.achieved)
    ratios = outcome.ratios
    per_round = "–"
    if ratios:
        per_round = " / ".join(_fmt_ratio(r) for r in
                               (min(ratios), statistics.median(ratios), max(ratios)))  # fmt: skip
    verdict = {True: "PASS", False: "FAIL", None: "N/A"}[outcome.passed]
    return [target.scenario, comparison, wanted, achieved, per_round, verdict, outcome.reason]


def _limits_text(results: BenchResults) -> list[str]:
    config = results.config
    lines = []
    if results.sink_rate:
        lines.append(
            f"sink's own rate: {results.sink_rate:,.0f} msg/s (smtp-source -d -s "
            f"{results.sink_rate_sessions} straight to smtp-sink): the ceiling of scenarios "
            "1 and 4"
        )
    if config.rtt_ms > 0:
        per = 1000 / config.rtt_ms
        lines.append(
            f"one round trip per message at {config.rtt_ms:g} ms: {per:,.0f} msg/s on one "
            f"connection, {per * config.connections:,.0f} msg/s on {config.connections} "
            "(scenarios 2 and 3)"
        )
    if results.measured_rtt_ms:
        per = 1000 / results.measured_rtt_ms
        lines.append(
            f"measured round trip through the delay proxy (SMTP NOOP to the sink, median): "
            f"{results.measured_rtt_ms:.1f} ms, so one round trip per message really allows "
            f"{per:,.1f} msg/s on one connection"
        )
    return lines


def print_results(results: BenchResults, console: Console | None = None) -> bool:
    """Print every scenario and the targets; return True when no target failed."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=150)  # logs and pipes: do not squeeze to 80 columns
    for scenario in _selected(results):
        table = Table(title=f"Scenario {scenario.key}: {results.config.title_of(scenario)}")
        for column in _COLUMNS[:-1]:
            table.add_column(column, justify="left" if column == "contestant" else "right")
        notes = []
        for measurement in results.measurements:
            if measurement.scenario == scenario.key:
                *cells, note = _row(results, scenario, measurement)
                table.add_row(*cells)
                if note:
                    notes.append(f"  {measurement.contestant}: {note}")
        console.print(table)
        for note in notes:
            console.print(note, highlight=False)
    for line in _limits_text(results):
        console.print(f"limit: {line}")
    outcomes = evaluate_targets(results)
    table = Table(title="Targets (issues 6 and 13), ratios from this run")
    for column in _TARGET_COLUMNS:
        table.add_column(column)
    styles = {"PASS": "green", "FAIL": "red bold", "N/A": "yellow"}
    for outcome in outcomes:
        cells = _target_cells(outcome)
        table.add_row(*cells, style=styles[cells[5]])
    console.print()
    console.print(table)
    return not any(outcome.passed is False for outcome in outcomes)


def machine_facts() -> dict[str, str]:
    """CPU, memory, kernel, Python and tool versions, as shown in the docs."""
    facts: dict[str, str] = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")]  # fmt: skip
        if models:
            facts["CPU"] = f"{len(models)} × {models[0]}"
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        facts["memory"] = f"{total_kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    facts["kernel"] = f"{platform.system()} {platform.release()}"
    facts["Python"] = f"{platform.python_implementation()} {platform.python_version()}"
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    try:
        version = subprocess.run(
            [postconf, "-h", "mail_version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if version:
            facts["Postfix (smtp-sink, smtp-source)"] = version
    except OSError:
        pass
    try:
        import aiosmtplib

        facts["aiosmtplib"] = aiosmtplib.__version__
    except ImportError:
        pass
    facts["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return facts


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return lines


_BOUNDS = [
    "- Scenarios 1 and 4 (no added delay): with DATA, each message needs one round trip, since "
    "its content may not be sent before the 354 (RFC 2920 §3.1); cdomail hides it by checking "
    "and preparing the next message while the server answers, so it is bound by its own "
    "Python work per message (input checks, commands, reply pairing, results: 75–110 µs "
    "here depending on the machine's load, with one `send` and one `recv` system call). "
    "smtplib waits for four round "
    "trips per message (MAIL, RCPT, DATA, end of data), each a process wake-up. Because one "
    "side is bound by CPU speed and the other by wake-ups, the ratio moves with the machine's "
    "load: on this shared 2-core machine, repeated runs of scenario 1 differ by up to ±15 %.",
    "- Scenarios 2 and 3 (20 ms): one round trip per message per connection is the ceiling; "
    "what is left of it goes to the session itself (greeting, EHLO, the last message's "
    "verdict and QUIT: about four round trips per connection).",
    "- Scenario 5: the attachment is read from disk and base64-encoded block by block while "
    "it is written (`cdomail.StreamedMessage`), so memory does not grow with its size; "
    "smtplib + `email` hold the file, its base64 form and the flattened message at once.",
]


def render_markdown(results: BenchResults, command: str, chart_name: str | None) -> str:
    """The whole ``docs/benchmarks.md`` page for this run."""
    out = [
        "# Throughput benchmarks",
        "",
        "Generated by the benchmark harness (`src/cdomail/bench/`, issue 6); do not edit by "
        "hand — rerun the command below.",
        "",
        "```sh",
        command,
        "```",
        "",
        "One run, one Postfix `smtp-sink` on 127.0.0.1 (PIPELINING advertised; smtp-sink has no "
        "CHUNKING), the same 1 KB-body messages for every contestant. Round-trip time is added "
        "by a userspace delay proxy on loopback (half the RTT per direction, a timestamped queue "
        "per direction so throughput is not limited); implicit TLS is a TLS-terminating front "
        "(a private trustme CA) before the same sink. Each time runs from the first connect to "
        "the last QUIT; the sink's own counter confirms every message arrived. Scenario 5 runs "
        "each sender in a fresh process and reports the growth of its peak resident memory "
        "(`VmHWM`) over its baseline after imports.",
        "",
        "## Running it",
        "",
        "Needs Postfix's test programs (`smtp-sink`, `smtp-source`; Debian/Ubuntu: "
        "`apt-get install postfix`) and the `bench` extra (`pip install -e '.[bench]'`: "
        "aiosmtplib, matplotlib). Everything stays on 127.0.0.1. `--quick` checks the harness "
        "in seconds (its figures mean nothing); `--help` lists the knobs (RTT, connections, "
        "attachment size, repeats). The exit status is 1 when a target fails.",
        "",
        "## How to read the figures",
        "",
        "- *% of limit*: for scenarios 2 and 3 the limit is one round trip per message per "
        "connection at the nominal RTT; for 1 and 4 it is the sink's own rate (below).",
        "- *cdomail ÷ this*: cdomail's messages/s divided by this contestant's (for the "
        "attachment: how many times faster cdomail was).",
        "- Every Python contestant is given the same envelope: smtplib and aiosmtplib as "
        "`sendmail(from, [to], bytes)`, cdomail as `send_many([OutgoingMessage(bytes, "
        "sender=from, recipients=[to]), ...])`. cdomail still checks each address and the "
        "header block (no bare CR/LF, no line over 998 octets, Bcc removed) before sending; "
        "that work is inside its time. smtp-source sends copies of the same message "
        "(`-F`), with `-d` (one session for all messages).",
        "- smtp-sink does not implement CHUNKING, so BDAT is not exercised here; every "
        "contestant uses DATA.",
        "- The TLS front of scenario 4 is a Python asyncio process (a TLS-terminating proxy, "
        "no added delay). Each round trip through it costs some tens of microseconds, which "
        "weighs more on senders that wait for a reply after every command.",
        "- Each figure is the best of `--repeat` runs (contestants run in rotation, the order "
        "reversed every other round); *min / median / max* shows every run, and the targets "
        "table the ratio of each round (both contestants back to back). Targets of scenarios "
        "6-11 are judged on the median of those per-round ratios, the older ones on the best "
        "runs. Peak RSS is the worst of the runs.",
        "- Scenarios 6-11 (issue 13) are the paths users take: `EmailMessage` objects built "
        "with the `email` API (envelope from the headers: `send_message` for the peers, "
        "`send_many(list)` / `cdomail.send(message)` for cdomail), one connection per message "
        "for the one-shot scenarios, and CDO's `Message.Send()`. Inputs are built before the "
        "clock starts and the garbage collector is then frozen (`gc.freeze()`). smtplib gets "
        "its best case: an explicit EHLO name and, for TLS, one default context shared by "
        "all the connections of a run; cdomail runs with its defaults (no EHLO name, no "
        "context) and forgets its shared contexts before each run. Each contestant thus "
        "loads the trust store once per run, inside its time.",
        "- Scenarios 9 and 11 trust the TLS front through the system store: a copy of "
        "`/etc/ssl/certs/ca-certificates.crt` with the benchmark CA appended, named by "
        "`SSL_CERT_FILE` for every contestant, so loading the store costs what it costs "
        "with the real one.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- {key}: {value}" for key, value in machine_facts().items()]
    out += ["", "## Results", ""]
    if chart_name:
        out += [f"![messages per second per scenario]({chart_name})", ""]
    for scenario in _selected(results):
        out += [f"### Scenario {scenario.key}: {results.config.title_of(scenario)}", ""]
        rows = [_row(results, scenario, m) for m in results.measurements
                if m.scenario == scenario.key]  # fmt: skip
        out += [*_markdown_table(_COLUMNS, rows), ""]
    out += ["## Limits", ""]
    out += [f"- {line}" for line in _limits_text(results)]
    out += ["", "## What bounds each figure", "", *_BOUNDS]
    out += ["", "## Targets", ""]
    out += _markdown_table(_TARGET_COLUMNS, [_target_cells(o) for o in evaluate_targets(results)])
    out.append("")
    return "\n".join(out)


def write_chart(results: BenchResults, path: Path) -> None:
    """A PNG: one panel of msg/s per rate scenario, and time + RSS panels for scenario 5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = _selected(results)
    panels: list[tuple[Scenario, str]] = []
    for scenario in scenarios:
        if scenario.attachment:
            panels += [(scenario, "seconds"), (scenario, "rss")]
        else:
            panels.append((scenario, "rate"))
    columns = min(3, max(1, len(panels)))
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    flat = [axis for row in axes for axis in row]
    for axis, (scenario, metric) in zip(flat, panels, strict=False):
        measured = [m for m in results.measurements if m.scenario == scenario.key]
        names = [m.contestant for m in measured]
        if metric == "rate":
            values = [m.rate or 0.0 for m in measured]
            axis.set_ylabel("messages/s")
            limit = results.limit(scenario)
            if scenario.delayed and limit:
                axis.axhline(limit, linestyle="--", color="grey", label="1 RTT per message")
                axis.legend(loc="upper right", fontsize=8)
        elif metric == "seconds":
            values = [m.seconds or 0.0 for m in measured]
            axis.set_ylabel("seconds (lower is better)")
        else:
            values = [(m.rss_growth_bytes or 0) / MIB for m in measured]
            axis.set_ylabel("peak RSS growth, MiB (lower is better)")
            axis.axhline(64, linestyle="--", color="grey", label="target 64 MiB")
            axis.legend(loc="upper left", fontsize=8)
        colours = ["tab:blue" if n.startswith("cdomail") else "tab:grey" for n in names]
        bars = axis.bar(names, values, color=colours)
        labels = [
            "not run" if m.error else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")
            for m, v in zip(measured, values, strict=True)
        ]
        axis.bar_label(bars, labels=labels, fontsize=7, padding=2)
        axis.margins(y=0.15)
        axis.set_title(f"{scenario.key}: {results.config.title_of(scenario)}", fontsize=9)
        axis.tick_params(axis="x", labelsize=8, rotation=15)
    for axis in flat[len(panels) :]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
