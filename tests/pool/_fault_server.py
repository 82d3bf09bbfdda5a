"""A tiny ESMTP server on loopback that misbehaves on cue, for the pool's failure tests.

It speaks just enough SMTP for a pipelining client (EHLO with PIPELINING and
8BITMIME, MAIL, RCPT, DATA, RSET, NOOP, QUIT, and BDAT when ``chunking=True``)
and runs on the test's own event loop. The faults are small hooks:

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
from collections.abc import Callable
from types import TracebackType

MailHook = Callable[[int, int], str | None]
DotHook = Callable[[int, int, str], str | bytes | None]

_SUBJECT = re.compile(rb"^Subject: (.*?)\r?$", re.MULTILINE | re.IGNORECASE)


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
        self.chunking = chunking
        self.close_after = close_after
        self.on_mail = on_mail
        self.on_dot = on_dot
        self.received: list[str] = []
        self.stored: list[tuple[int, str]] = []  # (session number, subject)
        self.sessions = 0
        self.live = 0
        self.peak = 0
        self.quits = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> FaultServer:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.sessions += 1
        number = self.sessions
        self.live += 1
        self.peak = max(self.peak, self.live)
        try:
            await self._converse(number, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.live -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, asyncio.CancelledError):
                pass
            self._handlers.discard(task)

    async def _converse(
        self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"220 fault.test ESMTP\r\n")
        stored = mails = messages = 0
        chunks: list[bytes] = []
        while line := await reader.readline():
            verb = line[:4].upper()
            reply: bytes = b"250 2.0.0 OK"
            if verb == b"EHLO":
                reply = b"250-fault.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                reply += b"250-CHUNKING\r\n" * self.chunking + b"250 SIZE 10000000"
            elif verb == b"MAIL":
                mails += 1
                if self.close_after is not None and stored >= self.close_after:
                    writer.write(b"421 4.7.0 too many messages in this session\r\n")
                    if not self.abrupt:
                        await writer.drain()
                        await reader.read()  # until the client closes
                    return
                if self.on_mail is not None and self.on_mail(number, mails) == "drop":
                    return
            elif verb in (b"DATA", b"BDAT"):
                if verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    content = await reader.readuntil(b"\r\n.\r\n")
                else:
                    words = line.split()
                    chunks.append(await reader.readexactly(int(words[1])))
                    if words[-1].upper() != b"LAST":
                        writer.write(b"250 2.0.0 chunk received\r\n")
                        continue
                    content, chunks = b"".join(chunks), []
                messages += 1
                found = _SUBJECT.search(content)
                subject = found.group(1).decode() if found else ""
                self.received.append(subject)
                action = self.on_dot(number, messages, subject) if self.on_dot else None
                if action == "drop":
                    self.stored.append((number, subject))
                    return
                if action == "silent":
                    await reader.read()  # until the client gives up and closes
                    return
                if isinstance(action, bytes):
                    reply = action
                else:
                    stored += 1
                    self.stored.append((number, subject))
            elif verb == b"QUIT":
                self.quits += 1
                writer.write(b"221 2.0.0 bye\r\n")
                await writer.drain()
                return
            elif verb not in (b"RCPT", b"RSET", b"NOOP"):
                reply = b"500 5.5.2 unknown command"
            writer.write(reply + b"\r\n")
            await writer.drain()
