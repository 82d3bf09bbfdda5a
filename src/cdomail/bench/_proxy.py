"""A userspace delay proxy for loopback benchmarks (kernel netem is not available here).

:class:`DelayProxy` listens on ``127.0.0.1:0`` and forwards every accepted connection to a
target. Each direction's bytes are held back for half the configured round-trip time, so a
request/response exchange costs one RTT, as on a real network. The delay is applied with a
timestamped queue per direction: the reader never waits for the writer, so the proxy adds
latency without limiting throughput (a ``sleep`` per read would serialise reads and cap the
rate at one read per half-RTT). Order is preserved because each direction has one queue.

Optionally the proxy terminates TLS on its listening side (``server_ssl``): that is the
implicit-TLS front used for the benchmark's TLS scenario, so the plaintext sink is unchanged.

Run as ``python src/cdomail/bench/_proxy.py --target HOST:PORT --rtt-ms 20`` it prints the
port it listens on and serves until stdin closes or it is terminated. :class:`ProxyProcess`
wraps that, so the proxy does not share a GIL with the contestants being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from cdomail._server_close import close_servers

__all__ = ["DelayProxy", "ProxyProcess"]

#: Bytes read per ``read()`` call; large so that pipelined bursts move in few reads.
READ_SIZE = 256 * 1024
#: How long closing a forwarded connection may wait for its last bytes to be sent.
CLOSE_TIMEOUT = 2.0
#: Stop reading a direction while this many bytes are queued and not yet due (bounds memory).
MAX_QUEUED_BYTES = 32 * 1024 * 1024


class _DelayedPipe:
    """Copies one direction of a connection, delivering each read ``delay`` seconds later."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._delay = delay
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._queued_bytes = 0
        self._have_data = asyncio.Event()
        self._have_room = asyncio.Event()
        self._have_room.set()

    async def run(self) -> None:
        """Pump until end of stream on the reading side has been delivered."""
        feeder = asyncio.create_task(self._feed())
        try:
            await self._deliver()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await feeder

    async def _feed(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._have_room.wait()
            try:
                data = await self._reader.read(READ_SIZE)
            except (OSError, ssl.SSLError):
                data = b""
            # The timestamp is taken when the bytes arrive, so delivery time does not depend
            # on how busy the writer is: that is what keeps throughput unthrottled.
            self._queue.append((loop.time() + self._delay, data))
            self._queued_bytes += len(data)
            if self._queued_bytes >= MAX_QUEUED_BYTES:
                self._have_room.clear()
            self._have_data.set()
            if not data:
                return

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._have_data.clear()
                await self._have_data.wait()
            wait = self._queue[0][0] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = loop.time()
            chunks: list[bytes] = []
            end_of_stream = False
            while self._queue and self._queue[0][0] <= now:
                _, data = self._queue.popleft()
                if not data:
                    end_of_stream = True
                    break
                chunks.append(data)
            if chunks:
                payload = b"".join(chunks)
                self._queued_bytes -= len(payload)
                if self._queued_bytes < MAX_QUEUED_BYTES:
                    self._have_room.set()
                self._writer.write(payload)
                await self._writer.drain()
            if end_of_stream:
                self._half_close()
                return

    def _half_close(self) -> None:
        # Forward the end of stream as a FIN where the transport can (plain TCP); a TLS
        # transport cannot half-close, so it is closed instead.
        try:
            if self._writer.can_write_eof():
                self._writer.write_eof()
            else:
                self._writer.close()
        except (OSError, RuntimeError):
            self._writer.close()


class DelayProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port`` with an added round trip.

    Args:
        target_host: Where to forward to (loopback in the benchmark).
        target_port: The target's port.
        rtt: Seconds added to every request/response round trip; half per direction.
        server_ssl: If given, the listening side speaks TLS with this context (a TLS front).
        listen_host: Address to listen on; port 0 picks a free port.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        rtt: float = 0.0,
        server_ssl: ssl.SSLContext | None = None,
        listen_host: str = "127.0.0.1",
    ) -> None:
        if rtt < 0:
            raise ValueError(f"rtt must be >= 0 seconds, got {rtt!r}")
        self.target_host = target_host
        self.target_port = target_port
        self.rtt = rtt
        self._server_ssl = server_ssl
        self._listen_host = listen_host
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port the proxy listens on (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("DelayProxy.start() has not been awaited")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> int:
        """Start listening; return the port."""
        self._server = await asyncio.start_server(
            self._accept, self._listen_host, 0, ssl=self._server_ssl, limit=READ_SIZE
        )
        return self.port

    async def aclose(self) -> None:
        """Stop listening and cut every forwarded connection."""
        if self._server is not None:
            await close_servers([self._server])
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> DelayProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._forward(client_reader, client_writer)
        except asyncio.CancelledError:
            # Cancelled by aclose(). Python 3.11's start_server callback logs a cancelled
            # handler task as an error, so end normally instead.
            pass
        finally:
            self._connections.discard(task)

    async def _forward(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port, limit=READ_SIZE
            )
        except BaseException as exc:
            # Refused, or cancelled by aclose() while connecting: the client's side must be
            # closed here too, or its transport is left for the garbage collector.
            client_writer.close()
            if isinstance(exc, OSError):
                return
            raise
        half = self.rtt / 2
        pipes = [
            asyncio.create_task(_DelayedPipe(client_reader, upstream_writer, half).run()),
            asyncio.create_task(_DelayedPipe(upstream_reader, client_writer, half).run()),
        ]
        try:
            # If either side breaks, the other direction is pointless: stop both.
            done, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
            if any(t.exception() is not None for t in done):
                for t in pending:
                    t.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            for t in pipes:
                t.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for writer in (upstream_writer, client_writer):
                writer.close()  # flushes what the pipes forwarded last (e.g. a 221)
            for writer in (upstream_writer, client_writer):
                try:
                    await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
                except (TimeoutError, OSError, ssl.SSLError, asyncio.CancelledError):
                    # A peer that no longer reads keeps a closing transport open forever
                    # (past the event loop, a leaked socket): drop what is left.
                    writer.transport.abort()


class ProxyProcess:
    """Run a :class:`DelayProxy` in a child Python process; use as a context manager.

    Args:
        target_host: Where to forward to.
        target_port: The target's port.
        rtt: Seconds added per round trip.
        certfile: PEM certificate chain for a TLS-terminating front (with ``keyfile``).
        keyfile: PEM private key for ``certfile``.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        rtt: float = 0.0,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        self._argv = [
            # Run as a script, not ``-m``: the child then imports only the standard library,
            # never the cdomail package it would otherwise initialise.
            sys.executable, str(Path(__file__).resolve()),
            "--target", f"{target_host}:{target_port}", "--rtt-ms", repr(rtt * 1000),
        ]  # fmt: skip
        if certfile is not None:
            self._argv += ["--certfile", certfile, "--keyfile", keyfile or certfile]
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> int:
        """Start the child and return the port it listens on."""
        self._process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"delay proxy failed to start (printed {line!r})")
        self.port = int(line)
        return self.port

    def stop(self) -> None:
        """Stop the child (closing its stdin asks it to exit) and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def __enter__(self) -> ProxyProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.target.rpartition(":")
    server_ssl = None
    if args.certfile:
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(args.certfile, args.keyfile or args.certfile)
    proxy = DelayProxy(host, int(port), rtt=args.rtt_ms / 1000, server_ssl=server_ssl)
    await proxy.start()
    print(proxy.port, flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # The parent closes our stdin to ask us to stop: EOF there also ends the proxy if the
    # parent dies without cleaning up.
    stdin_fd = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(stdin_fd, 4096):
            loop.remove_reader(stdin_fd)
            stop.set()

    loop.add_reader(stdin_fd, on_stdin)
    await stop.wait()
    await proxy.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the proxy child process (``python .../bench/_proxy.py``)."""
    parser = argparse.ArgumentParser(prog="_proxy.py")
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="added round trip, ms")
    parser.add_argument("--certfile", help="terminate TLS with this PEM chain")
    parser.add_argument("--keyfile", help="key for --certfile (default: in certfile)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
