"""What a benchmark scenario and a target are (shared by every scenario module)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Scenario", "Target"]


@dataclass(frozen=True)
class Scenario:
    """One measured situation; ``messages``/``quick_messages`` per contestant."""

    key: str
    title: str
    contestants: tuple[str, ...]
    messages: int
    quick_messages: int
    connections: int = 1
    delayed: bool = False
    implicit_tls: bool = False
    attachment: bool = False
    #: Trust comes from the system store (a copy of it with the benchmark CA added, named by
    #: SSL_CERT_FILE for every contestant), not from a CA file given to the client.
    system_store: bool = False


@dataclass(frozen=True)
class Target:
    """``cdomail`` must beat ``peer`` in ``scenario`` by ``ratio`` (see :attr:`kind`).

    ``kind`` is ``"rate"`` (messages/s ratio ≥ ratio), ``"time"`` (peer's time / cdomail's
    time ≥ ratio) or ``"rss"`` (cdomail's peak RSS growth ≤ ``ratio`` MiB; ``peer`` unused).
    ``paired``: judged on the median of the per-round ratios (each round runs both
    contestants back to back) instead of the ratio of the two best runs.
    """

    scenario: str
    cdomail: str
    peer: str
    kind: str
    ratio: float
    paired: bool = False
