"""The delivery worker's own rate window (one node): a slot counts while its message is out."""

from __future__ import annotations

import asyncio
import time

from cdomail.relay._model import SystemClock
from cdomail.relay.delivery import _RateLimiter


def test_a_slot_on_the_wire_longer_than_the_window_still_counts() -> None:
    """Two connections of one worker share the window: while the first one's messages are
    still on the wire (three windows: a slow upstream), the second may not send; it may a
    window after the first one's verdict."""
    count, seconds = 2, 0.2
    limiter = _RateLimiter(count, seconds, SystemClock())

    async def main() -> tuple[float, float]:
        slots = await limiter.take(count)
        assert len(slots) == count
        waiting = asyncio.create_task(limiter.take(1))
        await asyncio.sleep(3 * seconds)
        assert not waiting.done()
        await limiter.finished(slots)
        verdict = time.monotonic()
        await limiter.finished(await waiting)
        return verdict, time.monotonic()

    verdict, granted_at = asyncio.run(main())
    assert granted_at - verdict >= seconds - 0.01, (verdict, granted_at)


def test_the_window_counts_from_the_verdict() -> None:
    """Slots freed by a verdict are given again a window later, and not before."""
    count, seconds = 3, 0.2
    limiter = _RateLimiter(count, seconds, SystemClock())

    async def main() -> list[float]:
        granted: list[float] = []
        for _ in range(3):
            slots = await limiter.take(count)
            granted.extend(time.monotonic() for _ in slots)
            await limiter.finished(slots)
        return granted

    granted = asyncio.run(main())
    assert len(granted) == 3 * count
    assert all(later - earlier >= seconds - 0.01
               for earlier, later in zip(granted, granted[count:], strict=False)), granted
