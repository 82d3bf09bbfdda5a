"""One hostile SMTP session: reads the client's bytes, answers from the script, records it all.

Runs in its own thread on a blocking socket with a short poll timeout, so a server stop (an
Event) is noticed within :data:`POLL_SECONDS` wherever the session is waiting.
"""

from __future__ import annotations

import base64
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from .record import Line, LineKind, SessionRecord, decode_data_body
from .script import (
    Close,
    Endless,
    Handshake,
    Reply,
    Script,
    Silence,
    Step,
    Steps,
    Then,
    TLSSetup,
    ehlo_reply,
)

POLL_SECONDS = 0.05
SEND_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 10.0

# RFC 2920 §3.1: these may be followed by more commands in the same group; everything else
# (EHLO, DATA, QUIT, NOOP, VRFY, STARTTLS, AUTH ...) must be the last command of a group.
GROUPABLE_VERBS = frozenset({"MAIL", "RCPT", "RSET", "BDAT", "DATA_END"})

DEFAULT_REPLIES: dict[str, bytes] = {
    "HELO": b"250 hostile.test\r\n",
    "MAIL": b"250 2.1.0 sender ok\r\n",
    "RCPT": b"250 2.1.5 recipient ok\r\n",
    "DATA": b"354 end data with <CR><LF>.<CR><LF>\r\n",
    "DATA_END": b"250 2.0.0 queued as HOSTILE\r\n",
    "BDAT": b"250 2.0.0 chunk accepted\r\n",
    "RSET": b"250 2.0.0 reset\r\n",
    "NOOP": b"250 2.0.0 ok\r\n",
    "VRFY": b"252 2.1.5 cannot verify\r\n",
    "QUIT": b"221 2.0.0 bye\r\n",
}

UNKNOWN_REPLY = b"500 5.5.2 command not recognised\r\n"


class _Closed(Exception):
    """The session is over (peer closed, server stopping, or the script closed it)."""


