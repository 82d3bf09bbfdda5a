"""A minimal SMTP driver for the probe: one command at a time, everything recorded.

The clients enforce a TLS policy; the probe must instead *observe* what a
server does in every state (including ones a client refuses to enter), so it
drives the sans-IO core directly. It still goes through
:class:`~cdomail.protocol.ClientConnection`, so argument checks and the
STARTTLS injection defence (RFC 3207 §4.2) apply unchanged.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

from .._backends._async_stream import AsyncNetworkStream
from ..errors import (
    CdoMailError,
    ConnectTimeout,
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnected,
)
from ..protocol import (
    NEED_DATA,
    PREFERRED_MECHANISMS,
    ClientConnection,
    ClientState,
    Command,
    Quit,
    Reply,
    Secret,
    password_authenticator,
    sasl_dialogue,
)
from ..transcript import Transcript
from ._facts import LoginResult

READ_SIZE = 64 * 1024
#: QUIT is a courtesy; never wait long for its answer.
QUIT_TIMEOUT = 2.0
#: States in which the session is known to be healthy enough for a polite QUIT.
_QUIT_STATES = (ClientState.GREETED, ClientState.READY)


@dataclass(frozen=True)
class Limits:
    """The probe's time limits (security cases 32-33): no server can hold it longer.

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


class ProbeSession:
    """One connection: a stream, a sans-IO connection and a transcript."""

    def __init__(self, stream: AsyncNetworkStream, transcript: Transcript, limits: Limits) -> None:
        self.stream = stream
        self.conn = ClientConnection(allow_pipelining=False)
        self.transcript = transcript
        self.limits = limits
        #: Every byte the server sent before its first valid reply, for "what is this?".
        self.first_bytes = b""

    async def read_reply(self) -> Reply:
        """The next reply; raises ReadTimeout, ServerDisconnected or RemoteProtocolError.

        The whole reply must arrive within the command timeout: a server trickling it a
        byte at a time cannot stretch the wait (security case 33)."""
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

    async def command(self, command: Command) -> Reply:
        """Send one command and return its reply."""
        data = self.conn.send(command)
        self.transcript.client(command.redacted(), tls=self.conn.tls_active)
        await self.stream.write(data, self.limits.within(self.limits.step))
        return await self.read_reply()

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Handshake after a 220 to STARTTLS, within the command timeout and the deadline
        (a server that stalls after its 220 cannot hold the probe); the caller reads the
        facts from the stream."""
        await self.stream.start_tls(context, server_hostname,
                                    self.limits.within(self.limits.command))
        self.conn.start_tls_completed()

    async def login(self, username: str, password: Secret) -> LoginResult:
        """AUTH with the first advertised mechanism we know. Only ever called inside TLS."""
        if not self.conn.tls_active:
            # The rule, enforced here as well as by the caller: never in plaintext.
            raise LocalProtocolError("the probe never authenticates without TLS")
        advertised = self.conn.extensions.auth_mechanisms if self.conn.extensions else ()
        usable = [m for m in PREFERRED_MECHANISMS if m in advertised]
        if not usable:
            shown = " ".join(advertised) or "none"
            return LoginResult("not-offered", f"no usable AUTH mechanism (offered: {shown})")
        mechanism = usable[0]
        dialogue = sasl_dialogue(password_authenticator(mechanism, username, password))
        command = next(dialogue)
        try:
            while True:
                reply = await self.command(command)
                try:
                    command = dialogue.send(reply)
                except StopIteration as finished:
                    reply = finished.value
                    break
        except (RemoteProtocolError, LocalProtocolError) as exc:
            return LoginResult("failed", f"AUTH {mechanism} exchange broke off: {exc}")
        if reply.code == 235:
            return LoginResult("ok", f"AUTH {mechanism} accepted")
        return LoginResult("failed", f"AUTH {mechanism} refused: {reply.code} {reply.text}")

    async def close(self) -> None:
        """QUIT when the session is healthy, then close; never raises."""
        try:
            if self.conn.state in _QUIT_STATES and not self.conn.pending:
                self.limits = Limits(min(self.limits.step, QUIT_TIMEOUT),
                                     min(self.limits.command, QUIT_TIMEOUT),
                                     self.limits.ends_at, self.limits.deadline)
                await self.command(Quit())
        except (CdoMailError, OSError, ssl.SSLError):
            pass
        await self.stream.aclose()
        # On a TLS transport the first aclose() starts a close_notify exchange that waits for
        # the peer; the second one aborts (the stream's contract). A probe never waits on a
        # server it is done with, and an event loop ending mid-exchange would leak the socket.
        await self.stream.aclose()
