"""kill -9 under load, repeatedly: every message that got 250 is in the spool exactly once with
its full content; none whose final dot was never sent is there.

A message whose final dot was sent but whose reply never arrived (the relay died in between) may
or may not be in the spool: that is the window RFC 1047 describes, and why the Message-ID is kept
stable. The test counts those separately and prints every count.

SQLite only: file-level durability of the local spool under kill -9; the PostgreSQL
counterpart is the three-node kill test, tests/relay_pg/test_cluster.py.
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdomail.relay.spool import Spool

from ._relay import RelayProcess, relay_toml

ROUNDS = 6
CONNECTIONS = 24


class Phase(enum.Enum):
    BEFORE_DOT = "failed before the final dot"
    UNKNOWN = "final dot sent, no reply"
    ACCEPTED = "250"
    REFUSED = "refused"


@dataclass
class Sent:
    number: int
    content: bytes
    phase: Phase = Phase.BEFORE_DOT


def _content(number: int, rng: random.Random) -> bytes:
    lines = [f"line {i} of message {number} {'x' * rng.randrange(0, 60)}" for i in
             range(rng.randrange(1, 300))]
    return (f"Message-ID: <crash-{number}@test.example>\r\nSubject: crash {number}\r\n\r\n"
            + "\r\n".join(lines) + f"\r\nend of {number}\r\n").encode()


async def _expect(reader: asyncio.StreamReader, code: bytes) -> None:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(line.decode(errors="replace"))
            return


async def _send_one(port: int, sent: Sent) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _expect(reader, b"220")
        for command, code in ((b"HELO crash\r\n", b"250"),
                              (b"MAIL FROM:<load@corp.example>\r\n", b"250"),
                              (b"RCPT TO:<r@x.example>\r\n", b"250"), (b"DATA\r\n", b"354")):
            writer.write(command)
            await _expect(reader, code)
        writer.write(sent.content + b".\r\n")
        await writer.drain()
        sent.phase = Phase.UNKNOWN
        try:
            await _expect(reader, b"250")
        except RuntimeError:
            sent.phase = Phase.REFUSED
            return
        sent.phase = Phase.ACCEPTED
    finally:
        writer.close()


async def _load(port: int, sent: list[Sent], rng: random.Random, kill_after: float,
                relay: RelayProcess) -> None:
    """CONNECTIONS senders in parallel, each sending message after message, until the kill."""
    stop = asyncio.Event()

    async def sender() -> None:
        while not stop.is_set():
            message = Sent(len(sent), _content(len(sent), rng))
            sent.append(message)
            try:
                await asyncio.wait_for(_send_one(port, message), 20)
            except (TimeoutError, OSError, RuntimeError):
                return  # the relay is gone

    tasks = [asyncio.create_task(sender()) for _ in range(CONNECTIONS)]
    await asyncio.sleep(kill_after)
    await asyncio.to_thread(relay.kill)
    stop.set()
    await asyncio.gather(*tasks)


@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_that_got_250(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"'))
    rng = random.Random(20261201)
    sent: list[Sent] = []
    for _ in range(ROUNDS):
        relay = RelayProcess(config)
        try:
            asyncio.run(_load(relay.port, sent, rng, rng.uniform(0.3, 1.5), relay))
        finally:
            relay.close()
    final = RelayProcess(config)  # a restart after the last kill, then a clean stop
    assert final.terminate() == 0
    final.close()

    with Spool.open(tmp_path / "spool") as spool:
        stored: dict[int, list[bytes]] = {}
        for summary in spool.list(limit=1_000_000):
            content = spool.content(summary.id)
            number = int(re.search(rb"<crash-(\d+)@", content).group(1))  # type: ignore[union-attr]
            stored.setdefault(number, []).append(content)

    by_phase = {phase: [m for m in sent if m.phase is phase] for phase in Phase}
    lost = [m.number for m in by_phase[Phase.ACCEPTED] if m.number not in stored]
    duplicated = [number for number, copies in stored.items() if len(copies) > 1]
    damaged = [m.number for m in by_phase[Phase.ACCEPTED] if m.number in stored
               and not stored[m.number][0].endswith(m.content)]
    stored_without_dot = [m.number for m in by_phase[Phase.BEFORE_DOT] if m.number in stored]
    unknown_stored = [m.number for m in by_phase[Phase.UNKNOWN] if m.number in stored]
    print(f"crash test: {ROUNDS} kill -9 runs, {len(sent)} messages attempted,"
          f" {len(by_phase[Phase.ACCEPTED])} got 250, {len(by_phase[Phase.UNKNOWN])} had no reply"
          f" after the final dot ({len(unknown_stored)} of them stored),"
          f" {len(by_phase[Phase.BEFORE_DOT])} cut before the dot,"
          f" {len(by_phase[Phase.REFUSED])} refused; lost {len(lost)},"
          f" duplicated {len(duplicated)}, damaged {len(damaged)}")
    assert len(by_phase[Phase.ACCEPTED]) >= 200, "the load was too light to mean anything"
    assert lost == [] and duplicated == [] and damaged == []
    assert stored_without_dot == []
    assert by_phase[Phase.REFUSED] == []
    assert set(stored) <= {m.number for m in sent if m.phase in (Phase.ACCEPTED, Phase.UNKNOWN)}
