"""Every scenario, target and contestant the benchmark knows: the one place to register more.

A scenario module exposes ``SCENARIOS`` (tuple of :class:`Scenario`), ``TARGETS`` (tuple of
:class:`Target`) and ``CONTESTANTS`` (dict of name to :class:`Contestant`); adding it to
``_PARTS`` below makes ``python -m cdomail.bench`` run it (``--scenario KEY`` selects).
Keys must be unique across modules (checked at import).
"""

from __future__ import annotations

from types import ModuleType

from cdomail.bench import _contestants, _user_paths
from cdomail.bench._contestants import Contestant
from cdomail.bench._model import Scenario, Target

__all__ = ["CONTESTANTS", "SCENARIOS", "TARGETS"]

#: The scenarios of issue 6: bytes with an explicit envelope.
CORE_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("1", "one connection, no added delay",
             ("cdomail", "smtplib", "aiosmtplib", "smtp-source"), 5000, 40),
    Scenario("2", "one connection, {rtt} ms round trip",
             ("cdomail", "smtplib", "aiosmtplib", "smtp-source"), 100, 6, delayed=True),
    Scenario("3", "{connections} concurrent connections, {rtt} ms round trip",
             ("cdomail async", "aiosmtplib", "smtp-source"), 400, 16, connections=8,
             delayed=True),
    Scenario("4", "implicit TLS, one connection",
             ("cdomail", "smtplib", "aiosmtplib"), 3000, 30, implicit_tls=True),
    Scenario("5", "one {attachment_mb} MiB attachment",
             ("cdomail", "smtplib"), 1, 1, attachment=True),
    # The pools against the sink's own capacity, and 100,000 messages' memory: its own
    # runner (bench/_pool_scenarios.py), so no contestants of the per-message kind.
    Scenario("P", "Pool vs the sink at 1/2/4/8 connections; 100,000 messages' memory",
             (), 20000, 400),
)  # fmt: skip

CORE_TARGETS: tuple[Target, ...] = (
    Target("1", "cdomail", "smtplib", "rate", 2.0),
    Target("1", "cdomail", "smtp-source", "rate", 1.0),
    Target("2", "cdomail", "smtplib", "rate", 3.5),
    Target("2", "cdomail", "aiosmtplib", "rate", 3.5),
    Target("2", "cdomail", "smtp-source", "rate", 3.5),
    Target("3", "cdomail async", "aiosmtplib", "rate", 3.5),
    Target("4", "cdomail", "smtplib", "rate", 2.0),
    Target("5", "cdomail", "smtplib", "time", 3.0),
    Target("5", "cdomail", "", "rss", 64.0),
)

#: Scenario modules after the core ones, in the order they run.
_PARTS: tuple[ModuleType, ...] = (_user_paths,)


def _collect() -> tuple[tuple[Scenario, ...], tuple[Target, ...], dict[str, Contestant]]:
    scenarios = list(CORE_SCENARIOS)
    targets = list(CORE_TARGETS)
    contestants = dict(_contestants.CONTESTANTS)
    for part in _PARTS:
        scenarios += part.SCENARIOS
        targets += part.TARGETS
        for name, contestant in part.CONTESTANTS.items():
            if name in contestants:
                raise RuntimeError(f"benchmark contestant {name!r} is registered twice")
            contestants[name] = contestant
    keys = [scenario.key for scenario in scenarios]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"benchmark scenario keys repeat: {keys}")
    for scenario in scenarios:
        unknown = [name for name in scenario.contestants if name not in contestants]
        if unknown:
            raise RuntimeError(f"scenario {scenario.key} names unknown contestants {unknown}")
    return tuple(scenarios), tuple(targets), contestants


SCENARIOS, TARGETS, CONTESTANTS = _collect()
