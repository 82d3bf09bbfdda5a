"""``relay run``: the listeners and the delivery worker around one spool, until told to stop.

On stop (SIGTERM/SIGINT in ``relay run``) the relay stops accepting connections, drops the
sessions still open (a sender without a 250 keeps its message and retries), lets every store
already running finish as a whole, stops delivery (an attempt cut short stays queued: nothing is
marked delivered before the upstream said so) and closes the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .._backends._hostname import default_local_hostname
from .._server_close import close_servers
from ._group_commit import GroupCommitter
from ._model import Clock, SystemClock
from .config import RelayConfig
from .listener import Intake, SessionTracker, describe_listener, start_listener
from .queue import NodeIdentity, Queue, open_queue
from .spool import SpoolError

__all__ = ["SHUTDOWN_GRACE_SECONDS", "ReadyCallback", "run_relay"]

log = logging.getLogger("cdomail.relay")

# How long deliveries in progress may take to finish after a stop before they are abandoned
# (they stay queued and are retried after the restart).
SHUTDOWN_GRACE_SECONDS = 10.0
# After the queue failed under the delivery worker (database restarting, disk error): wait
# this long, then deliver again. The listeners meanwhile answer 451 by themselves.
DELIVERY_RESTART_SECONDS = 1.0


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
                    on_ready: ReadyCallback | None = None, spool: Queue | None = None) -> None:
    """Serve until *stop* is set; *on_ready* gets the bound (host, port) pairs once every
    listener accepts connections (port 0 in the file means "any free port").

    *spool*: an already open queue to use (the caller closes it); default: open the one
    ``[spool]`` names and close it on the way out.
    """
    clock = clock or SystemClock()
    owns_spool = spool is None
    if spool is None:
        spool = await asyncio.to_thread(_open_for_run, config)
    tracker = SessionTracker()
    servers: list[asyncio.Server] = []
    background: list[asyncio.Task[None]] = []
    try:
        hostname = default_local_hostname()
        committer = GroupCommitter(spool)  # one for all listeners: they share the spool
        for listener in config.listeners:
            server = await start_listener(Intake.build(listener, committer, hostname), tracker)
            servers.append(server)
            log.info("%s", describe_listener(listener, server))
        bound = tuple((str(sock.getsockname()[0]), int(sock.getsockname()[1]))
                      for server in servers for sock in server.sockets)
        node = NodeIdentity.this_process(" ".join(f"{host}:{port}" for host, port in bound))
        await asyncio.to_thread(spool.register_node, node)
        log.info("node %s registered", node.id)
        background.append(asyncio.create_task(_heartbeat(spool, config, stop),
                                              name="relay-heartbeat"))
        delivery = _start_delivery(config, spool, clock, stop)
        if delivery is not None:
            worker, task = delivery
            committer.on_stored = worker.wake  # deliver a stored message now, not at a poll
            background.append(task)
        if on_ready is not None:
            on_ready(bound)
        await stop.wait()
        log.info("stopping: no new connections; finishing stores already under way")
    finally:
        await close_servers(servers)
        tracker.abort_sessions()
        await tracker.finish_stores()
        for task in background[1:]:
            await _stop_delivery(task)
        if background:
            background[0].cancel()
            await asyncio.gather(background[0], return_exceptions=True)
            with contextlib.suppress(SpoolError):
                await asyncio.to_thread(spool.unregister_node)
        if owns_spool:
            await asyncio.to_thread(spool.close)
        log.info("stopped")


def _open_for_run(config: RelayConfig) -> Queue:
    upstream = config.upstream
    if config.spool.url is None:
        return open_queue(config.spool)
    from .pg import PostgresQueue

    # Pooled connections: the listeners' group commits, the worker's claims and records,
    # one per upstream connection (its slot's lease renewals), and the heartbeat.
    return PostgresQueue.open(config.spool, at_least_once=config.delivery.at_least_once,
                              upstream=f"{upstream.host}:{upstream.port}",
                              pool_size=config.delivery.concurrency + 6)


async def _heartbeat(spool: Queue, config: RelayConfig, stop: asyncio.Event) -> None:
    """Renew this node's claims and registry row a few times per lease time."""
    interval = max(0.2, min(5.0, config.spool.lease_seconds / 4))
    while not stop.is_set():
        try:
            await asyncio.to_thread(spool.heartbeat)
        except SpoolError as error:
            log.warning("heartbeat failed (claims are renewed at the next one): %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def _cluster_limits(config: RelayConfig, spool: Queue, clock: Clock) -> dict[str, object]:
    """A shared queue's cluster-wide rate limit, connection slots and OAuth2 token."""
    pool = getattr(spool, "pool", None)
    if pool is None:
        return {}  # one node: the worker's own limits are the cluster's
    from .pg.limits import ClusterRateLimiter
    from .pg.slots import ConnectionSlots

    upstream = config.upstream
    account = f"{upstream.username or ''}@{upstream.host}:{upstream.port}"
    limits: dict[str, object] = {"connection_slots": ConnectionSlots(
        pool, account, config.delivery.concurrency, clock,
        lease_seconds=config.spool.lease_seconds, holder=getattr(spool, "owner", ""))}
    if config.delivery.rate_limit is not None:
        count, seconds = config.delivery.rate_limit
        limits["rate_limiter"] = ClusterRateLimiter(
            pool, account, count, seconds, clock, hold_seconds=config.spool.lease_seconds)
    if upstream.auth == "xoauth2" and upstream.oauth2 is not None:
        from .pg.oauth2 import SharedTokenProvider

        limits["token_provider"] = SharedTokenProvider(upstream.oauth2, pool, clock=clock.now)
    return limits


def _start_delivery(config: RelayConfig, spool: Queue, clock: Clock, stop: asyncio.Event
                    ) -> tuple[Any, asyncio.Task[None]] | None:
    module = _delivery_module()
    if module is None:
        log.warning("this build has no delivery worker: messages are stored and stay queued")
        return None
    worker = module.DeliveryWorker(config, spool, clock=clock,
                                   **_cluster_limits(config, spool, clock))
    task: asyncio.Task[None] = asyncio.create_task(_deliver(worker, stop),
                                                   name="relay-delivery")
    return worker, task


async def _deliver(worker: object, stop: asyncio.Event) -> None:
    """Run the worker; when the queue fails under it, wait a moment and run it again."""
    run = getattr(worker, "run")  # noqa: B009 - the worker's module is loaded dynamically
    while not stop.is_set():
        try:
            await run(stop)
            return
        except SpoolError as error:
            log.warning("delivery paused, the queue failed: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DELIVERY_RESTART_SECONDS)


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
