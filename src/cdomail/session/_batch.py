"""The pure helpers of the batch plan (``_batch_plan``): options, feature checks,
results, chunking; no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..batch import BatchResult, CompactResult, compact, interrupted
from ..errors import InputError, ServerDisconnected
from ..message import MessageInput, OutgoingMessage, PreparedMessage, prepare_outgoing
from ..protocol import ClientConnection, ConnectionClosed, Reply
from ..result import SendResult
from ..tls import TLSInfo
from ..transcript import Transcript
from ._transaction import SessionFeatures, Transaction, unsent_result

#: Writes of message content are gathered up to this size (fewer syscalls, full segments).
WRITE_SIZE = 256 * 1024
#: BDAT chunk size: big enough that per-chunk replies stay few, small enough to stream.
BDAT_CHUNK = 1024 * 1024
#: With PIPELINING + CHUNKING, how many whole transactions may wait for their verdict at once.
TRANSACTION_WINDOW = 32
#: Stands in for a result already handed to ``on_result`` (the batch forgets it).
HANDED_OVER = SendResult(sender="", recipients=[], tls_mode="", tls=None)


def settle_results(slots: list[Transaction | SendResult], start: int, mode: str) -> int:
    """Turn the finished transactions at the front of ``slots`` into results; return the
    new front. On a long batch this frees each transaction, its message and its envelope
    replies early: fewer live objects, and no full garbage collection triggered by them."""
    while start < len(slots):
        slot = slots[start]
        if isinstance(slot, Transaction):
            if not slot.done:
                break
            slots[start] = slot.result(mode)
        start += 1
    return start


def hand_over(
    slots: list[Transaction | SendResult],
    start: int,
    end: int,
    on_settled: Callable[[SendResult], object],
) -> int:
    """Give the settled ``slots[start:end]`` to ``on_settled`` and forget them (each slot
    keeps one shared placeholder); return ``end``, the new start."""
    for index in range(start, end):
        slot = slots[index]
        if isinstance(slot, SendResult):
            slots[index] = HANDED_OVER
            on_settled(slot)
    return end


def deliver(
    slots: list[Transaction | SendResult],
    mode: str,
    on_settled: Callable[[SendResult], object] | None,
) -> list[SendResult]:
    """The results of ``slots``: returned, or handed to ``on_settled`` (then none returned)."""
    results = [s.result(mode) if isinstance(s, Transaction) else s for s in slots]
    if on_settled is None:
        return results
    for result in results:
        on_settled(result)
    return []


def interrupted_results(
    slots: list[Transaction | SendResult],
    current: PreparedMessage | InputError | None,
    mode: str,
    tls: TLSInfo | None,
    shrink: Callable[[SendResult], BatchResult] | None,
) -> list[BatchResult]:
    """What an interrupted batch knows: each message taken so far (``slots``, then the
    ``current`` one) with its verdict, "status unknown" when its content went out without
    one, or "not sent"."""
    results: list[SendResult] = []
    for slot in slots:
        if not isinstance(slot, Transaction):
            results.append(slot)
        elif slot.done:
            results.append(slot.result(mode))
        else:
            results.append(interrupted(slot.prepared.sender, slot.prepared.recipients, mode,
                                       content_sent=slot.content_sent, size=slot.size))
    if isinstance(current, InputError):
        results.append(unsent_result(None, current, mode, tls))
    elif current is not None:
        results.append(interrupted(current.sender, current.recipients, mode,
                                   content_sent=False))
    return [shrink(r) for r in results] if shrink is not None else list(results)


def prepared_items(
    messages: Iterable[MessageInput | OutgoingMessage],
) -> Iterator[PreparedMessage | InputError]:
    """Each message checked and prepared in turn; bad input becomes its InputError."""
    for message in messages:
        try:
            yield prepare_outgoing(message)
        except InputError as exc:
            yield exc


def compact_receiver(
    on_result: Callable[[CompactResult], object] | None,
) -> tuple[list[CompactResult], Callable[[SendResult], None]]:
    """``send_many(compact=True)``: where the compact results go (``on_result``, else the
    returned list) and the ``on_settled`` that shrinks each result as its verdict arrives,
    so the full ones never pile up."""
    kept: list[CompactResult] = []
    receiver = kept.append if on_result is None else on_result

    def shrink_and_hand_over(result: SendResult) -> None:
        receiver(compact(result))

    return kept, shrink_and_hand_over


def shown_reply(
    event: Reply | ConnectionClosed,
    transcript: Transcript | None,
    conn: ClientConnection,
    peer: str,
) -> Reply:
    """The reply (shown in the transcript), or the error for a closed connection: the
    driver's and the batch plan's one way of taking a reply from the core."""
    if isinstance(event, Reply):
        if transcript is not None:
            transcript.server(event.lines, event.code, tls=conn.tls_active)
        return event
    raise disconnected(peer, event)


def disconnected(peer: str, event: ConnectionClosed) -> ServerDisconnected:
    """The error for a connection the server (``peer``, "host:port") closed."""
    return ServerDisconnected(
        f"{peer} closed the connection"
        + (f" while {event.pending[0].verb} awaited its reply" if event.pending else "")
    )


def check_features(prepared: PreparedMessage, features: SessionFeatures) -> None:
    """Refuse, before its first command, a message this session cannot carry."""
    if prepared.smtputf8 and not features.smtputf8:
        raise InputError("an address is not ASCII and the server does not offer SMTPUTF8"
                         " (RFC 6531)", field="recipient")
    if prepared.eight_bit and not features.eight_bit_mime:
        raise InputError("the message has 8-bit content and the server does not offer"
                         " 8BITMIME: encode the body (quoted-printable or base64)",
                         field="body")


def mail_options(prepared: PreparedMessage, features: SessionFeatures) -> tuple[str, ...]:
    options: list[str] = []
    if prepared.size is not None and features.size:
        options.append(f"SIZE={prepared.size}")  # RFC 1870: lets the server refuse early
    if prepared.eight_bit is not False and features.eight_bit_mime:
        options.append("BODY=8BITMIME")
    if prepared.smtputf8:
        options.append("SMTPUTF8")
    return (*options, *prepared.mail_options)


def timeout_key(conn: ClientConnection) -> str:
    """Which RFC 5321 §4.5.3.2 timeout applies to the reply we are waiting for."""
    verb = conn.oldest_pending_verb()
    return "." if verb in (".", "BDAT") else (verb or "GREETING")


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Regroup a byte stream into pieces of about ``size`` (tiny chunks merged, big ones split)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
