"""Run in a subprocess by test_interrupt.py: send a batch until SIGINT, print what it knew.

    python _interrupted_batch.py MODE HOST PORT COUNT

MODE is ``client`` (SMTPClient.send_many), ``pool`` (the blocking Pool),
``process-pool`` (ProcessPool) or ``async-pool`` (AsyncPool under asyncio.run).
On Ctrl-C it prints one JSON line: the status of each message the batch reported,
in input order ("ok", "unknown", "not sent", or the error's type name), and exits 130.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import cdomail
from cdomail.batch import BatchResult


def messages(count: int) -> Iterator[bytes]:
    for i in range(count):
        yield (f"From: s@cdomail.test\r\nTo: r@cdomail.test\r\nSubject: int {i}\r\n\r\n"
               f"body {i}\r\n").encode()


def status(result: BatchResult) -> str:
    if result.ok:
        return "ok"
    if isinstance(result.error, cdomail.StatusUnknown):
        return "unknown"
    if isinstance(result.error, cdomail.SendInterrupted):
        return "not sent"
    return type(result.error).__name__


def run(mode: str, host: str, port: int, count: int) -> None:
    options: dict[str, Any] = {"tls": "none", "command_timeout": 30.0}
    if mode == "client":
        with cdomail.SMTPClient(host, port, **options) as client:
            client.send_many(messages(count))
    elif mode == "pool":
        with cdomail.Pool(host, port, max_connections=3, **options) as pool:
            pool.send_many(messages(count))
    elif mode == "process-pool":
        with cdomail.ProcessPool(host, port, processes=2, max_connections=2, batch_size=100,
                                 **options) as process_pool:
            process_pool.send_many(messages(count))
    else:
        async def main() -> None:
            async with cdomail.AsyncPool(host, port, max_connections=3, **options) as pool:
                await pool.send_many(messages(count))

        asyncio.run(main())


def main(argv: list[str]) -> int:
    mode, host, port, count = argv[0], argv[1], int(argv[2]), int(argv[3])
    print("started", flush=True)
    try:
        run(mode, host, port, count)
    except KeyboardInterrupt as exc:
        results = cdomail.partial_results(exc)
        print(json.dumps(None if results is None else [status(r) for r in results]),
              flush=True)
        return 130
    print(json.dumps("finished"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
