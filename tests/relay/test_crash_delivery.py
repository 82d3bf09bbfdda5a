"""kill -9 of `cdomail relay run` while it delivers upstream, at random points, restart, count.

Every message the relay answered 250 must reach the upstream at least once; a message
whose sending failed before its final dot must never reach it. Messages whose final
dot went out but whose reply was lost in the kill are counted separately (the relay
may have stored them: the client cannot know). Duplicates are counted: they can only
come from deliveries in flight when the relay was killed (the upstream had said 250,
the relay died before recording it); the relay records those as status unknown when
it restarts, and the stable Message-ID shows them.

SQLite only: one node's restart finds its own interrupted sends; on PostgreSQL another
node takes them over by lease expiry (tests/relay_pg/test_cluster.py, test_leases.py).
"""

from __future__ import annotations

import random
import smtplib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cdomail.lab import Lab, StoredMessage
from cdomail.relay.spool import Spool

from ._relay import RelayProcess

RUNS = 4


@dataclass
class Ledger:
    """What the legacy sender saw for each Message-ID."""

    accepted: set[str] = field(default_factory=set)  # got 250 after the final dot
    refused: set[str] = field(default_factory=set)  # failed before the final dot went out
    unknown: set[str] = field(default_factory=set)  # dot sent, no reply (relay killed)


def relay_config(path: Path, spool: Path, lab: Lab) -> Path:
    path.write_text(f"""
[[listen]]
address = "127.0.0.1:0"

[spool]
path = "{spool}"

[upstream]
host = "{lab.host}"
port = {lab.port("smtps")}
tls = "implicit"
cafile = "{lab.ca_path}"

[delivery]
concurrency = 2
retry = ["1s"]
max_age = "1h"
""")
    return path


class _DotSent(Exception):
    pass


def send_one(port: int, message_id: str, ledger: Ledger) -> bool:
    """Send one message; record what the client knows. False when the relay is gone."""
    body = (f"From: app@legacy.test\r\nTo: a@example.test\r\nSubject: crash\r\n"
            f"Message-ID: {message_id}\r\n\r\n" + "line of text\r\n" * 20)
    dot_sent = False
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.helo("legacy-box")
            client.mail("app@legacy.test")
            client.rcpt("a@example.test")
            code, _ = client.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, b"")
            client.send(body.encode() + b".\r\n")
            dot_sent = True
            code, _ = client.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, b"")
    except (OSError, smtplib.SMTPException):
        (ledger.unknown if dot_sent else ledger.refused).add(message_id)
        return False
    ledger.accepted.add(message_id)
    return True


def message_ids(messages: list[StoredMessage]) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in messages:
        for line in message.data.split(b"\r\n"):
            if line.startswith(b"Message-ID: "):
                found[line[12:].decode()] += 1
    return found


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing_that_got_250(tmp_path: Path) -> None:
    rng = random.Random()
    ledger = Ledger()
    with Lab({"smtps": 0}, state_dir=tmp_path / "lab") as lab:
        config = relay_config(tmp_path / "relay.toml", tmp_path / "spool", lab)
        number = 0
        for run in range(RUNS):
            relay = RelayProcess(config)
            # Kill after a random number of further 250s (plus a random instant), so the
            # kill lands mid-intake and mid-delivery whatever the machine's speed.
            target = len(ledger.accepted) + rng.randint(30, 110)
            pause = rng.uniform(0.0, 0.3)

            def kill_later(relay: RelayProcess = relay, target: int = target,
                           pause: float = pause) -> None:
                while len(ledger.accepted) < target and relay.process.poll() is None:
                    time.sleep(0.002)
                time.sleep(pause)
                relay.kill()

            killer = threading.Thread(target=kill_later)
            killer.start()
            try:
                while True:
                    number += 1
                    if not send_one(relay.port, f"<crash-{run}-{number}@legacy.test>", ledger):
                        break
            finally:
                killer.join()
                relay.close()
        # A last, undisturbed run delivers what the killed ones left queued.
        relay = RelayProcess(config)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if ledger.accepted <= set(message_ids(lab.messages)):
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # let anything still queued (the unknown ones) go out
            assert relay.terminate() == 0
        finally:
            relay.close()
        delivered = message_ids(lab.messages)
    with Spool.open(tmp_path / "spool") as spool:
        records = {d.message_id_header: d for d in
                   (spool.show(s.id) for s in spool.list(limit=100_000))}
    lost = ledger.accepted - set(delivered)
    wrongly_delivered = ledger.refused & set(delivered)
    duplicated = {mid: n for mid, n in delivered.items() if n > 1}
    report = (f"runs={RUNS} accepted={len(ledger.accepted)} refused={len(ledger.refused)}"
              f" unknown-at-dot={len(ledger.unknown)} delivered={len(delivered)}"
              f" lost={len(lost)} duplicated={len(duplicated)}"
              f" unknown-delivered={len(ledger.unknown & set(delivered))}")
    print(report)
    assert len(ledger.accepted) >= 100, report  # "hundreds of messages" across the runs
    assert not lost, report
    assert not wrongly_delivered, report
    # Every duplicate was in flight at a kill, and its record says the status was unknown.
    for message_id in duplicated:
        outcomes = records[message_id].attempt_outcomes
        assert any(o.state == "unknown" for attempt in outcomes for o in attempt.values()), (
            message_id, records[message_id])
    # Every message accepted ends delivered in the relay's own records too.
    assert all(r.state == "delivered" for mid in ledger.accepted
               for r in records[mid].recipients), report
