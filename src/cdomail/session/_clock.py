"""The per-command clock: RFC 5321 §4.5.3.2 timeouts, capped by an overall deadline."""

from __future__ import annotations

import time
from typing import Protocol

from ..errors import ReadTimeout

# RFC 5321 §4.5.3.2: minimum per-command timeouts a client should allow.
RFC_TIMEOUTS = {
    "GREETING": 300.0,
    "MAIL": 300.0,
    "RCPT": 300.0,
    "DATA": 120.0,
    "BLOCK": 180.0,  # each write of message content
    ".": 600.0,  # the final reply; also each BDAT reply
    "BDAT": 600.0,
}
DEFAULT_COMMAND_TIMEOUT = 300.0
#: With tls="auto" on a port other than 465, silence this long most likely means the port
#: wants TLS from the first byte (an implicit-TLS port elsewhere than 465): say so soon
#: rather than after the whole connect timeout. An explicit mode keeps the full timeout.
AUTO_GREETING_TIMEOUT = 5.0


class TimeLimits(Protocol):
    """The three limits the caller set (``ClientConfig`` has them)."""

    @property
    def connect_timeout(self) -> float | None: ...
    @property
    def command_timeout(self) -> float | None: ...
    @property
    def deadline(self) -> float | None: ...


class Clock:
    """Per-command timeouts capped by an optional overall deadline."""

    def __init__(self, limits: TimeLimits) -> None:
        self._limits = limits
        self._end = time.monotonic() + limits.deadline if limits.deadline else None

    def timeout(self, what: str) -> float | None:
        """Seconds allowed for the next wait on ``what`` (a verb, "GREETING", "BLOCK", ".")."""
        limits = self._limits
        if what == "CONNECT":
            base = limits.connect_timeout
        elif what == "AUTO_GREETING":
            connect = limits.connect_timeout
            base = AUTO_GREETING_TIMEOUT if connect is None else min(connect, AUTO_GREETING_TIMEOUT)
        elif limits.command_timeout is not None:
            base = limits.command_timeout
        else:
            base = RFC_TIMEOUTS.get(what, DEFAULT_COMMAND_TIMEOUT)
        if self._end is None:
            return base
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(f"the overall deadline of {limits.deadline} s has passed")
        return remaining if base is None else min(base, remaining)

    def reply_deadline(self, what: str) -> float | None:
        """Absolute time by which the whole reply to ``what`` must have arrived."""
        limit = self.timeout(what)
        return None if limit is None else time.monotonic() + limit

    @staticmethod
    def remaining(end: float | None) -> float | None:
        """Seconds left before ``end``. A reply trickling in byte by byte cannot stretch
        the wait: the limit covers the whole reply (RFC 5321 §4.5.3.2), not each read."""
        if end is None:
            return None
        left = end - time.monotonic()
        if left <= 0:
            raise ReadTimeout("the reply did not arrive completely in time")
        return left
