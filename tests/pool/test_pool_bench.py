"""The benchmark's pool scenario: its memory probe runs and counts what it sent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cdomail.bench._pool_scenarios import MEMORY_MODES, make_email
from cdomail.lab import Lab


@pytest.mark.parametrize("mode", MEMORY_MODES)
def test_memory_probe_sends_every_message_and_reports_its_peak(lab: Lab, mode: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "cdomail.bench._pool_scenarios", mode, "127.0.0.1",
         str(lab.port("plain")), "120"],
        capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 0, completed.stderr
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["ok"] == 120
    assert 0 <= figures["rss_growth_bytes"] < 64 * 2**20
    assert figures["seconds"] > 0
    assert len(lab.messages) == 120


def test_memory_probe_refuses_an_unknown_mode() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "cdomail.bench._pool_scenarios", "nonsense", "127.0.0.1",
         "1", "1"], capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 64 and "unknown mode" in completed.stderr


def test_bench_messages_serialise_to_distinct_text_messages() -> None:
    first, second = make_email(1).as_bytes(), make_email(2).as_bytes()
    assert first != second and b"Subject: benchmark message 1" in first
    assert b"Content-Type: text/plain" in first and b"\nThe quick brown fox" in first
