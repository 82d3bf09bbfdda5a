"""``cdomail relay``: run the relay for legacy senders and administer its queue.

::

    cdomail relay run     --config relay.toml
    cdomail relay status  --config relay.toml [--json]
    cdomail relay list    --config relay.toml [--state S] [--limit N] [--json]
    cdomail relay show    --config relay.toml ID [--json]
    cdomail relay retry   --config relay.toml ID|--all
    cdomail relay hold    --config relay.toml ID|--all [--reason TEXT]
    cdomail relay release --config relay.toml ID|--all
    cdomail relay delete  --config relay.toml ID
    cdomail relay check   --config relay.toml        (cdomail.relay.check)
    cdomail relay migrate --config relay.toml        (PostgreSQL queue: create/upgrade schema)

Exit codes: 0 done, 1 the operation failed (no such message, spool unreadable), 2 bad
configuration or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import CdoMailError, printable
from ..relay._render import (
    detail_text,
    detail_to_dict,
    list_text,
    status_text,
    summary_to_dict,
)
from ..relay.config import RelayConfig, load_config
from ..relay.queue import Queue, open_queue
from ..relay.spool import MessageNotFound
from ._output import print_json

__all__ = ["add_parser", "run"]

_STATES = ("queued", "held", "delivered", "bounced", "expired", "unknown")


def _check_module() -> ModuleType | None:
    try:
        return importlib.import_module("cdomail.relay.check")
    except ModuleNotFoundError as missing:
        if missing.name != "cdomail.relay.check":
            raise
        return None


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "relay", help="a durable relay from legacy senders to a modern upstream",
        description="Run the relay for legacy senders (CDO, printers, old apps) and inspect"
                    " or manage its queue.")
    actions = parser.add_subparsers(dest="relay_command", metavar="ACTION", required=True)
    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "run": ("run in the foreground until SIGTERM/SIGINT", _run_relay),
        "status": ("queue counts, oldest message, upstream and token health", _status),
        "list": ("list messages (newest first)", _list),
        "show": ("everything about one message: arrival, recipients, attempts", _show),
        "retry": ("make a message (or every queued one) due now", _retry),
        "hold": ("keep a message (or the whole queue) from delivery", _hold),
        "release": ("undo hold", _release),
        "delete": ("remove a message from the spool for good", _delete),
        "check": ("validate the file, probe the upstream, say if mail would go out safely",
                  _check),
        "migrate": ("create or upgrade the PostgreSQL queue's schema ([spool] url)", _migrate),
    }
    for name, (summary, handler) in commands.items():
        action = actions.add_parser(name, help=summary, description=summary)
        action.add_argument("--config", required=True, type=Path, help="the relay.toml file")
        action.set_defaults(func=run, relay_handler=handler)
        _add_action_arguments(name, action)


def _add_action_arguments(name: str, action: argparse.ArgumentParser) -> None:
    if name in ("status", "list", "show"):
        action.add_argument("--json", action="store_true", help="one JSON document on stdout")
    if name == "list":
        action.add_argument("--state", choices=_STATES, help="only messages with this state")
        action.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    if name in ("show", "delete"):
        action.add_argument("id", help="the message id (from relay list)")
    if name in ("retry", "hold", "release"):
        target = action.add_mutually_exclusive_group(required=True)
        target.add_argument("id", nargs="?", help="the message id (from relay list)")
        target.add_argument("--all", action="store_true", help="every message / the queue")
    if name == "hold":
        action.add_argument("--reason", default="held by an administrator",
                            help="shown by status, list and show")
    if name == "check":
        module = _check_module()
        if module is not None and hasattr(module, "add_arguments"):
            module.add_arguments(action)


def run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.relay_handler
    try:
        return handler(args)
    except MessageNotFound as error:
        print(f"cdomail relay: {printable(str(error))}", file=sys.stderr)
        return 1
    except CdoMailError as error:
        print(f"cdomail relay: {printable(str(error))}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1


def _open_existing_spool(config: RelayConfig) -> Queue:
    return open_queue(config.spool, create=False)


# -- run ---------------------------------------------------------------------------------------

def _run_relay(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    # Our own events at INFO; aiosmtpd's per-command chatter ("mail.log") only when it warns.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("cdomail.relay").setLevel(logging.INFO)
    # aiosmtpd warns "auth_required but not auth_require_tls" for every connection of a
    # loopback listener with users: that is this relay's documented choice, not news.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(_serve(config))
    return 0


async def _serve(config: RelayConfig) -> None:
    from ..relay.service import run_relay  # only `run` needs aiosmtpd and the listener

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_relay(config, stop=stop, on_ready=_announce_ready)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _announce_ready(addresses: tuple[tuple[str, int], ...]) -> None:
    # Scripts (and the crash tests) wait for this line; with port 0 it tells the port.
    bound = " ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                     for host, port in addresses)
    logging.getLogger("cdomail.relay").info("ready: accepting on %s", bound)


# -- administration ------------------------------------------------------------------------

def _status(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        status = {"counts": spool.counts(),
                  "oldest_queued_age_seconds": spool.oldest_queued_age(time.time()),
                  "queue_hold": spool.queue_hold(), "health": spool.health(),
                  "nodes": [dataclasses.asdict(node) for node in spool.nodes()]}
    if args.json:
        print_json(status)
    else:
        print(status_text(status))
    return 0


def _list(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        summaries = spool.list(args.state, args.limit)
    if args.json:
        print_json([summary_to_dict(s) for s in summaries])
    else:
        print(list_text(summaries))
    return 0


def _show(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        detail = spool.show(args.id)
    if args.json:
        print_json(detail_to_dict(detail))
    else:
        print(detail_text(detail))
    return 0


def _retry(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        if args.all:
            print(f"{spool.retry_all()} message(s) due now")
        else:
            spool.retry(args.id)
            print(f"{args.id}: due now")
    return 0


def _hold(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        if args.all:
            spool.hold_all(args.reason)
            print(f"queue on hold: {printable(args.reason)}")
        else:
            spool.hold(args.id, args.reason)
            print(f"{args.id}: held")
    return 0


def _release(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        if args.all:
            spool.release_all()
            print("queue released")
        else:
            spool.release(args.id)
            print(f"{args.id}: released")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with _open_existing_spool(load_config(args.config)) as spool:
        spool.delete(args.id)
    print(f"{args.id}: deleted")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config.spool.url is None:
        print("cdomail relay migrate: nothing to do: the SQLite spool ([spool] path) upgrades"
              " itself; migrate is for a PostgreSQL queue ([spool] url)")
        return 0
    from ..relay.pg import SCHEMA_VERSION, migrate
    from ..relay.pg._db import connect_pool

    pool = connect_pool(config.spool, max_size=1, application_name="cdomail-relay-migrate")
    try:
        applied = migrate(pool)
    finally:
        pool.close()
    if applied:
        print(f"applied migration(s) {', '.join(map(str, applied))}: schema version"
              f" {SCHEMA_VERSION}")
    else:
        print(f"schema already at version {SCHEMA_VERSION}: nothing to do")
    return 0


def _check(args: argparse.Namespace) -> int:
    module = _check_module()
    if module is None:
        load_config(args.config)  # at least the file's own validity
        print("cdomail relay check: the configuration is valid; probing the upstream is not"
              " available in this build", file=sys.stderr)
        return 1
    result: int = module.run(args)
    return result
