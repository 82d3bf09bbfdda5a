"""What the hostile server says and does: a script of canned steps per SMTP verb.

A :class:`Script` maps verbs to *steps*. A step is raw bytes (sent verbatim, so a test can send
anything, including broken SMTP), or one of the action objects below. A list of steps means
"one per use of the verb, the last one repeating" (e.g. ``[b"250 ok\\r\\n", b"550 no\\r\\n"]``
for the first and every later RCPT).

Besides the ordinary verbs, three pseudo-verbs are scripted the same way:

* ``"DATA_END"``  the reply after the final ``.`` of a DATA body
* ``"AUTH_CONT"`` the reply to each line the client sends during a ``334`` exchange
* ``"BDAT"``      the reply to each BDAT chunk (after its bytes were read)

Where a fixed table is not enough, ``Script.handler`` takes per-verb hooks in aiosmtpd's style:
an object whose ``handle_<NAME>(session, argument)`` methods (NAME a verb or ``GREETING``,
``DATA_END``, ``AUTH_CONT``) return the step to perform, or ``None`` to fall through to the
tables. ``argument`` is the command line as received (for ``DATA_END`` the decoded message,
for ``GREETING`` empty; a ``BDAT`` hook finds the chunks so far in ``session.bdat_pending``).
``session`` is the live :class:`~tests._server.session.Session` (``number``, ``tls``,
``record``, ``bdat_pending``, ``receive_some()``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class Then(enum.Enum):
    """What the server does right after sending a reply."""

    #: Go on reading the next command.
    CONTINUE = "continue"
    #: Close the connection (FIN).
    CLOSE = "close"
    #: Abort the connection (RST, via SO_LINGER 0).
    RESET = "reset"
    #: Stop reading but keep the connection open, so the client's writes eventually block.
    STALL = "stall"
    #: Read (and discard) until the client closes, then close: the reply is surely read.
    DRAIN = "drain"


@dataclass(frozen=True)
class Reply:
    """Send ``data`` (after ``delay`` seconds, ``trickle`` bytes at a time), then do ``then``.

    ``later`` is a tuple of ``(seconds, bytes)`` sent after the reply, each after its own pause:
    unsolicited lines between commands (RFC 5321 §4.2: one reply per command).
    """

    data: bytes
    delay: float = 0.0
    #: (bytes per write, seconds between writes), for slowloris-style replies.
    trickle: tuple[int, float] | None = None
    then: Then = Then.CONTINUE
    later: tuple[tuple[float, bytes], ...] = ()


@dataclass(frozen=True)
class Close:
    """Close instead of replying (``reset=True``: with a TCP RST rather than a FIN)."""

    reset: bool = False


@dataclass(frozen=True)
class Silence:
    """Send nothing at all; keep reading commands (each gets its own scripted reply)."""


@dataclass(frozen=True)
class Endless:
    """Send ``prefix`` then ``chunk`` over and over until the client goes away.

    ``Endless(b"250-more\\r\\n")`` is an endless continuation; ``Endless(b"x" * 4096)`` a line
    that never ends.
    """

    chunk: bytes
    prefix: bytes = b""
    #: Safety cap so a client that never stops reading cannot make the test run forever.
    limit: int = 64 * 1024 * 1024


Step = bytes | Reply | Close | Silence | Endless
Steps = Step | Sequence[Step]


class TLSSetup(enum.Enum):
    """Whether and how the server speaks TLS."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


class Handshake(enum.Enum):
    """What the server does where the TLS handshake should happen."""

    #: A real handshake with the configured certificate.
    NORMAL = "normal"
    #: No handshake: read and discard whatever arrives (the ClientHello), never answer.
    STALL = "stall"
    #: No handshake: carry on in plaintext, sending ``250 still plaintext``.
    PLAINTEXT = "plaintext"
    #: Close the connection instead of shaking hands.
    CLOSE = "close"


DEFAULT_CAPABILITIES = ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES")


@dataclass(frozen=True)
class Script:
    """Everything the hostile server will do in each session.

    ``capabilities`` is the EHLO list before TLS; ``tls_capabilities`` after it (None: the same
    list). ``STARTTLS`` is added to the pre-TLS list automatically when ``tls`` is STARTTLS and
    ``advertise_starttls`` is true. ``replies`` override the defaults per verb, ``tls_replies``
    override ``replies`` once TLS is up. A raw ``"EHLO"`` reply replaces the generated list.
    """

    greeting: Steps = b"220 hostile.test ESMTP ready\r\n"
    capabilities: Sequence[str] = DEFAULT_CAPABILITIES
    tls_capabilities: Sequence[str] | None = None
    replies: Mapping[str, Steps] = field(default_factory=dict)
    tls_replies: Mapping[str, Steps] = field(default_factory=dict)
    tls: TLSSetup = TLSSetup.NONE
    advertise_starttls: bool = True
    #: Which certificate to present: a key of ``CertificateSet.pairs``.
    certificate: str = "good"
    handshake: Handshake = Handshake.NORMAL
    #: Bytes sent in the same write as the 220 to STARTTLS (response injection, RFC 3207 §6).
    starttls_extra: bytes = b""
    #: Reject bare LF (in commands and DATA) and unadvertised early input, then close.
    strict: bool = False
    #: Close after this many bytes of DATA body were received (a mid-body disconnect).
    data_disconnect_after: int | None = None
    #: Credentials the default AUTH handler accepts (None: any credentials are accepted).
    credentials: tuple[str, str] | None = None
    #: Upper bound on one received line, so a runaway client cannot exhaust memory.
    max_line: int = 1024 * 1024
    hostname: str = "hostile.test"
    #: The step for every verb neither the hooks nor ``replies`` name (None: built-in defaults).
    fallback: Steps | None = None
    #: Per-verb hooks (see the module docstring); consulted before ``replies``.
    handler: object | None = None

    def ehlo_capabilities(self, tls_active: bool) -> list[str]:
        """The capability lines advertised to EHLO in the given TLS state."""
        if tls_active:
            source = self.capabilities if self.tls_capabilities is None else self.tls_capabilities
            return [c for c in source if c.upper() != "STARTTLS"]
        listed = list(self.capabilities)
        if (
            self.tls is TLSSetup.STARTTLS
            and self.advertise_starttls
            and "STARTTLS" not in (c.upper() for c in listed)
        ):
            listed.append("STARTTLS")
        return listed


def ehlo_reply(hostname: str, capabilities: Sequence[str]) -> bytes:
    """A well-formed multi-line 250 reply advertising ``capabilities``."""
    lines = [f"{hostname} greets you", *capabilities]
    out = [f"250-{line}\r\n" for line in lines[:-1]]
    out.append(f"250 {lines[-1]}\r\n")
    return "".join(out).encode("ascii")
