"""When a message that could not be delivered is tried again, and when it expires.

``[delivery] retry = ["1m", "5m", ...]`` lists the pauses after the first, second, ...
failed attempt; after the list the last pause repeats until ``max_age`` (counted from
arrival) has passed, and then the message expires and is bounced (issue 15). Each
pause is stretched or shrunk by a random ``jitter`` fraction so that messages that
failed together (an upstream outage) do not all come back in the same second, the
way dma and Postfix spread their retries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cdomail.errors import ConfigurationError

__all__ = ["DEFAULT_JITTER", "RetrySchedule"]

#: Each pause is multiplied by a factor drawn from [1 - jitter, 1 + jitter].
DEFAULT_JITTER = 0.1


@dataclass(frozen=True)
class RetrySchedule:
    """Pauses between attempts (seconds), the oldest age a message may reach, and jitter."""

    intervals: tuple[float, ...]
    max_age: float
    jitter: float = DEFAULT_JITTER
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.intervals:
            raise ConfigurationError("retry needs at least one interval", field="retry")
        if any(pause <= 0 for pause in self.intervals):
            raise ConfigurationError("every retry interval must be positive", field="retry")
        if self.max_age <= 0:
            raise ConfigurationError("max_age must be positive", field="max_age")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("jitter must be in [0, 1)", field="jitter")

    def pause_after(self, failed_attempts: int) -> float:
        """The pause (before jitter) after ``failed_attempts`` failures (1 = the first)."""
        index = min(max(failed_attempts, 1), len(self.intervals)) - 1
        return self.intervals[index]

    def expires_at(self, received_at: float) -> float:
        """The moment a message received at ``received_at`` stops being retried."""
        return received_at + self.max_age

    def next_attempt(self, *, failed_attempts: int, received_at: float, now: float) -> float | None:
        """When to try again after a transient failure, or None when the message expired.

        A message is given one last attempt at its expiry time rather than being
        dropped early when the next pause would overshoot ``max_age``.
        """
        deadline = self.expires_at(received_at)
        if now >= deadline:
            return None
        factor = 1 + self.rng.uniform(-self.jitter, self.jitter)
        return min(now + self.pause_after(failed_attempts) * factor, deadline)
