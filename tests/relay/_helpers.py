"""Shared pieces of the delivery tests: a relay config, a spool filler, an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdomail.relay._model import ArrivalFacts
from cdomail.relay.config import (
    DeliveryConfig,
    OAuth2Config,
    RelayConfig,
    SpoolConfig,
    UpstreamConfig,
)
from cdomail.relay.spool import Spool

START = 1_700_000_000.0
#: The ``open_spool`` fixture: opens the test's queue (SQLite spool or PostgreSQL queue).
SpoolOpener = Callable[[], Spool]


class FakeClock:
    """Relay time that jumps: ``sleep(s)`` moves it ``s`` ahead after a short real pause."""

    def __init__(self, now: float = START) -> None:
        self.current = now

    def now(self) -> float:
        return self.current

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.01)
        self.current += max(seconds, 0.0)


def relay_config(spool_path: Path, *, host: str, port: int, delivery: DeliveryConfig | None = None,
                 oauth2: OAuth2Config | None = None, **upstream: Any) -> RelayConfig:
    upstream.setdefault("timeout", 10.0)
    return RelayConfig(listeners=(), spool=SpoolConfig(spool_path),
                       upstream=UpstreamConfig(host=host, port=port, oauth2=oauth2, **upstream),
                       delivery=delivery or DeliveryConfig())


def message(number: int, sender: str = "app@legacy.test") -> bytes:
    return (f"From: {sender}\r\nTo: someone@example.test\r\nSubject: report {number}\r\n"
            f"Message-ID: <m{number}@legacy.test>\r\n\r\nbody {number}\r\n").encode()


def fill(spool: Spool, count: int, recipients: tuple[str, ...] = ("a@example.test",),
         *, sender: str = "app@legacy.test", received_at: float = START) -> list[str]:
    arrival = ArrivalFacts("127.0.0.1", "scanner", None, None, None, received_at)
    return [spool.store(sender, recipients, message(n, sender or "x@y.test"), arrival)
            for n in range(count)]


def states(spool: Spool, message_id: str) -> dict[str, str]:
    return {r.address: r.state for r in spool.show(message_id).recipients}
