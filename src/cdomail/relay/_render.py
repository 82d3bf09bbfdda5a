"""What ``relay status|list|show`` print: JSON documents and plain text for people.

Addresses, HELO names and upstream replies come from senders and servers, so every piece of
them shown to a person goes through :func:`cdomail.errors.printable`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from ..errors import printable
from ._model import MessageDetail, MessageSummary

__all__ = ["detail_text", "detail_to_dict", "list_text", "status_text", "summary_to_dict"]


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def summary_to_dict(summary: MessageSummary) -> dict[str, Any]:
    return dataclasses.asdict(summary)


def detail_to_dict(detail: MessageDetail) -> dict[str, Any]:
    document = dataclasses.asdict(detail)
    document["attempt_outcomes"] = [
        {address: dataclasses.asdict(outcome) for address, outcome in outcomes.items()}
        for outcomes in detail.attempt_outcomes]
    return document


def status_text(status: Mapping[str, Any]) -> str:
    counts = status["counts"]
    lines = ["recipients: " + ", ".join(f"{state} {number}" for state, number in counts.items()),
             f"oldest queued: {_age(status['oldest_queued_age_seconds'])}"]
    hold = status["queue_hold"]
    lines.append(f"queue: ON HOLD ({printable(hold)})" if hold else "queue: delivering")
    for key, fact in status["health"].items():
        lines.append(f"{printable(key)}: {printable(str(fact['value']))}"
                     f" (at {_when(fact['updated_at'])})")
    if not status["health"]:
        lines.append("upstream: no delivery attempt recorded yet")
    lines.extend(_nodes_text(status.get("nodes", [])))
    return "\n".join(lines)


def _nodes_text(nodes: list[Mapping[str, Any]]) -> list[str]:
    """One line per ``relay run`` node: id, host and pid, last heartbeat, messages it holds."""
    if not nodes:
        return ["nodes: none running"]
    lines = [f"nodes: {sum(1 for node in nodes if node['alive'])} alive of {len(nodes)}"]
    for node in nodes:
        lines.append(
            f"  {printable(node['id'])} {printable(node['host'])} pid {node['pid']}"
            f" {'alive' if node['alive'] else 'NOT SEEN'} last seen {_when(node['last_seen'])}"
            f" started {_when(node['started_at'])} in flight {node['in_flight']}"
            f" listening {printable(node['listeners']) or '-'}")
    return lines


def list_text(summaries: list[MessageSummary]) -> str:
    if not summaries:
        return "no messages"
    lines = [f"{'ID':32}  {'STATE':18} {'RCPT':>4} {'SIZE':>9} {'TRIES':>5}  RECEIVED"
             "              SENDER"]
    for s in summaries:
        state = s.state + (f" ({s.held_reason})" if s.held_reason and s.state == "held" else "")
        lines.append(f"{s.id:32}  {printable(state, newlines=False):18} {s.recipients:>4}"
                     f" {s.size:>9} {s.attempts:>5}  {_when(s.received_at)}"
                     f"  {printable(s.sender or '<>', newlines=False)}")
    return "\n".join(lines)


def detail_text(detail: MessageDetail) -> str:
    s, arrival = detail.summary, detail.arrival
    tls = (f"{arrival.tls_version} {arrival.tls_cipher}" if arrival.tls_version
           else "no TLS (plaintext)")
    lines = [
        f"message {s.id}: {s.state}" + (f", held: {printable(s.held_reason)}"
                                        if s.held_reason else ""),
        f"  Message-ID: {printable(detail.message_id_header or '-', newlines=False)}",
        f"  from: {printable(s.sender or '<>', newlines=False)}   size: {s.size} bytes",
        f"  arrived {_when(arrival.received_at)} from {arrival.client_address}"
        f" (HELO {printable(arrival.helo or '-', newlines=False)}), {tls},"
        f" authenticated as {printable(arrival.authenticated_user or 'nobody')}"
        + (", bare LF line endings normalised to CRLF" if arrival.bare_lf_normalised else ""),
        f"  next attempt: {_when(s.next_attempt_at) if s.state in ('queued', 'held') else '-'}",
        "  recipients:",
    ]
    lines += [f"    {printable(r.address, newlines=False)}: {r.state}"
              + (f" — {printable(r.reply, newlines=False)}" if r.reply else "")
              for r in detail.recipients]
    lines.append(f"  attempts: {len(detail.attempts)}")
    for number, attempt in enumerate(detail.attempts, start=1):
        tls_out = (f"{attempt.tls_version}, certificate "
                   f"{'verified' if attempt.cert_verified else 'NOT verified'}"
                   if attempt.tls_version else "no TLS")
        lines.append(f"    #{number} {_when(attempt.started_at)} to"
                     f" {printable(attempt.upstream, newlines=False)} ({tls_out}):"
                     f" {printable(attempt.reply or attempt.error or '-', newlines=False)}")
    return "\n".join(lines)
