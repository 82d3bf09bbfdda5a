"""A private, throw-away Postfix configured as a relay: its smtpd, its queue, its smtp client.

The relay benchmark's peer: ``smtp-source`` -> this Postfix (``smtpd`` -> ``cleanup`` ->
queue -> ``qmgr`` -> ``smtp``) -> ``smtp-sink``, with Postfix's own durability (queue files
fsync'd before the 250). The private instance (its folder, ``master -d`` as our child,
loopback only, no file of a system Postfix read or changed) is
:mod:`cdomail.testing.postfix`'s, shared with the interop tests; this module only makes it a
relay. Needs root (Postfix's daemons switch to the ``postfix`` user).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cdomail.bench._sink import find_postfix_tool
from cdomail.testing.postfix import private_folder, read_maillog, running_master

__all__ = ["PostfixRelay", "postfix_relay"]

# "status=sent" lines carry "delay=<arrival to delivery, seconds>" (postconf(5), delay_logging).
_SENT_DELAY = re.compile(r"delay=([\d.]+),.*status=sent")


@dataclass
class PostfixRelay:
    """A running private Postfix relay: send to ``host:port``, it relays to the upstream."""

    root: Path
    host: str
    port: int

    def delivery_delays(self) -> list[float]:
        """Seconds from arrival to upstream delivery of every message relayed so far."""
        return [float(match) for match in _SENT_DELAY.findall(read_maillog(self.root))]


def _relay_settings(upstream: tuple[str, int], concurrency: int) -> dict[str, object]:
    return {
        "myhostname": "postfix-relay.bench.localhost",
        # Everything goes to the one upstream, brackets: no MX lookup (postconf(5) relayhost).
        "relayhost": f"[{upstream[0]}]:{upstream[1]}",
        "smtp_tls_security_level": "none",
        "smtp_host_lookup": "native",
        "default_destination_concurrency_limit": str(concurrency),
        "smtp_destination_concurrency_limit": str(concurrency),
        "relay_destination_concurrency_limit": str(concurrency),
    }


#: The smtp client, for the relayhost (master.cf lines beyond the minimal daemons).
_CLIENT_SERVICES = ("smtp      unix  -  -  n  -    -  smtp",
                    "relay     unix  -  -  n  -    -  smtp")


@contextlib.contextmanager
def postfix_relay(upstream: tuple[str, int], *, concurrency: int = 4) -> Iterator[PostfixRelay]:
    """Configure and start a Postfix relaying everything to ``upstream``; stop and delete it.

    Raises:
        PostfixToolMissing: Postfix is not installed.
        RuntimeError: not root, or Postfix would not start.
    """
    postfix = find_postfix_tool("postfix")
    if os.geteuid() != 0:
        raise RuntimeError("the Postfix relay peer needs root (its daemons switch users)")
    with private_folder("cdomail-bench-postfix-") as root, running_master(
            postfix, root, settings=_relay_settings(upstream, concurrency),
            listeners={"smtpd": ()}, services=_CLIENT_SERVICES) as ports:
        yield PostfixRelay(root=root, host="127.0.0.1", port=ports["smtpd"])
