"""The steps a session plan asks its driver to perform.

A plan (``_connect``, ``_batch_plan``) is a generator: it yields one of these, the driver
performs it over its stream and sends back what the step produced (a
:class:`~cdomail.protocol.Reply` for :class:`Receive`, what a guarded :class:`Write` found
waiting, ``None`` otherwise). A failure is thrown into the plan at the step that met it,
so the plan can say what the failure means there (no greeting: probably an implicit-TLS
port). Steps are values: a test runs a plan against scripted replies and reads the steps
back, with no socket (like h11's ``ConnectionPair``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

from ..protocol import Command, Reply
from ..tls import TLSMode


@dataclass(frozen=True, slots=True)
class Open:
    """Open the connection; ``implicit_tls``: handshake before the first byte (RFC 8314 §3)."""

    implicit_tls: bool


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``command`` (serialised by the connection, recorded redacted)."""

    command: Command


@dataclass(frozen=True, slots=True)
class Receive:
    """Read the next reply within the timeout named ``timeout`` (RFC 5321 §4.5.3.2 keys,
    plus "CONNECT" and "AUTO_GREETING"; empty: the key of the oldest command awaiting its
    reply, worked out only when the reply has not already arrived)."""

    timeout: str


@dataclass(frozen=True, slots=True)
class UpgradeTLS:
    """Run the TLS handshake on the open connection (RFC 3207 §4, after a 220 to STARTTLS)."""

    mode: TLSMode


@dataclass(frozen=True, slots=True)
class Write:
    """Write ``data`` as it is (a pipelined group: commands already serialised, content).

    ``guard``: these bytes carry the end of a message's content, and nothing may have
    arrived before them (RFC 5321 §4.1.1.4: the verdict follows the end of the data).
    The driver then first takes what has already arrived, without waiting: when there
    is something (``b""``: the server closed), it writes nothing and that is the
    outcome, for the plan to judge; otherwise the outcome is ``None``.
    """

    data: bytes | bytearray
    guard: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """A line for the transcript: a decision the plan took."""

    text: str


@dataclass(frozen=True, slots=True)
class Close:
    """End the connection before the plan raises: ``polite`` sends QUIT first (nothing is
    pending and the session is sound), else the connection is simply closed."""

    polite: bool


Step = Open | Send | Receive | Write | UpgradeTLS | Note | Close
_Outcome = TypeVar("_Outcome")
#: A plan yields steps, receives each step's reply (or ``None``) and returns its outcome.
Plan = Generator[Step, Reply | None, _Outcome]
