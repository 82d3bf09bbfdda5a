"""AsyncSMTPClient: drives the sans-IO core over an asyncio stream.

This file is the source of truth for both clients: ``scripts/unasync.py``
rewrites it into ``cdomail/_sync/client.py`` (``SMTPClient``), and CI fails
when the two drift apart. Keep everything that is not I/O outside this file
(``session``, ``message``, ``protocol``) so the two stay thin.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, TypeVar, cast

from .._backends._async_stream import (
    AsyncNetworkStream,
    open_async_stream,
    resolve_local_hostname,
)
from .._client_base import ClientBase
from ..batch import BatchResult
from ..errors import CdoMailError, InputError, LocalProtocolError
from ..message import PreparedMessage
from ..protocol import (
    NEED_DATA,
    ClientConnection,
    Command,
    ConnectionClosed,
    Reply,
)
from ..result import SendResult
from ..session import Clock, Close, ConnectPlan, Open, Receive, Send, Step, UpgradeTLS, Write
from ..session._batch import disconnected, timeout_key
from ..tls import TLSInfo, TLSMode
from ..transcript import log_only
from ._sending import AsyncSending

READ_SIZE = 64 * 1024
_T = TypeVar("_T")


class AsyncSMTPClient(AsyncSending, ClientBase):
    """An SMTP client that says whether, and how, each message was encrypted.

    ``AsyncSMTPClient(host, port=None, *, tls="auto", username=None, password=None, ...)``;
    every keyword is documented in :class:`cdomail.session.ClientConfig.build`.
    Use it as an async context manager, or call ``connect()`` and ``aclose()``.
    """

    _stream: AsyncNetworkStream | None = None

    # -- connection ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, read the greeting, EHLO, apply the TLS policy, and authenticate."""
        if self._conn is not None:
            return
        self._clock = Clock(self.config)
        if self.transcript is None:
            self.transcript = log_only()  # DEBUG logging of the (redacted) conversation
        if not self._ehlo_name:
            self._ehlo_name = await resolve_local_hostname()
        plan = ConnectPlan(self.config, self._ehlo_name)
        try:
            await self._run(plan.steps(), plan.connection)
        except BaseException:
            await self._abort()
            raise

    async def _run(self, plan: Generator[Step, Any, _T], connection: ClientConnection) -> _T:
        """Perform the plan's steps; a failure is thrown back into the plan at its step."""
        outcome: Reply | bytes | None = None
        failure: BaseException | None = None
        while True:
            try:
                step = plan.send(outcome) if failure is None else plan.throw(failure)
            except StopIteration as finished:
                return cast(_T, finished.value)
            failure = None
            try:
                outcome = await self._perform(step, connection)
            except BaseException as exc:  # Ctrl-C and cancellation too: the plan says what is known
                failure = exc

    async def _perform(self, step: Step, connection: ClientConnection) -> Reply | bytes | None:
        if isinstance(step, Receive):
            return await self._read_reply(step.timeout or None)
        if isinstance(step, Write):
            return await self._write(step.data, "BLOCK", guard=step.guard)
        if isinstance(step, Send):
            await self._send_command(step.command)
        elif isinstance(step, Open):
            await self._open(step, connection)
        elif isinstance(step, UpgradeTLS):
            await self._require_stream().start_tls(
                self._ssl_context(), self.config.server_hostname,
                self._clock.timeout("STARTTLS"), tls_peer=self._tls_peer(step.mode))
            self._tls = self._tls_facts(step.mode)
        elif isinstance(step, Close):
            await (self._quit_quietly() if step.polite else self._abort())
        else:
            self._event(step.text)
        return None

    async def _open(self, step: Open, connection: ClientConnection) -> None:
        config = self.config
        self._stream = await open_async_stream(
            config.connect_host,
            config.connect_port,
            timeout=self._clock.timeout("CONNECT"),
            ssl_context=self._ssl_context() if step.implicit_tls else None,
            server_hostname=config.server_hostname,
            tls_peer=self._tls_peer(TLSMode.IMPLICIT),
        )
        self._conn = connection
        if step.implicit_tls:
            self._tls = self._tls_facts(TLSMode.IMPLICIT)

    def _tls_facts(self, mode: TLSMode) -> TLSInfo:
        return self._tls_established(self._require_stream().ssl_object, mode)

    # -- sending (the public methods: _sending.py) ------------------------------------------

    async def _send_prepared(
        self,
        items: Iterator[PreparedMessage | InputError],
        *,
        on_settled: Callable[[SendResult], object] | None = None,
        shrink: Callable[[SendResult], BatchResult] | None = None,
    ) -> list[SendResult]:
        """Run the batch plan (``session/_batch_plan.py``) over this session, connected
        only when there is a message to send."""
        plan = self._batch_plan(items, on_settled, shrink)
        if plan.first_message(self._tls) is None:
            return plan.results()
        try:
            await self.connect()
        except BaseException as caught:
            plan.interrupted_by(caught, self._tls)
            raise
        await self._refuse_idle_input()
        try:
            return await self._run(self._batch_steps(plan), self._require_conn())
        except BaseException:
            await self._abort()  # mid-content, perhaps: never reused
            raise
        finally:
            self._bdat_trusted = plan.bdat_trusted

    # -- reading and writing --------------------------------------------------------------

    async def _refuse_idle_input(self) -> None:
        """Before a new exchange, nothing may be waiting: a reply that arrived while no
        command was pending must never be taken as the next command's answer (RFC 5321 §4.2:
        a reply answers a command)."""
        conn = self._require_conn()
        if conn.pending:
            return
        data = self._require_stream().read_available(READ_SIZE)
        if data is None:
            return
        try:
            conn.receive_data(data)
            event = conn.next_event()
            if isinstance(event, ConnectionClosed):
                raise disconnected(self._peer, event)
        except CdoMailError:
            await self._abort()
            raise

    async def _send_command(self, command: Command) -> None:
        await self._refuse_idle_input()
        await self._write(self._encode(command), command.verb)

    async def _write(self, data: bytes | bytearray, what: str, *, guard: bool = False
                     ) -> bytes | None:
        """Write ``data``; ``guard``: unless something has already arrived (then that)."""
        stream = self._require_stream()
        try:
            if guard:
                early = stream.read_available(READ_SIZE)
                if early is not None:
                    return early
            await stream.write(data, self._clock.timeout(what))
        except CdoMailError:
            await self._abort()
            raise
        return None

    async def _read_reply(self, what: str | None = None) -> Reply:
        """The next reply; ``what`` names the timeout (default: the oldest pending verb's)."""
        conn = self._require_conn()
        stream = self._require_stream()
        try:
            end: float | None = None
            tried_at_once = False
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    if not tried_at_once:
                        # Hot path: in a pipelined batch the reply has usually arrived while
                        # the next message was prepared: take it without working out a
                        # deadline. Every later read has one, so a reply trickled a byte at a time
                        # still ends within it (RFC 5321 §4.5.3.2).
                        tried_at_once = True
                        data = stream.read_available(READ_SIZE)
                        if data is not None:
                            conn.receive_data(data)
                            continue
                    if end is None:
                        end = self._clock.reply_deadline(what or timeout_key(conn))
                    conn.receive_data(await stream.read(READ_SIZE, self._clock.remaining(end)))
                    continue
                return self._reply_from(event)
        except CdoMailError:
            # After a timeout or a broken reply the connection is never reused: a late reply
            # would be taken as the answer to the next command.
            await self._abort()
            raise

    def _require_stream(self) -> AsyncNetworkStream:
        if self._stream is None:
            raise LocalProtocolError("not connected")
        return self._stream

    # -- closing ------------------------------------------------------------------------

    async def _quit_quietly(self) -> None:
        """QUIT (when the session can take one) and close, ignoring failures."""
        try:
            data = self._quit_bytes()
            if data is not None:
                await self._require_stream().write(data, 5.0)
                await self._read_reply("QUIT")
        except (CdoMailError, OSError):
            pass
        await self._abort()

    async def _abort(self) -> None:
        # A later reconnect starts from nothing: in particular it must not inherit the
        # TLS facts of this connection (a plaintext reconnect would look encrypted).
        self._tls = None
        stream, self._stream, self._conn = self._stream, None, None
        if stream is not None:
            await stream.aclose()

    async def abort(self) -> None:
        """Close the connection at once, without QUIT: for a caller that must be off the
        wire now (a cancelled delivery, a lease running out). A batch in progress on this
        client reports what it knows; the session is never reused."""
        await self._abort()

    async def aclose(self) -> None:
        """Say QUIT (when the session is healthy) and close the connection."""
        if self._conn is not None:
            await self._quit_quietly()
        self._tls = None

    async def __aenter__(self) -> AsyncSMTPClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
