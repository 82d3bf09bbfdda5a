"""A stored message wakes the delivery worker: it does not wait for the worker's next poll."""

from __future__ import annotations

import asyncio
import smtplib
import time

import pytest

from cdomail.lab import Lab
from cdomail.relay.config import SpoolConfig, parse_config
from cdomail.relay.queue import open_queue
from cdomail.relay.service import run_relay
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

from ._relay import spool_table


class NeverPollingClock:
    """Wall-clock time whose sleep never ends: the worker idles until something wakes it.

    ``idle`` is set each time the worker starts waiting, i.e. after a look at the queue
    found nothing due: a message stored after that can only go out if the intake wakes it.
    """

    def __init__(self) -> None:
        self.idle = asyncio.Event()

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        self.idle.set()
        await asyncio.Event().wait()  # cancelled when the worker stops waiting


def _send(port: int, number: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as legacy:
        legacy.helo("old-erp")
        legacy.sendmail("erp@corp.test", ["a@example.test"],
                        f"Message-ID: <wake-{number}@corp.test>\r\nSubject: n{number}\r\n\r\n"
                        f"body {number}\r\n".encode())


async def _serve_and_send(config_text: str, lab: Lab) -> list[int]:
    clock, stop, ready = NeverPollingClock(), asyncio.Event(), asyncio.Event()
    ports: list[int] = []

    def on_ready(addresses: tuple[tuple[str, int], ...]) -> None:
        ports.append(addresses[0][1])
        ready.set()

    relay = asyncio.create_task(run_relay(parse_config(config_text), stop=stop, clock=clock,
                                          on_ready=on_ready))
    delivered_after: list[int] = []
    try:
        await asyncio.wait_for(ready.wait(), 30)
        for number in range(2):
            await asyncio.wait_for(clock.idle.wait(), 30)  # the worker found nothing to do
            clock.idle.clear()
            await asyncio.to_thread(_send, ports[0], number)
            # Without the wake the worker would sleep forever: the guard is only a guard.
            deadline = time.monotonic() + 30
            while len(lab.messages) <= number:
                assert time.monotonic() < deadline, "the stored message was never attempted"
                await asyncio.sleep(0.01)
            delivered_after.append(number)
    finally:
        stop.set()
        await relay
    return delivered_after


def test_a_stored_message_is_delivered_without_waiting_for_a_poll(
        lab: Lab, backend: SpoolConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_PASSWORD", LAB_PASSWORD)
    config = f"""
[[listen]]
address = "127.0.0.1:0"

{spool_table(backend)}
[upstream]
host = "{lab.host}"
port = {lab.port("starttls-required")}
tls = "starttls"
cafile = "{lab.ca_path}"
auth = "password"
username = "{LAB_USER}"
password = "env:UPSTREAM_PASSWORD"
"""
    assert asyncio.run(_serve_and_send(config, lab)) == [0, 1]
    with open_queue(backend) as spool:
        assert spool.counts()["delivered"] == 2
