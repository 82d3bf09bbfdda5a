"""Run a session plan with no socket: scripted server replies in, the client's bytes out
(the connect and observe plans: ``run_plan``; the batch plan: ``run_batch``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from cdomail.errors import CdoMailError, ServerDisconnected
from cdomail.protocol import NEED_DATA, ClientConnection, ConnectionClosed, Ehlo, Reply
from cdomail.result import SendResult
from cdomail.session import (
    Close,
    ConnectPlan,
    Note,
    ObservePlan,
    Open,
    Receive,
    Send,
    Step,
    UpgradeTLS,
    Write,
)
from cdomail.session._batch_plan import BatchPlan


@dataclass
class PlanRun:
    """What a plan did: every step, and every byte it would have written."""

    steps: list[Step] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    error: CdoMailError | None = None

    def kinds(self) -> list[str]:
        return [type(step).__name__ for step in self.steps]


def run_plan(plan: ConnectPlan | ObservePlan, server: list[bytes | CdoMailError]) -> PlanRun:
    """Perform ``plan``; each Receive takes the next scripted chunk (a whole reply), or
    has the scripted error (a timeout, a broken reply) thrown into the plan there."""
    script = deque(server)
    conn = plan.connection
    run = PlanRun()
    steps = plan.steps()
    outcome: Reply | None = None
    failure: CdoMailError | None = None
    try:
        while True:
            step = steps.send(outcome) if failure is None else steps.throw(failure)
            run.steps.append(step)
            outcome, failure = None, None
            if isinstance(step, Send):
                run.sent += conn.send(step.command)
            elif isinstance(step, Receive):
                chunk = script.popleft()
                if isinstance(chunk, CdoMailError):
                    failure = chunk
                    continue
                conn.receive_data(chunk)
                event = conn.next_event()
                assert event is not NEED_DATA and isinstance(event, Reply), event
                outcome = event
            else:
                assert isinstance(step, Open | UpgradeTLS | Close | Note)
    except StopIteration:
        pass
    except CdoMailError as exc:
        run.error = exc
    assert not script, f"replies never read: {list(script)}"
    return run


@dataclass(frozen=True)
class Early:
    """Bytes already waiting when a guarded write (the end of a content) is about to go
    out: a reply that answers nothing yet (``b""``: the server closed)."""

    data: bytes


@dataclass
class BatchRun:
    """What a batch plan did: its steps, each write's bytes (a ``Send`` included, as the
    driver would serialise it), the results or the error it raised."""

    steps: list[Step] = field(default_factory=list)
    writes: list[bytes] = field(default_factory=list)
    results: list[SendResult] | None = None
    error: BaseException | None = None

    def count(self, kind: type) -> int:
        return sum(isinstance(step, kind) for step in self.steps)


def session(ehlo: bytes, *, pipelining: bool = True) -> ClientConnection:
    """A connection past its EHLO (``ehlo``: the server's whole reply)."""
    conn = ClientConnection(allow_pipelining=pipelining)
    conn.receive_data(b"220 mx.test ESMTP\r\n")
    assert isinstance(conn.next_event(), Reply)
    conn.send(Ehlo("client.test"))
    conn.receive_data(ehlo)
    assert isinstance(conn.next_event(), Reply)
    return conn


def run_batch(
    plan: BatchPlan,
    conn: ClientConnection,
    server: Sequence[bytes | Early | CdoMailError],
    *,
    chunking: bool = True,
    bdat_trusted: bool = False,
) -> BatchRun:
    """Perform ``plan`` as the drivers do. A ``Receive`` with no reply buffered takes the
    next scripted chunk (one or several replies) or has the scripted error thrown into
    the plan there; a guarded ``Write`` finds an ``Early`` at the head of the script."""
    script = deque(server)
    run = BatchRun()
    if plan.first_message(None) is None:
        run.results = plan.results()
        return run
    assert conn.extensions is not None
    steps = plan.steps(conn, conn.extensions, None, chunking=chunking, transcript=None,
                       bdat_trusted=bdat_trusted)
    outcome: Reply | bytes | None = None
    failure: BaseException | None = None
    while True:
        try:
            step = steps.send(outcome) if failure is None else steps.throw(failure)
        except StopIteration as finished:
            run.results = finished.value
            break
        except BaseException as exc:
            run.error = exc
            break
        run.steps.append(step)
        outcome, failure = None, None
        if isinstance(step, Write):
            if step.guard and script and isinstance(script[0], Early):
                outcome = script.popleft().data  # type: ignore[union-attr]
            else:
                run.writes.append(bytes(step.data))
        elif isinstance(step, Send):
            try:
                run.writes.append(conn.send(step.command))
            except CdoMailError as exc:  # the driver throws it into the plan at its step
                failure = exc
        elif isinstance(step, Receive):
            outcome, failure = _receive(conn, script)
        else:
            assert isinstance(step, Close | Note), step
    assert not [s for s in script if not isinstance(s, bytes)], f"never used: {list(script)}"
    return run


def _receive(
    conn: ClientConnection, script: deque[bytes | Early | CdoMailError]
) -> tuple[Reply | None, CdoMailError | None]:
    event = conn.next_event()
    if event is NEED_DATA:
        chunk = script.popleft()
        assert not isinstance(chunk, Early), "an early reply where a reply was awaited"
        if isinstance(chunk, CdoMailError):
            return None, chunk
        conn.receive_data(chunk)
        event = conn.next_event()
    if isinstance(event, ConnectionClosed):
        return None, ServerDisconnected("mx.test:25 closed the connection")
    assert isinstance(event, Reply), event
    return event, None
