"""The client's sending methods: the public API over the driver's one batch runner.

Source of truth like ``client.py`` (``scripts/unasync.py`` generates ``_sync/_sending.py``).
No I/O here: each method turns its arguments into prepared messages and runs them with
``_send_prepared`` (``client.py``), which performs the batch plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from ..batch import BatchResult, CompactResult
from ..batch import compact as compact_result
from ..errors import InputError
from ..message import MessageInput, OutgoingMessage, PreparedMessage, prepare_outgoing
from ..result import SendResult
from ..session._batch import compact_receiver, prepared_items


class AsyncSending:
    """``send``, ``send_many`` and ``send_prepared`` of :class:`~cdomail.AsyncSMTPClient`."""

    if TYPE_CHECKING:
        async def _send_prepared(
            self,
            items: Iterator[PreparedMessage | InputError],
            *,
            on_settled: Callable[[SendResult], object] | None = None,
            shrink: Callable[[SendResult], BatchResult] | None = None,
        ) -> list[SendResult]: ...

    async def send(
        self,
        message: MessageInput,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> SendResult:
        """Send one message: raise its error, or return its result (some may be refused)."""
        prepared = prepare_outgoing(OutgoingMessage(message, sender, recipients,
                                                    mail_options, rcpt_options))
        [result] = await self._send_prepared(iter([prepared]))
        if result.error is not None:
            raise result.error
        return result

    @overload
    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: Literal[False] = False,
        on_result: Callable[[SendResult], object] | None = None,
    ) -> list[SendResult]: ...

    @overload
    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: Literal[True],
        on_result: Callable[[CompactResult], object] | None = None,
    ) -> list[CompactResult]: ...

    async def send_many(
        self,
        messages: Iterable[MessageInput | OutgoingMessage],
        *,
        compact: bool = False,
        on_result: Callable[[Any], object] | None = None,
    ) -> list[SendResult] | list[CompactResult]:
        """Send many messages over this connection, pipelined when the server allows.

        Each item is a message (envelope from its headers) or an
        :class:`~cdomail.OutgoingMessage` with its own envelope and parameters.
        Returns one result per message, in order; a message that failed has
        ``result.error`` set (bad input, a refusal, or a connection failure, after
        which the remaining messages are reported as not sent).

        ``compact=True``: :class:`~cdomail.batch.CompactResult` instead (no reply kept
        per accepted recipient). ``on_result``: each result is handed to it, in order,
        as soon as its verdict is known, and not kept (the returned list is empty):
        memory stays flat whatever the number of messages. When the batch is
        interrupted (Ctrl-C, cancellation) the exception carries ``partial_results``
        (see :mod:`cdomail.batch`).
        """
        if not compact:
            return await self._send_prepared(prepared_items(messages), on_settled=on_result)
        kept, receive_compact = compact_receiver(on_result)
        await self._send_prepared(prepared_items(messages), on_settled=receive_compact,
                                  shrink=compact_result)
        return kept

    async def send_prepared(self, messages: Iterable[PreparedMessage]) -> list[SendResult]:
        """Send messages already checked and prepared (each with its own envelope, see
        :func:`cdomail.message.prepare_outgoing`), pipelined like :meth:`send_many`: the
        pools' way in. One result per message, in order."""
        return await self._send_prepared(iter(messages))
