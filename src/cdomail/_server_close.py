"""Close asyncio listeners without breaking a connection that is being accepted.

Python 3.11's ``Server.close()`` races an accept already under way. The selector loop
accepts the socket in a reader callback and builds its transport in a task one loop turn
later; if ``close()`` runs in between, ``Server._attach()`` fails an assertion in the
transport's constructor. asyncio swallows that error and leaves the half-built transport
and its socket to the garbage collector: no ``connection_made``, no ``connection_lost``,
and a ``ResourceWarning`` wherever the collector happens to run. (Python 3.12 lets the
transport attach to a closed server.)

So the listening sockets come out of the selector first (no new accept), the accepts under
way get their turns to build their transports, and only then does ``close()`` run. The
connections accepted in that window reach their protocols like any other, and the caller's
usual shutdown of its live sessions ends them.

The lab, the relay and the benchmark's delay proxy all listen with asyncio: one helper.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

__all__ = ["close_servers"]

#: Loop turns given to accepts under way: the reader callback schedules the accept task,
#: whose first step builds the transport, which queues connection_made (one spare turn).
_ACCEPT_TURNS = 3


async def close_servers(servers: Iterable[asyncio.Server]) -> None:
    """Stop accepting on every server in *servers*, let accepts under way finish, close."""
    servers = list(servers)
    loop = asyncio.get_running_loop()
    for server in servers:
        for sock in server.sockets:
            # A loop without readers (Windows' proactor) has no such race to avoid.
            with contextlib.suppress(NotImplementedError):
                loop.remove_reader(sock.fileno())
    for _ in range(_ACCEPT_TURNS):
        await asyncio.sleep(0)
    for server in servers:
        server.close()
