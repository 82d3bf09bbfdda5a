"""Ctrl-C mid-batch: a real SIGINT to a process sending a batch to a slow lab.

The batch reports every message it took: "ok" ones were stored, "not sent" ones
were not, and whatever else the lab stored was reported "status unknown".
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from cdomail.lab import Lab

SCRIPT = Path(__file__).with_name("_interrupted_batch.py")
COUNT = 2000


def stored_indexes(lab: Lab) -> Counter[int]:
    subjects = (str(message_from_bytes(m.data, policy=policy.default)["Subject"])
                for m in lab.messages)
    return Counter(int(subject.removeprefix("int ")) for subject in subjects)


def interrupt_batch(lab: Lab, mode: str) -> list[str]:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), mode, "127.0.0.1", str(lab.port("plain")), str(COUNT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while len(lab.messages) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(lab.messages) >= 10, "the batch never got going"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err, err
    statuses = json.loads(out.strip().splitlines()[-1])
    assert isinstance(statuses, list), out
    time.sleep(0.5)  # a message whose final dot arrived may still be stored
    return statuses


@pytest.mark.lab(latency_ms=5)
@pytest.mark.parametrize("mode", ["client", "pool", "async-pool", "process-pool"])
def test_sigint_mid_batch_reports_what_the_lab_stored(lab: Lab, mode: str) -> None:
    statuses = interrupt_batch(lab, mode)
    stored = stored_indexes(lab)
    assert all(n == 1 for n in stored.values()), "a message was stored twice"
    counts = Counter(statuses)
    assert set(counts) <= {"ok", "unknown", "not sent"}, counts
    assert 0 < len(statuses) < COUNT  # interrupted mid-batch, results for what it took
    # At the signal the lab held 10 messages: each reported ok, or unknown (reply unread).
    assert counts["ok"] + counts["unknown"] >= 10
    for index, state in enumerate(statuses):
        if state == "ok":
            assert index in stored, f"message {index} reported ok, not stored"
        elif state == "not sent":
            assert index not in stored, f"message {index} reported not sent, but stored"
    # Everything stored was reported: accepted, or status unknown (never "not sent").
    assert all(index < len(statuses) and statuses[index] in ("ok", "unknown")
               for index in stored), (counts, sorted(stored))
    assert counts["ok"] <= len(stored) <= counts["ok"] + counts["unknown"]
