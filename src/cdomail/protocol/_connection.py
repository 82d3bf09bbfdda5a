"""The client side of an SMTP connection, without I/O.

Theory of operation
-------------------
The driver owns the socket. It hands every received chunk to
``receive_data()`` (``b""`` at EOF) and pulls events with ``next_event()``,
which returns a :class:`Reply`, :class:`ConnectionClosed`, or ``NEED_DATA``.
To talk, it calls ``send(command)`` and writes the returned bytes; message
content goes through ``send_content()``/``end_content()`` (DATA) or
``send_bdat()`` (CHUNKING).

Every command sent is queued; every reply is paired with the oldest queued
command (RFC 2920 §3.1: replies come in order), so a pipelined batch can never
be desynchronised: a reply that arrives with nothing queued is an error, not
the answer to the next command (a desync an injected line could cause). ``Reply.tag`` carries
whatever the driver attached to the command, which is how several pipelined
transactions on one connection get their replies attributed.

The core decides what is *legal* (state, advertised extensions, argument
syntax) and raises :class:`LocalProtocolError`; it raises
:class:`RemoteProtocolError` for what the server does wrong. Policy (HELO
fallback, when to STARTTLS, retries, timeouts) belongs to the driver.

STARTTLS (RFC 3207 §4.2, §6): only an exact 220 moves to ``TLS_HANDSHAKE``.
If any byte is buffered after that 220, or arrives before
``start_tls_completed()``, it is an injection attempt (CVE-2021-22947's
client-side mirror) and the connection is unusable. After the handshake all
knowledge from before TLS is discarded and EHLO must be sent again.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from ..errors import LocalProtocolError, RemoteProtocolError
from ._commands import Auth, AuthResponse, Bdat, Command, Data, Ehlo, EndOfData, Quit, StartTLS
from ._data import CheckedContent, ContentEncoder, stuff_checked
from ._extensions import Extensions
from ._reply import MAX_LINE_LENGTH, MAX_REPLY_LENGTH, Reply, ReplyParser
from ._state import SEND_TRANSITIONS, ClientState

# The states as module constants: an Enum member lookup costs about 0.1 µs in CPython
# 3.11, and the state is compared on every command and every reply of a batch.
_BDAT = ClientState.BDAT
_CLOSED = ClientState.CLOSED
_CONNECTING = ClientState.CONNECTING
_CONTENT = ClientState.CONTENT
_GREETED = ClientState.GREETED
_RCPT = ClientState.RCPT
_READY = ClientState.READY
_TLS_HANDSHAKE = ClientState.TLS_HANDSHAKE

#: Commands without arguments are values: one instance serves every transaction.
_END_OF_DATA = EndOfData()
#: Nothing may be written in these states, whatever the command (see ``_check_can_write``).
_NO_WRITE_STATES = frozenset((_CLOSED, _TLS_HANDSHAKE))
#: Commands with rules beyond the state table (checked in ``_check_special``).
_CHECKED_BEFORE_SENDING = (StartTLS, Auth, AuthResponse, Bdat)


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"


#: ``next_event()`` returns this when it needs more bytes from the network.
NEED_DATA = _Sentinel.NEED_DATA


@dataclass(frozen=True)
class ConnectionClosed:
    """The server closed the connection (EOF).

    ``pending`` lists the commands that were still waiting for a reply.
    """

    pending: tuple[Command, ...] = ()


Event = Reply | ConnectionClosed


class ClientConnection:
    """A sans-IO SMTP client connection."""

    def __init__(
        self,
        *,
        max_line_length: int = MAX_LINE_LENGTH,
        max_reply_length: int = MAX_REPLY_LENGTH,
        allow_pipelining: bool = True,
    ) -> None:
        self._allow_pipelining = allow_pipelining
        self.state = _CONNECTING
        #: Extensions from the last successful EHLO; ``None`` before it (and after STARTTLS).
        self.extensions: Extensions | None = None
        self._pipelining = False  # worked out when the extensions change: read per command
        #: True once the driver reported a completed TLS handshake (or implicit TLS).
        self.tls_active = False
        self.authenticated = False
        self._parser = ReplyParser(
            max_line_length=max_line_length, max_reply_length=max_reply_length
        )
        self._pending: deque[tuple[Command, object]] = deque()
        self._events: deque[Event] = deque()
        self._eof = False
        self._encoder: ContentEncoder | None = None
        self._content_tag: object = None
        self._challenge_open = False

    # -- introspection -----------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many sent commands still wait for their reply."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """Nothing more may be sent or received (EOF, 421, QUIT answered, or poisoned)."""
        return self.state is _CLOSED

    def oldest_pending_verb(self) -> str | None:
        """The verb of the command whose reply comes next, if any."""
        return self._pending[0][0].verb if self._pending else None

    @property
    def pipelining(self) -> bool:
        """Whether commands may be pipelined: advertised (RFC 2920) and not disabled."""
        return self._pipelining

    def _set_extensions(self, extensions: Extensions | None) -> None:
        self.extensions = extensions
        self._pipelining = (
            self._allow_pipelining and extensions is not None and extensions.has("PIPELINING")
        )

    # -- sending -------------------------------------------------------------------

    def send(self, command: Command, *, tag: object = None) -> bytes:
        """Validate ``command`` against the state and return its bytes to write."""
        state = self.state
        pending = self._pending
        if state in _NO_WRITE_STATES or (
            pending and (pending[-1][0].ends_group or not self._pipelining)
        ):
            self._check_can_write(command)  # raises, naming the rule
        transitions = SEND_TRANSITIONS.get(type(command))
        if transitions is None or state not in transitions:
            raise LocalProtocolError(f"cannot send {command.verb} in state {state.value}")
        if isinstance(command, _CHECKED_BEFORE_SENDING):
            self._check_special(command)
        data = command.to_bytes()
        self.state = transitions[state]
        pending.append((command, tag))
        return data

    def _check_special(self, command: Command) -> None:
        """Rules beyond the state table: extensions, TLS state, SASL turn-taking."""
        if isinstance(command, StartTLS):
            if self.tls_active:
                raise LocalProtocolError("STARTTLS on a connection that already uses TLS")
            self._require_extension("STARTTLS")
        if isinstance(command, Auth) and command.mechanism not in self._auth_mechanisms():
            raise LocalProtocolError(f"server did not advertise AUTH {command.mechanism}")
        if isinstance(command, AuthResponse):
            if not self._challenge_open:
                raise LocalProtocolError("SASL response without a 334 challenge")
            self._challenge_open = False
        if isinstance(command, Bdat):
            raise LocalProtocolError("use send_bdat() for BDAT")

    def send_content(self, chunk: bytes) -> bytes:
        """Encode one chunk of message content after DATA's 354."""
        if self.state is not _CONTENT or self._encoder is None:
            raise LocalProtocolError(f"cannot send message content in state {self.state.value}")
        return self._encoder.encode(chunk)

    def send_checked_content(self, content: CheckedContent) -> bytes:
        """The whole content and its end in one step, for content ``check_content``
        certified (CRLF only, no long line): only dot-stuffing is left to do."""
        encoder = self._encoder
        if self.state is not _CONTENT or encoder is None or encoder.octets_in:
            raise LocalProtocolError(
                f"checked content must be the whole content (state {self.state.value})"
            )
        self._encoder = None
        self.state = _READY
        self._pending.append((_END_OF_DATA, self._content_tag))
        return stuff_checked(content)

    def end_content(self) -> bytes:
        """End the content: final CRLF if missing and the ``.CRLF`` terminator."""
        if self.state is not _CONTENT or self._encoder is None:
            raise LocalProtocolError(f"cannot end message content in state {self.state.value}")
        data = self._encoder.finish()
        self._encoder = None
        self.state = _READY
        self._pending.append((_END_OF_DATA, self._content_tag))
        return data

    def start_bdat(self) -> None:
        """Begin a BDAT transaction's content (RFC 3030). Needs CHUNKING."""
        self._require_extension("CHUNKING")
        if self.state is not _RCPT:
            raise LocalProtocolError(f"cannot start BDAT in state {self.state.value}")
        self._encoder = ContentEncoder(dot_stuff=False)

    def send_bdat(self, chunk: bytes, *, last: bool, tag: object = None) -> bytes:
        """Frame one content chunk as ``BDAT n [LAST]`` followed by its octets."""
        if self.state not in (_RCPT, _BDAT) or self._encoder is None:
            raise LocalProtocolError(f"cannot send BDAT in state {self.state.value}")
        command_probe = Bdat(0)
        self._check_can_write(command_probe)
        body = self._encoder.encode(chunk)
        if last:
            body += self._encoder.finish()
            self._encoder = None
        command = Bdat(len(body), last=last)
        self.state = _READY if last else _BDAT
        self._pending.append((command, tag))
        return command.to_bytes() + body

    def abandon_bdat(self) -> None:
        """Forget the BDAT encoder after a refused chunk (the driver then sends RSET)."""
        self._encoder = None

    def _check_can_write(self, command: Command) -> None:
        if self.state is _CLOSED:
            raise LocalProtocolError("the connection is closed")
        if self.state is _TLS_HANDSHAKE:
            raise LocalProtocolError("finish the TLS handshake before sending anything")
        if not self._pending:
            return
        last_command = self._pending[-1][0]
        if last_command.ends_group:
            raise LocalProtocolError(
                f"{command.verb} cannot follow {last_command.verb} before its reply (RFC 2920)"
            )
        if not self.pipelining:
            raise LocalProtocolError(
                f"{command.verb} before the previous reply needs PIPELINING (RFC 2920)"
            )

    def _require_extension(self, keyword: str) -> None:
        if self.extensions is None or not self.extensions.has(keyword):
            raise LocalProtocolError(f"server did not advertise {keyword}")

    def _auth_mechanisms(self) -> tuple[str, ...]:
        return self.extensions.auth_mechanisms if self.extensions else ()

    # -- receiving -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Hand over bytes read from the network; ``b""`` means EOF."""
        state = self.state
        if state is _CLOSED:
            return
        if not data:
            self._eof = True
            return
        if state is _TLS_HANDSHAKE:
            self._poison("data arrived after the STARTTLS 220 and before the TLS handshake")
        replies = self._parser.feed(data)
        append = self._events.append
        pending = self._pending
        for index, (code, lines) in enumerate(replies):
            if self.state is _CLOSED:
                break  # after a 421 nothing the server says is acted on (RFC 5321 §3.8)
            if pending:
                # Every reply answers the oldest command still waiting (RFC 2920 §3.1).
                command, tag = pending.popleft()
                reply = Reply(code, lines, command, tag)
                # Replies to MAIL, RCPT, the end of data, RSET and NOOP move no state: the
                # hot path of a pipelined batch skips _apply for them.
                if code == 421 or command.reply_moves_state:
                    self._apply(reply, command)
                    if self.state is _TLS_HANDSHAKE and (
                        index < len(replies) - 1 or self._parser.buffered
                    ):
                        self._poison("extra bytes followed the STARTTLS 220 (response injection)")
                append(reply)
            else:
                append(self._unpaired(code, lines))

    def next_event(self) -> Event | _Sentinel:
        """The next reply (paired with its command), ``ConnectionClosed``, or ``NEED_DATA``."""
        if self._events:
            return self._events.popleft()
        if self._eof and self.state is not _CLOSED:
            pending = tuple(command for command, _ in self._pending)
            self._close()
            return ConnectionClosed(pending)
        return NEED_DATA

    def start_tls_completed(self) -> None:
        """The driver finished the TLS handshake: discard pre-TLS knowledge (RFC 3207 §4.2)."""
        if self.state not in (_TLS_HANDSHAKE, _CONNECTING):
            raise LocalProtocolError(f"no TLS handshake expected in state {self.state.value}")
        self.tls_active = True
        if self.state is _TLS_HANDSHAKE:
            self.state = _GREETED
            self._set_extensions(None)
            self.authenticated = False
            self._parser.clear()

    def _unpaired(self, code: int, lines: tuple[str, ...]) -> Reply:
        """A reply with no command waiting: the greeting, or an error (never a later answer)."""
        if self.state is _CONNECTING:
            if code == 220:
                self.state = _GREETED
            return Reply(code, lines)
        raise self._poison(f"unsolicited reply from the server: {code}")

    def _apply(self, reply: Reply, command: Command) -> None:
        """Move the state where a reply forces it."""
        code = reply.code
        if code == 421:
            # RFC 5321 §3.8: the server is closing; nothing more will be answered.
            self._close()
            return
        if isinstance(command, Data):  # first: the one that comes with every message
            if code == 354:
                self.state = _CONTENT
                self._encoder = ContentEncoder(dot_stuff=True)
                self._content_tag = reply.tag
            else:
                self.state = _READY
        elif isinstance(command, Ehlo):
            if code == 250:
                self.state = _READY
                is_helo = command.verb == "HELO"
                self._set_extensions(Extensions() if is_helo else Extensions.parse(reply.lines))
        elif isinstance(command, StartTLS):
            # RFC 3207 §4: only 220 means "go ahead"; 454, 501 ... leave us in plaintext.
            self.state = _TLS_HANDSHAKE if code == 220 else _READY
        elif isinstance(command, Auth | AuthResponse):
            if code == 334:
                self._challenge_open = True
            else:
                self.state = _READY
                self.authenticated = code == 235
        elif isinstance(command, Quit):
            self._close()

    def _close(self) -> None:
        self.state = _CLOSED
        self._pending.clear()
        self._encoder = None

    def _poison(self, message: str) -> RemoteProtocolError:
        self._close()
        self._parser.clear()
        self._events.clear()
        raise RemoteProtocolError(message)
