"""``relay run``: the listeners and the delivery worker around one spool, until told to stop.

On stop (SIGTERM/SIGINT in ``relay run``) the relay stops accepting connections, drops the
sessions still open (a sender without a 250 keeps its message and retries), lets every store
already running finish as a whole, stops delivery (an attempt cut short stays queued: nothing is
marked delivered before the upstream said so) and closes the spool.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from types import ModuleType

from .._backends._hostname import default_local_hostname
from ._group_commit import GroupCommitter
from ._model import Clock, SystemClock
from .config import RelayConfig
from .listener import Intake, SessionTracker, describe_listener, start_listener
from .spool import Spool

__all__ = ["SHUTDOWN_GRACE_SECONDS", "ReadyCallback", "run_relay"]

log = logging.getLogger("cdomail.relay")

# How long deliveries in progress may take to finish after a stop before they are abandoned
# (they stay queued and are retried after the restart).
SHUTDOWN_GRACE_SECONDS = 10.0


def _delivery_module() -> ModuleType | None:
    """The delivery side, when this build has it (it is developed separately)."""
    name = f"{__package__}.delivery"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name != name:
            raise
        return None


ReadyCallback = Callable[[tuple[tuple[str, int], ...]], None]


async def run_relay(config: RelayConfig, *, stop: asyncio.Event, clock: Clock | None = None,
                    on_ready: ReadyCallback | None = None, spool: Spool | None = None) -> None:
    """Serve until *stop* is set; *on_ready* gets the bound (host, port) pairs once every
    listener accepts connections (port 0 in the file means "any free port").

    *spool*: an already open spool to use (the caller closes it); default: open
    ``[spool] path`` and close it on the way out.
    """
    clock = clock or SystemClock()
    owns_spool = spool is None
    if spool is None:
        spool = await asyncio.to_thread(Spool.open, config.spool.path)
    tracker = SessionTracker()
    servers: list[asyncio.Server] = []
    delivery: asyncio.Task[None] | None = None
    try:
        hostname = default_local_hostname()
        committer = GroupCommitter(spool)  # one for all listeners: they share the spool
        for listener in config.listeners:
            server = await start_listener(Intake.build(listener, committer, hostname), tracker)
            servers.append(server)
            log.info("%s", describe_listener(listener, server))
        delivery = _start_delivery(config, spool, clock, stop)
        if on_ready is not None:
            on_ready(tuple((str(sock.getsockname()[0]), int(sock.getsockname()[1]))
                           for server in servers for sock in server.sockets))
        await stop.wait()
        log.info("stopping: no new connections; finishing stores already under way")
    finally:
        for server in servers:
            server.close()
        tracker.abort_sessions()
        await tracker.finish_stores()
        await _stop_delivery(delivery)
        if owns_spool:
            await asyncio.to_thread(spool.close)
        log.info("stopped")


def _start_delivery(config: RelayConfig, spool: Spool, clock: Clock,
                    stop: asyncio.Event) -> asyncio.Task[None] | None:
    module = _delivery_module()
    if module is None:
        log.warning("this build has no delivery worker: messages are stored and stay queued")
        return None
    worker = module.DeliveryWorker(config, spool, clock=clock)
    task: asyncio.Task[None] = asyncio.create_task(worker.run(stop), name="relay-delivery")
    return task


async def _stop_delivery(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_GRACE_SECONDS)
    if not done:
        log.warning("deliveries still running after %.0f s: abandoned, they stay queued",
                    SHUTDOWN_GRACE_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    elif not task.cancelled() and task.exception() is not None:
        log.error("the delivery worker failed: %s", task.exception())
