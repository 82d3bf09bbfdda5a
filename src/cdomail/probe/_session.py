"""The probe's driver: performs an observe plan's steps over one stream, recording all.

The clients enforce a TLS policy; the probe *observes* what a server does in every
state (including ones a client refuses to enter). What it says and records is the
session layer's :class:`~cdomail.session.ObservePlan`; this module only writes, reads
(within the probe's limits), hands the STARTTLS handshake to the attempt that asked for
it (which records its ``ssl`` facts), and closes. Commands still go through
:class:`~cdomail.protocol.ClientConnection`, so argument checks and the STARTTLS
injection defence (RFC 3207 §4.2) apply unchanged.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._backends._async_stream import AsyncNetworkStream
from ..errors import CdoMailError, ConnectTimeout, ReadTimeout, ServerDisconnected
from ..protocol import NEED_DATA, ClientConnection, ClientState, Command, Quit, Reply
from ..session import Close, Note, Observation, ObservePlan, Receive, Send, Step, UpgradeTLS
from ..transcript import Transcript

READ_SIZE = 64 * 1024
#: QUIT is a courtesy; never wait long for its answer.
QUIT_TIMEOUT = 2.0
#: States in which the session is known to be healthy enough for a polite QUIT.
_QUIT_STATES = (ClientState.GREETED, ClientState.READY)


@dataclass(frozen=True)
class Limits:
    """The probe's time limits: no server, silent or trickling, can hold it longer.

    ``step`` bounds connecting (TCP, implicit TLS) and each write; ``command`` a whole reply,
    however it trickles in, and the TLS handshake after STARTTLS; ``ends_at`` (monotonic
    seconds) is the overall deadline every wait is cut to.
    """

    step: float
    command: float
    ends_at: float | None = None
    deadline: float | None = None

    @classmethod
    def start(cls, step: float, command: float | None, deadline: float | None) -> Limits:
        """The limits of a probe starting now."""
        ends_at = None if deadline is None else time.monotonic() + deadline
        return cls(step, command if command is not None else step, ends_at, deadline)

    def within(self, seconds: float, *, connecting: bool = False) -> float:
        """``seconds``, cut to what is left of the deadline; raises once it has passed."""
        if self.ends_at is None:
            return seconds
        left = self.ends_at - time.monotonic()
        if left <= 0.001:
            error = ConnectTimeout if connecting else ReadTimeout
            raise error(f"the probe's overall deadline of {self.deadline:g} s has passed")
        return min(seconds, left)


#: Performs the STARTTLS handshake on the session and records its facts; False: it
#: failed (recorded), so the observation ends there.
TLSHandshake = Callable[["ProbeSession"], Awaitable[bool]]


class ProbeSession:
    """One connection: a stream, the plan's sans-IO connection and a transcript."""

    def __init__(self, stream: AsyncNetworkStream, transcript: Transcript, limits: Limits,
                 conn: ClientConnection) -> None:
        self.stream = stream
        self.conn = conn
        self.transcript = transcript
        self.limits = limits
        #: Every byte the server sent before its first valid reply, for "what is this?".
        self.first_bytes = b""

    async def run(self, plan: ObservePlan, handshake: TLSHandshake | None = None) -> Observation:
        """Perform ``plan``'s steps; a transport failure is thrown back into the plan at its
        step (a silent greeting is an observation); what the plan does not handle ends the
        observation and propagates. ``plan.seen`` holds what was observed up to there."""
        steps = plan.steps()
        outcome: Reply | None = None
        failure: CdoMailError | None = None
        while True:
            try:
                step = steps.send(outcome) if failure is None else steps.throw(failure)
            except StopIteration as done:
                observed: Observation = done.value
                return observed
            outcome, failure = None, None
            if isinstance(step, UpgradeTLS):
                if handshake is None or not await handshake(self):
                    steps.close()
                    return plan.seen
                continue
            try:
                outcome = await self._perform(step)
            except CdoMailError as exc:
                failure = exc

    async def _perform(self, step: Step) -> Reply | None:
        if isinstance(step, Receive):
            return await self.read_reply()
        if isinstance(step, Send):
            await self.send(step.command)
        elif isinstance(step, Note):
            self.transcript.event(step.text, tls=self.conn.tls_active)
        elif isinstance(step, Close):
            await self.close()
        return None

    async def read_reply(self) -> Reply:
        """The next reply; raises ReadTimeout, ServerDisconnected or RemoteProtocolError.

        The whole reply must arrive within the command timeout: a server trickling it a
        byte at a time cannot stretch the wait."""
        end = time.monotonic() + self.limits.within(self.limits.command)
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                try:
                    left = end - time.monotonic()
                    if left <= 0:
                        raise ReadTimeout("the reply is late")
                    data = await self.stream.read(READ_SIZE, self.limits.within(left))
                except ReadTimeout:
                    self.limits.within(0)  # names the overall deadline when it is the cause
                    raise ReadTimeout("the reply did not arrive completely within"
                                      f" {self.limits.command:g} s") from None
                if len(self.first_bytes) < 256:
                    self.first_bytes += data[: 256 - len(self.first_bytes)]
                self.conn.receive_data(data)
                continue
            if isinstance(event, Reply):
                self.transcript.server(event.lines, event.code, tls=self.conn.tls_active)
                return event
            self.transcript.event("the server closed the connection", tls=self.conn.tls_active)
            raise ServerDisconnected("the server closed the connection")

    async def send(self, command: Command) -> None:
        """Write one command (recorded redacted)."""
        data = self.conn.send(command)
        self.transcript.client(command.redacted(), tls=self.conn.tls_active)
        await self.stream.write(data, self.limits.within(self.limits.step))

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Handshake after a 220 to STARTTLS, within the command timeout and the deadline
        (a server that stalls after its 220 cannot hold the probe); the caller reads the
        facts from the stream. Raw ``ssl`` errors propagate: the probe records them."""
        await self.stream.start_tls(context, server_hostname,
                                    self.limits.within(self.limits.command))

    async def close(self) -> None:
        """QUIT when the session is healthy, then close; never raises."""
        try:
            if self.conn.state in _QUIT_STATES and not self.conn.pending:
                self.limits = Limits(min(self.limits.step, QUIT_TIMEOUT),
                                     min(self.limits.command, QUIT_TIMEOUT),
                                     self.limits.ends_at, self.limits.deadline)
                await self.send(Quit())
                await self.read_reply()
        except (CdoMailError, OSError, ssl.SSLError):
            pass
        await self.stream.aclose()
        # On a TLS transport the first aclose() starts a close_notify exchange that waits for
        # the peer; the second one aborts (the stream's contract). A probe never waits on a
        # server it is done with, and an event loop ending mid-exchange would leak the socket.
        await self.stream.aclose()
