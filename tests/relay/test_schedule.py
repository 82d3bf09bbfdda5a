"""The retry schedule: listed pauses, then the last one repeating, jitter, expiry."""

from __future__ import annotations

import random

import pytest

from cdomail.errors import ConfigurationError
from cdomail.relay.schedule import RetrySchedule


def test_pauses_follow_the_list_then_repeat_the_last() -> None:
    schedule = RetrySchedule((60, 300, 900), max_age=10**6, jitter=0)
    times = [schedule.next_attempt(failed_attempts=n, received_at=0, now=1000)
             for n in (1, 2, 3, 4, 9)]
    assert times == [1060, 1300, 1900, 1900, 1900]


def test_jitter_stays_within_bounds_and_varies() -> None:
    schedule = RetrySchedule((100,), max_age=10**6, jitter=0.1, rng=random.Random(5))
    pauses = [schedule.next_attempt(failed_attempts=1, received_at=0, now=0) for _ in range(200)]
    assert all(p is not None and 90 <= p <= 110 for p in pauses)
    assert len(set(pauses)) > 100


def test_last_attempt_at_expiry_then_none() -> None:
    schedule = RetrySchedule((60,), max_age=100, jitter=0)
    assert schedule.next_attempt(failed_attempts=1, received_at=0, now=10) == 70
    assert schedule.next_attempt(failed_attempts=2, received_at=0, now=70) == 100  # not 130
    assert schedule.next_attempt(failed_attempts=3, received_at=0, now=100) is None


@pytest.mark.parametrize(("intervals", "max_age", "jitter"),
                         [((), 10, 0.1), ((0,), 10, 0.1), ((5,), 0, 0.1), ((5,), 10, 1.5)])
def test_nonsense_is_refused(intervals: tuple[float, ...], max_age: float, jitter: float) -> None:
    with pytest.raises(ConfigurationError):
        RetrySchedule(intervals, max_age=max_age, jitter=jitter)