class Session:
    """Serve one accepted connection according to ``script``; fill ``record``."""

    def __init__(
        self,
        sock: socket.socket,
        script: Script,
        record: SessionRecord,
        stop: threading.Event,
        tls_context: Callable[[], ssl.SSLContext],
        number: int = 1,
    ) -> None:
        #: 1 for the server's first connection, 2 for the next, ...
        self.number = number
        self.sock: socket.socket = sock
        self.script = script
        self.record = record
        self.stop = stop
        self.tls_context = tls_context
        self.tls = False
        self.buffer = bytearray()
        self.eof = False
        self.pipelining = False
        self.uses: dict[tuple[bool, str], int] = {}
        self.bdat_pending = bytearray()

    # --- entry point -------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the client or the script ends the session; never raises."""
        try:
            self.sock.settimeout(POLL_SECONDS)
            if self.script.tls is TLSSetup.IMPLICIT:
                self._handshake()
            self._serve()
        except _Closed:
            pass
        except (OSError, ssl.SSLError) as error:
            self.record.events.append(f"error: {error!r}")
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.record.finished.set()

    # --- low-level I/O -------------------------------------------------------------------

    def _recv_into_buffer(self, *, block: bool) -> None:
        """Append whatever the client sent; with ``block``, wait until something arrives."""
        while True:
            if self.stop.is_set():
                raise _Closed
            try:
                if not block:
                    self.sock.setblocking(False)
                chunk = self.sock.recv(65536)
            except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
                if not block:
                    return
                continue
            except ConnectionResetError:
                self.record.events.append("reset-by-peer")
                self.eof = True
                return
            finally:
                if not block:
                    self.sock.settimeout(POLL_SECONDS)
            if not chunk:
                self.eof = True
                self.record.events.append("eof")
                return
            self.buffer += chunk
            return

    def _read_line(self) -> bytes:
        """One line up to and including LF; at EOF, whatever is left (then _Closed)."""
        while True:
            newline = self.buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self.buffer[: newline + 1])
                del self.buffer[: newline + 1]
                return line
            if len(self.buffer) > self.script.max_line:
                self.record.events.append("line-too-long")
                self._send(b"500 5.5.6 line too long\r\n")
                raise _Closed
            if self.eof:
                if self.buffer:
                    self._remember(bytes(self.buffer), "command")
                    self.buffer.clear()
                raise _Closed
            self._recv_into_buffer(block=True)

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if self.eof:
                raise _Closed
            self._recv_into_buffer(block=True)
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        return chunk

    def _send(self, data: bytes) -> None:
        self.record.sent.append((self.tls, data))
        self.sock.settimeout(SEND_TIMEOUT)
        try:
            self.sock.sendall(data)
        except OSError as error:
            self.record.events.append(f"send-failed: {error!r}")
            raise _Closed from error
        finally:
            self.sock.settimeout(POLL_SECONDS)

    def _pause(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise _Closed

    def _remember(self, data: bytes, kind: LineKind) -> None:
        self.record.lines.append(Line(tls=self.tls, data=data, kind=kind))

    def _close(self, *, reset: bool) -> NoReturn:
        if reset:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.record.events.append("closed-rst")
        else:
            self.record.events.append("closed-by-server")
        raise _Closed

    # --- scripted replies --------------------------------------------------------------------

    def receive_some(self) -> bytes:
        """For hooks: wait until the client sends anything (or closes); return it, recorded."""
        if not self.buffer and not self.eof:
            self._recv_into_buffer(block=True)
        data = bytes(self.buffer)
        self.buffer.clear()
        if data:
            self._remember(data, "command")
        return data

    def _step_for(self, verb: str, default: Steps | None, argument: bytes = b"") -> Step:
        """The step for this use of ``verb``: the hook, TLS overrides, replies, then default."""
        hook = getattr(self.script.handler, "handle_" + verb, None)
        if hook is not None:
            hooked: Step | None = hook(self, argument)
            if hooked is not None:
                return hooked
        for table, in_tls in ((self.script.tls_replies, True), (self.script.replies, False)):
            if in_tls and not self.tls:
                continue
            if verb in table:
                return self._pick(table[verb], (in_tls, verb))
        if self.script.fallback is not None:
            return self._pick(self.script.fallback, (False, "fallback:" + verb))
        if default is None:
            return UNKNOWN_REPLY
        return self._pick(default, (False, "default:" + verb))

    def _pick(self, steps: Steps, key: tuple[bool, str]) -> Step:
        if isinstance(steps, bytes | Reply | Close | Silence | Endless):
            return steps
        sequence: Sequence[Step] = steps
        used = self.uses.get(key, 0)
        self.uses[key] = used + 1
        return sequence[min(used, len(sequence) - 1)]

    def _perform(self, step: Step, verb: str) -> bytes | None:
        """Carry out ``step``; return the bytes sent as the reply (None if nothing was sent)."""
        if isinstance(step, Silence):
            return None
        if isinstance(step, Close):
            self._close(reset=step.reset)
        if isinstance(step, Endless):
            self._send(step.prefix)
            sent = len(step.prefix)
            while sent < step.limit:
                self._send(step.chunk)
                sent += len(step.chunk)
            raise _Closed
        reply = step if isinstance(step, Reply) else Reply(step)
        self._pause(reply.delay)
        self._check_synchronisation(verb)
        if reply.then is Then.STALL:
            self.record.stalled = True  # before the reply, so settle() never races with it
        if reply.trickle is None:
            self._send(reply.data)
        else:
            size, interval = reply.trickle
            for start in range(0, len(reply.data), size):
                self._send(reply.data[start : start + size])
                self._pause(interval)
        for seconds, extra in reply.later:
            self._pause(seconds)
            self._send(extra)
        if reply.then is Then.CLOSE:
            self._close(reset=False)
        if reply.then is Then.RESET:
            self._close(reset=True)
        if reply.then is Then.STALL:
            self.record.events.append("stalled")
            self.stop.wait()
            raise _Closed
        if reply.then is Then.DRAIN:
            while not self.eof:
                self._recv_into_buffer(block=True)
                self.buffer.clear()
            self.record.events.append("drained")
            raise _Closed
        return reply.data

    def _check_synchronisation(self, verb: str) -> None:
        """Exim-style: input that arrived before our reply was due is a synchronisation error.

        Allowed only after commands that may be followed within a pipelined group, and only
        when PIPELINING was advertised (RFC 2920 §3.1).
        """
        if not self.script.strict:
            return
        self._recv_into_buffer(block=False)
        if not self.buffer:
            return
        if self.pipelining and verb in GROUPABLE_VERBS:
            return
        self.record.events.append(f"sync-error after {verb}")
        self._remember(bytes(self.buffer), "command")
        self.buffer.clear()
        self._send(b"554 5.5.0 SMTP synchronization error\r\n")
        self._close(reset=False)

    # --- the command loop ----------------------------------------------------------------

    def _serve(self) -> None:
        hook = getattr(self.script.handler, "handle_GREETING", None)
        hooked: Step | None = hook(self, b"") if hook is not None else None
        greeting = hooked if hooked is not None else self._pick(self.script.greeting,
                                                                 (False, "greeting"))
        self._perform(greeting, "GREETING")
        while True:
            line = self._read_line()
            self._remember(line, "command")
            if self.script.strict and not line.endswith(b"\r\n"):
                self.record.events.append("bare-lf")
                self._send(b"500 5.5.2 bare LF not allowed\r\n")
                self._close(reset=False)
            words = line.split(maxsplit=1)
            verb = words[0].decode("latin-1").upper() if words else ""
            handler = getattr(self, "_on_" + verb.lower(), None) if verb.isalpha() else None
            if handler is not None:
                handler(line)
            else:
                self._perform(self._step_for(verb, DEFAULT_REPLIES.get(verb), line), verb)

    def _on_ehlo(self, line: bytes) -> None:
        default = ehlo_reply(self.script.hostname, self.script.ehlo_capabilities(self.tls))
        sent = self._perform(self._step_for("EHLO", default, line), "EHLO")
        if sent is not None:
            # PIPELINING counts only if it is really in what we sent (raw replies included).
            self.pipelining = any(
                line_[4:].strip().upper() == b"PIPELINING" for line_ in sent.split(b"\n")
            )

    def _on_starttls(self, line: bytes) -> None:
        configured = self.script.tls is TLSSetup.STARTTLS and not self.tls
        default = b"220 2.0.0 ready to start TLS\r\n" if configured else b"454 4.7.0 no TLS\r\n"
        step = self._step_for("STARTTLS", default, line)
        if isinstance(step, bytes) and self.script.starttls_extra:
            step = step + self.script.starttls_extra
        elif isinstance(step, Reply) and self.script.starttls_extra:
            step = Reply(step.data + self.script.starttls_extra, step.delay, step.trickle)
        sent = self._perform(step, "STARTTLS")
        if sent is not None and sent.startswith(b"220 ") and configured:
            self._handshake()

    def _handshake(self) -> None:
        mode = self.script.handshake
        if mode is Handshake.CLOSE:
            self._close(reset=False)
        if mode is Handshake.PLAINTEXT:
            self.record.events.append("tls-skipped")
            self._send(b"250 still plaintext\r\n")
            return
        if mode is Handshake.STALL:
            self.record.events.append("tls-stalled")
            while not self.eof:  # swallow the ClientHello and anything after, answer nothing
                self._recv_into_buffer(block=True)
                self.buffer.clear()
            raise _Closed
        if self.buffer:
            # Bytes the client sent after STARTTLS but before the handshake: never part of TLS.
            self._remember(bytes(self.buffer), "leftover")
            self.buffer.clear()
        wrapped = self.tls_context().wrap_socket(
            self.sock, server_side=True, do_handshake_on_connect=False
        )
        wrapped.settimeout(HANDSHAKE_TIMEOUT)
        try:
            wrapped.do_handshake()
        except (ssl.SSLError, OSError) as error:
            self.record.events.append(f"tls-failed: {error!r}")
            self.sock = wrapped
            raise _Closed from error
        self.sock = wrapped
        self.sock.settimeout(POLL_SECONDS)
        self.tls = True
        self.pipelining = False  # RFC 3207 §4.2: everything learnt before TLS is forgotten
        self.record.events.append("tls-established")

    def _on_data(self, line: bytes) -> None:
        sent = self._perform(self._step_for("DATA", DEFAULT_REPLIES["DATA"], line), "DATA")
        if sent is None or not sent.startswith(b"354"):
            return
        body_lines: list[bytes] = []
        received = 0
        previous_ended = True
        while True:
            body_line = self._read_line()
            self._remember(body_line, "data")
            received += len(body_line)
            limit = self.script.data_disconnect_after
            if limit is not None and received >= limit:
                self._close(reset=False)
            if not body_line.endswith(b"\r\n"):
                self.record.events.append("bare-lf" if body_line.endswith(b"\n") else "no-eol")
                if self.script.strict:
                    self._send(b"554 5.5.2 bare LF in message content\r\n")
                    self._close(reset=False)
            # A lenient reader (like the servers that SMTP smuggling abuses) ends the data at
            # "." even after a bare LF; the strict mode above never gets here with one.
            if body_line == b".\r\n" and previous_ended:
                break
            previous_ended = body_line.endswith(b"\n")
            body_lines.append(body_line)
        body = decode_data_body(body_lines)
        self.record.bodies.append(body)
        step = self._step_for("DATA_END", DEFAULT_REPLIES["DATA_END"], body)
        self._perform(step, "DATA_END")

    def _on_bdat(self, line: bytes) -> None:
        words = line.split()
        try:
            size = int(words[1])
        except (IndexError, ValueError):
            self._perform(b"501 5.5.4 BDAT needs a size\r\n", "BDAT")
            return
        last = len(words) > 2 and words[2].upper() == b"LAST"
        chunk = self._read_exactly(size)
        self._remember(chunk, "bdat")
        pending = self.bdat_pending
        pending += chunk
        sent = self._perform(self._step_for("BDAT", DEFAULT_REPLIES["BDAT"], line), "BDAT")
        if sent is None or not sent.startswith(b"2"):
            pending.clear()
        elif last:
            self.record.bodies.append(bytes(pending))
            pending.clear()

    def _on_auth(self, line: bytes) -> None:
        words = line.split()
        mechanism = words[1].upper() if len(words) > 1 else b""
        answers = [words[2]] if len(words) > 2 else []
        step = self._step_for("AUTH", self._default_auth(mechanism, answers), line)
        sent = self._perform(step, "AUTH")
        while sent is not None and sent.startswith(b"334"):
            answer = self._read_line()
            self._remember(answer, "auth")
            answers.append(answer.strip())
            if answer.strip() == b"*":  # RFC 4954 §4: the client cancels the exchange
                default = b"501 5.7.0 authentication cancelled\r\n"
            else:
                default = self._default_auth(mechanism, answers)
            sent = self._perform(self._step_for("AUTH_CONT", default, answer), "AUTH")

    def _default_auth(self, mechanism: bytes, answers: list[bytes]) -> bytes:
        """A correct AUTH PLAIN / LOGIN server, checking ``script.credentials`` when set."""
        if mechanism == b"PLAIN":
            if not answers:
                return b"334 \r\n"
            try:
                _, user, password = base64.b64decode(answers[0], validate=True).split(b"\0")
            except ValueError:
                return b"501 5.5.2 malformed AUTH PLAIN\r\n"
            return self._check(user, password)
        if mechanism == b"LOGIN":
            if not answers:
                return b"334 VXNlcm5hbWU6\r\n"
            if len(answers) == 1:
                return b"334 UGFzc3dvcmQ6\r\n"
            try:
                user = base64.b64decode(answers[0], validate=True)
                password = base64.b64decode(answers[1], validate=True)
            except ValueError:
                return b"501 5.5.2 malformed AUTH LOGIN\r\n"
            return self._check(user, password)
        return b"504 5.5.4 mechanism not supported\r\n"

    def _check(self, user: bytes, password: bytes) -> bytes:
        expected = self.script.credentials
        given = (user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
        if expected is None or given == expected:
            return b"235 2.7.0 authenticated\r\n"
        return b"535 5.7.8 authentication credentials invalid\r\n"
