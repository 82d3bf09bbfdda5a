"""``cdomail send-many``: a folder or an mbox through the pool, the JSON summary checked
against what the lab stored, and Ctrl-C mid-batch."""

from __future__ import annotations

import json
import mailbox
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.lab import Lab

from .conftest import SUBPROCESS_TIMEOUT


def message(number: int) -> bytes:
    return (f"From: batch@cdomail.test\nTo: r{number}@cdomail.test\nSubject: message {number}\n"
            f"\nbody {number}\n").encode()


def server(lab: Lab, listener: str = "starttls") -> list[str]:
    return ["--server", f"localhost:{lab.port(listener)}", "--cafile", str(lab.ca_path)]


def test_folder_of_messages_json_summary(lab: Lab, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    for number in range(12):
        (folder / f"{number:03}.eml").write_bytes(message(number))
    assert main(["send-many", *server(lab), "--messages", str(folder), "--connections", "3",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"messages": 12, "sent": 12, "partially_refused": 0, "refused": 0,
                       "status_unknown": 0, "failed": 0, "encrypted": 12, "not_settled": 0,
                       "interrupted": False}
    assert sorted(m.rcpt_tos[0] for m in lab.messages) == sorted(
        f"r{n}@cdomail.test" for n in range(12))
    assert all(m.encrypted for m in lab.messages)


def test_mbox_with_envelope_override(lab: Lab, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    box = mailbox.mbox(tmp_path / "outbox.mbox")
    for number in range(5):
        box.add(message(number))
    box.flush()
    box.close()
    assert main(["send-many", *server(lab), "--messages", str(tmp_path / "outbox.mbox"),
                 "--to", "archive@cdomail.test", "--from", "bounce@cdomail.test"]) == 0
    out = capsys.readouterr().out
    assert "messages: 5, sent: 5" in out
    assert [m.rcpt_tos for m in lab.messages] == [["archive@cdomail.test"]] * 5
    assert {m.mail_from for m in lab.messages} == {"bounce@cdomail.test"}


def test_plaintext_refusals_are_counted_and_the_status_is_the_error(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(message(1))
    # The plain listener offers no STARTTLS; auto mode demands it: every message fails.
    code = main(["send-many", *server(lab, "plain"), "--messages", str(folder), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 79
    assert summary["failed"] == 1 and summary["sent"] == 0
    assert not lab.messages


@pytest.mark.lab(latency_ms=150)
def test_ctrl_c_mid_batch_prints_the_counts_known_so_far(lab: Lab, tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    for number in range(60):
        (folder / f"{number:03}.eml").write_bytes(message(number))
    process = subprocess.Popen(
        [sys.executable, "-m", "cdomail", "send-many", *server(lab), "--messages", str(folder),
         "--connections", "1", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        limit = time.monotonic() + SUBPROCESS_TIMEOUT
        while len(lab.messages) < 2 and time.monotonic() < limit:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in err
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    stored = len(lab.messages)
    assert 2 <= stored < 60
    # Every message counted as sent is in the lab; the lab holds nothing the summary denies.
    assert summary["sent"] <= stored <= (summary["sent"] + summary["status_unknown"]
                                         + summary["not_settled"])
    assert summary["not_settled"] > 0
    assert b"not sent or with an unknown status" in err
