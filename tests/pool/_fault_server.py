"""An ESMTP server on loopback that misbehaves on cue, for the pool's failure tests.

It is the tests' one SMTP server (:mod:`tests._server`) with per-verb hooks. It speaks just
enough SMTP for a pipelining client (EHLO with PIPELINING and 8BITMIME, MAIL, RCPT, DATA,
RSET, NOOP, QUIT, and BDAT when ``chunking=True``). The faults:

* ``close_after=N``: in every session, the MAIL after N stored messages gets
  ``421`` and the connection closes (a server limiting messages per session).
  With ``abrupt=False`` the server first reads what the client already sent, so
  the client reads the 421; with ``abrupt=True`` it closes at once, and unread
  input makes the kernel reset the connection (the client may see only that).
* ``on_mail(session, mail_number)``: return ``"drop"`` to close without a reply.
* ``on_dot(session, message_number, subject)``: return ``"drop"`` (keep the
  message, close without a reply), ``"silent"`` (keep it, never answer), or a
  reply line such as ``b"451 4.3.0 try later"`` (refuse it), or None (accept).

``received`` lists the subject of every message whose content arrived in full,
answered or not; ``stored`` those answered with 250.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from tests._server import Close, Reply, Script, ScriptedServer, Step, Then
from tests._server.session import Session

MailHook = Callable[[int, int], str | None]
DotHook = Callable[[int, int, str], str | bytes | None]

_SUBJECT = re.compile(rb"^Subject: (.*?)\r?$", re.MULTILINE | re.IGNORECASE)
_OK = b"250 2.0.0 OK\r\n"


@dataclass
class _Tally:
    """What one session has done so far."""

    mails: int = 0
    messages: int = 0
    stored: int = 0


class _FaultHooks:
    """The per-verb hooks (``handle_<VERB>``) that count and misbehave."""

    def __init__(self, owner: FaultServer) -> None:
        self.owner = owner
        self.tallies: dict[int, _Tally] = {}

    def handle_GREETING(self, session: Session, argument: bytes) -> Step | None:
        self.tallies[session.number] = _Tally()
        self.owner.session_started()
        return None

    def handle_MAIL(self, session: Session, line: bytes) -> Step | None:
        owner, tally = self.owner, self.tallies[session.number]
        tally.mails += 1
        if owner.close_after is not None and tally.stored >= owner.close_after:
            then = Then.CLOSE if owner.abrupt else Then.DRAIN
            return Reply(b"421 4.7.0 too many messages in this session\r\n", then=then)
        if owner.on_mail is not None and owner.on_mail(session.number, tally.mails) == "drop":
            return Close()
        return _OK

    def handle_DATA_END(self, session: Session, content: bytes) -> Step | None:
        return self._message(session, content)

    def handle_BDAT(self, session: Session, line: bytes) -> Step | None:
        words = line.split()
        if words[-1].upper() != b"LAST":
            return b"250 2.0.0 chunk received\r\n"
        return self._message(session, bytes(session.bdat_pending))

    def handle_QUIT(self, session: Session, line: bytes) -> Step | None:
        self.owner.count_quit()
        return Reply(b"221 2.0.0 bye\r\n", then=Then.CLOSE)

    def _message(self, session: Session, content: bytes) -> Step:
        owner, tally = self.owner, self.tallies[session.number]
        tally.messages += 1
        found = _SUBJECT.search(content)
        subject = found.group(1).decode() if found else ""
        owner.received.append(subject)
        action = owner.on_dot(session.number, tally.messages, subject) if owner.on_dot else None
        if action == "drop":
            owner.stored.append((session.number, subject))
            return Close()
        if action == "silent":
            return Reply(b"", then=Then.DRAIN)  # until the client gives up and closes
        if isinstance(action, bytes):
            return action + b"\r\n"
        tally.stored += 1
        owner.stored.append((session.number, subject))
        return _OK


class FaultServer:
    """An SMTP server with injectable faults; use ``async with``."""

    def __init__(
        self,
        *,
        close_after: int | None = None,
        on_mail: MailHook | None = None,
        on_dot: DotHook | None = None,
        chunking: bool = False,
        abrupt: bool = False,
    ) -> None:
        self.abrupt = abrupt
        self.close_after = close_after
        self.on_mail = on_mail
        self.on_dot = on_dot
        self.received: list[str] = []
        self.stored: list[tuple[int, str]] = []  # (session number, subject)
        self.quits = 0
        self.peak = 0
        self._lock = threading.Lock()
        ehlo = (b"250-fault.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                + b"250-CHUNKING\r\n" * chunking + b"250 SIZE 10000000\r\n")  # fmt: skip
        script = Script(
            greeting=b"220 fault.test ESMTP\r\n",
            replies={"EHLO": ehlo, "RCPT": _OK, "RSET": _OK, "NOOP": _OK,
                     "DATA": b"354 go ahead\r\n"},
            fallback=b"500 5.5.2 unknown command\r\n",
            handler=_FaultHooks(self),
        )
        self._server = ScriptedServer(script)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    @property
    def sessions(self) -> int:
        """How many connections were accepted."""
        return self._server.connections

    @property
    def live(self) -> int:
        """Sessions still open."""
        return sum(not record.finished.is_set() for record in self._server.sessions)

    def session_started(self) -> None:
        """Called from a session's thread: note how many sessions are open at once."""
        with self._lock:
            self.peak = max(self.peak, self.live)

    def count_quit(self) -> None:
        """Called from a session's thread on QUIT."""
        with self._lock:
            self.quits += 1

    async def __aenter__(self) -> FaultServer:
        self._server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self._server.stop)
