"""The lab's SMTP server: aiosmtpd's ``SMTP`` plus recording, BDAT and latency.

One :class:`LabSMTP` instance serves one client connection. On top of
aiosmtpd it

* records every line received and sent, with the TLS state at that moment,
  in a :class:`~cdomail.lab._records.SessionRecord` (AUTH secrets redacted);
* implements CHUNKING (``BDAT``, RFC 3030) and advertises PIPELINING
  (RFC 2920; aiosmtpd reads commands one at a time, which RFC 2920 allows);
* adds RFC 3463 enhanced status codes to replies that lack them (RFC 2034);
* delays each reply by the configured latency;
* stores accepted messages with whether TLS was active at MAIL time.

aiosmtpd has no public hook for three things the lab needs: the line reader
(``_cb_client_connected``, ``_reader``: every received line is recorded, BDAT
reads its octets), the end of a transaction (``_set_post_data_state``, also
called by RSET/EHLO through ``_set_rset_state``) and the connection's task
(``_handler_coroutine``, awaited on shutdown). pyproject pins aiosmtpd below
1.5 for them and tests/lab/test_aiosmtpd_contract.py fails naming the member
when an installed aiosmtpd lacks one.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from cdomail.lab._auth import AuthMechanism, check_login_password, identity_of
from cdomail.lab._records import LineKind, SessionRecord, StoredMessage, TranscriptLine
from cdomail.lab._store import MessageStore

__all__ = ["LISTENER_MODES", "LabSMTP", "ListenerMode", "ServerOptions", "SessionBook"]

# Large enough for any test message, small enough to refuse a runaway client.
DEFAULT_DATA_SIZE_LIMIT = 32 * 1024 * 1024

# BDAT chunks are read in pieces of this size, so a huge chunk never sits in memory twice.
_BDAT_READ_PIECE = 64 * 1024


@dataclass(frozen=True)
class ListenerMode:
    """How a listener treats TLS."""

    name: str
    offers_starttls: bool
    requires_starttls: bool
    implicit_tls: bool

    @property
    def description(self) -> str:
        """A few words for the start-up table."""
        if self.implicit_tls:
            return "TLS from the first byte"
        if self.requires_starttls:
            return "STARTTLS required (530 before it)"
        if self.offers_starttls:
            return "STARTTLS offered, optional"
        return "plaintext only"


#: The four listener kinds, by the names used in ``--listen MODE=PORT``.
LISTENER_MODES: Mapping[str, ListenerMode] = {
    mode.name: mode
    for mode in (
        ListenerMode("plain", offers_starttls=False, requires_starttls=False, implicit_tls=False),
        ListenerMode("starttls", offers_starttls=True, requires_starttls=False, implicit_tls=False),
        ListenerMode(
            "starttls-required", offers_starttls=True, requires_starttls=True, implicit_tls=False
        ),
        ListenerMode("smtps", offers_starttls=False, requires_starttls=False, implicit_tls=True),
    )
}


@dataclass(frozen=True)
class ServerOptions:
    """Settings shared by every session of one lab."""

    users: Mapping[str, str] = field(default_factory=dict)
    auth_require_tls: bool = True
    auth_required: bool = False
    auth_mechanisms: Mapping[str, AuthMechanism] = field(default_factory=dict)
    latency_seconds: float = 0.0
    hostname: str = "localhost"
    pipelining: bool = True
    chunking: bool = True
    enhanced_status_codes: bool = True
    data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT


class SessionBook:
    """Hands out session ids and keeps every session record (and the live servers)."""

    def __init__(self) -> None:
        self._records: list[SessionRecord] = []
        self._live: set[LabSMTP] = set()
        self._counter = 0
        # The loop thread opens records while a test thread may clear them.
        self._lock = threading.Lock()

    def open(self, server: LabSMTP, listener: str, peer: Any) -> SessionRecord:
        """Start the record of a new connection (called on the lab's loop)."""
        self._counter += 1
        peer_address = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        record = SessionRecord(id=f"s{self._counter:04d}", listener=listener, peer=peer_address)
        with self._lock:
            self._records.append(record)
        self._live.add(server)
        return record

    def close(self, server: LabSMTP, record: SessionRecord) -> None:
        """Mark a connection as finished."""
        self._live.discard(server)
        record.closed_at = time.monotonic()
        record.closed.set()

    @property
    def records(self) -> list[SessionRecord]:
        """A snapshot of all records, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the records of finished sessions."""
        with self._lock:
            self._records = [r for r in self._records if not r.closed.is_set()]

    def live_servers(self) -> list[LabSMTP]:
        """The servers whose connection is still open (loop thread only)."""
        return list(self._live)


class _HandlerMechanism:
    """A lab SASL mechanism as an aiosmtpd handler ``auth_<NAME>`` hook.

    aiosmtpd collects every ``auth_*`` member of the handler, names it by its
    ``__auth_mechanism_name__`` and calls it as ``hook(server, args)``.
    """

    def __init__(self, name: str, mechanism: AuthMechanism) -> None:
        self.__auth_mechanism_name__ = name
        self._mechanism = mechanism

    def __call__(self, server: Any, args: list[str]) -> Any:
        return self._mechanism(server, args)


# "AUTH <mechanism> <initial-response>": keep the verb and mechanism only.
_AUTH_INITIAL_RESPONSE = re.compile(rb"^(\s*AUTH\s+\S+)\s+\S.*$", re.IGNORECASE | re.DOTALL)
_ENHANCED_CODE = re.compile(rb"^[245]\.\d{1,3}\.\d{1,3}(?: |$)")

# RFC 3463 codes for replies that aiosmtpd sends without one.
_ENHANCED_BY_CODE: Mapping[bytes, bytes] = {
    b"221": b"2.0.0",
    b"500": b"5.5.2",
    b"501": b"5.5.4",
    b"502": b"5.5.1",
    b"503": b"5.5.1",
    b"504": b"5.5.4",
    b"530": b"5.7.0",
    b"535": b"5.7.8",
    b"552": b"5.3.4",
    b"554": b"5.7.0",
    b"555": b"5.5.4",
}
_ENHANCED_250_BY_VERB: Mapping[str, bytes] = {"MAIL": b"2.1.0", "RCPT": b"2.1.5"}
# RFC 2034 §3: not on the greeting, EHLO/HELO replies, SASL challenges or 354.
_NO_ENHANCED_VERBS = frozenset({"", "EHLO", "HELO"})
_NO_ENHANCED_CODES = frozenset({b"220", b"334", b"354"})


class _LabSession(Session):
    """aiosmtpd's Session without the deprecation log line on every login.

    aiosmtpd itself assigns ``login_data`` after each successful AUTH and then
    logs a warning about it, which would clutter the lab's console.
    """

    _lab_login_data: Any = None

    @property
    def login_data(self) -> Any:
        return self._lab_login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._lab_login_data = value


class _LabHandler:
    """aiosmtpd handler hooks; the per-connection state lives on :class:`LabSMTP`."""

    def __init__(self, mechanisms: Mapping[str, AuthMechanism]) -> None:
        # The lab's own SASL mechanisms become handler ``auth_*`` hooks (aiosmtpd's public
        # way to add a mechanism); the attribute name only has to start with ``auth_``.
        for index, (name, mechanism) in enumerate(mechanisms.items()):
            setattr(self, f"auth_lab_{index}", _HandlerMechanism(name.upper(), mechanism))

    async def handle_EHLO(
        self,
        server: LabSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With the 5-argument hook aiosmtpd leaves recording the name to us.
        session.host_name = hostname
        return server.extend_ehlo(responses)

    async def handle_DATA(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        return server.deliver(envelope.original_content or b"", chunked=False)


class LabSMTP(SMTP):
    """One lab session. Built by :class:`~cdomail.lab.Lab`; not meant to be made by hand."""

    def __init__(
        self,
        *,
        mode: ListenerMode,
        options: ServerOptions,
        book: SessionBook,
        store: MessageStore,
        tls_context: ssl.SSLContext,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.mode = mode
        self.options = options
        self.users: Mapping[str, str] = options.users
        self._book = book
        self._store = store
        self._record: SessionRecord | None = None
        self._read_kind: LineKind = "command"
        self._current_verb = ""
        self._mid_reply = False
        self._reset_transaction_state()
        custom = {name.upper() for name in options.auth_mechanisms}
        self._offers_auth = bool(options.users or custom)
        # Nobody could log in with PLAIN/LOGIN: do not advertise them.
        excluded = () if options.users else tuple({"LOGIN", "PLAIN"} - custom)
        with warnings.catch_warnings():
            # "Requiring AUTH while not requiring TLS": the listener's mode decides that.
            warnings.simplefilter("ignore", UserWarning)
            super().__init__(
                _LabHandler(options.auth_mechanisms),
                data_size_limit=options.data_size_limit,
                enable_SMTPUTF8=True,
                hostname=options.hostname,
                ident="cdomail lab ESMTP",
                tls_context=tls_context if mode.offers_starttls else None,
                require_starttls=mode.requires_starttls,
                auth_required=options.auth_required,
                # aiosmtpd only knows STARTTLS as "TLS"; on an implicit-TLS listener every
                # byte is encrypted, so the "AUTH only after TLS" rule is already met.
                auth_require_tls=options.auth_require_tls and not mode.implicit_tls,
                auth_exclude_mechanism=excluded,
                authenticator=self._check_credentials,
                loop=loop,
            )

    # --- state -------------------------------------------------------------

    def _reset_transaction_state(self) -> None:
        self._mail_encrypted: bool | None = None
        self._mail_tls_version: str | None = None
        self._mail_tls_cipher: str | None = None
        self._rcpt_options: list[list[str]] = []
        self._bdat_chunks: list[bytes] | None = None
        self._bdat_too_big = False

    def _create_session(self) -> Session:
        return _LabSession(self.loop)

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        self._reset_transaction_state()

    def session_record(self) -> SessionRecord:
        """The record of this session (exists once the connection is made)."""
        assert self._record is not None, "no connection yet"
        return self._record

    def tls_active(self) -> bool:
        """Whether the connection is encrypted right now (STARTTLS done, or implicit TLS)."""
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    def tls_version(self) -> str | None:
        """The negotiated TLS version (``"TLSv1.3"``), or None in plaintext."""
        transport = self.transport
        ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
        return None if ssl_object is None else str(ssl_object.version())

    def tls_cipher(self) -> str | None:
        """The negotiated cipher suite's name, or None in plaintext."""
        transport = self.transport
        ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
        cipher = None if ssl_object is None else ssl_object.cipher()
        return None if cipher is None else str(cipher[0])

    # --- connection lifecycle ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first_time = self.transport is None
        if first_time:
            self._record = self._book.open(
                self, self.mode.name, transport.get_extra_info("peername")
            )
        super().connection_made(transport)
        # Called again after STARTTLS with the TLS transport (RFC 3207 §4.2 reset).
        self.session_record().tls_version = self.tls_version()

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)
        finally:
            if self._record is not None:
                self._book.close(self, self._record)

    def _cb_client_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super()._cb_client_connected(reader, writer)
        # Every line aiosmtpd reads (commands, DATA lines, SASL answers; readline()
        # goes through readuntil()) passes here, so the transcript misses nothing.
        read_until = reader.readuntil

        async def recording_readuntil(separator: bytes = b"\n") -> bytes:
            line = await read_until(separator)
            self._record_received(line)
            return line

        setattr(reader, "readuntil", recording_readuntil)  # noqa: B010 - instance override

    def abort(self) -> asyncio.Task[None] | None:
        """Drop the connection now (lab shutdown); return the task to await."""
        transport = self.transport
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        elif transport is not None:
            transport.close()
        task: asyncio.Task[None] | None = self._handler_coroutine
        return task

    # --- transcript ----------------------------------------------------------

    def _append(
        self, direction: Literal["C", "S"], line: bytes, kind: LineKind, tls: bool | None = None
    ) -> None:
        if self._record is None:
            return
        encrypted = self.tls_active() if tls is None else tls
        self._record.transcript.append(TranscriptLine(direction, encrypted, line, kind))

    def _record_received(self, raw: bytes) -> None:
        line = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
        kind = self._read_kind
        if kind == "auth":
            # A SASL answer: only the cancel marker "*" is not secret (RFC 4954 §4).
            line = b"*" if line.strip() == b"*" else b"***"
        elif kind == "command":
            line = _AUTH_INITIAL_RESPONSE.sub(rb"\1 ***", line)
            self._current_verb = line.split(b" ", 1)[0].upper().decode("ascii", "replace")
        self._append("C", line, kind)

    async def push(self, status: str | bytes) -> None:
        """Send one reply line: wait the latency, add an enhanced code, record it."""
        if isinstance(status, str):
            line = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        else:
            line = status
        starts_reply = not self._mid_reply
        self._mid_reply = line[3:4] == b"-"
        if starts_reply and self.options.latency_seconds > 0:
            await asyncio.sleep(self.options.latency_seconds)
        line = self._with_enhanced_status(line)
        self._append("S", line, "reply")
        await super().push(line)

    def _with_enhanced_status(self, line: bytes) -> bytes:
        code, rest = line[:3], line[4:]
        session = self.session
        if (
            not self.options.enhanced_status_codes
            or session is None
            or not session.extended_smtp
            or self._current_verb in _NO_ENHANCED_VERBS
            or code in _NO_ENHANCED_CODES
            or not code.isdigit()
            or _ENHANCED_CODE.match(rest)
        ):
            return line
        enhanced = _ENHANCED_BY_CODE.get(code)
        if code == b"250":
            enhanced = _ENHANCED_250_BY_VERB.get(self._current_verb, b"2.0.0")
        if enhanced is None:
            enhanced = code[:1] + b".0.0"
        return line[:4] + enhanced + (b" " + rest if rest else b"")

    # --- EHLO, AUTH, MAIL, RCPT, DATA --------------------------------------

    def extend_ehlo(self, responses: list[str]) -> list[str]:
        """Add the lab's own extensions to aiosmtpd's EHLO lines."""
        lines = [r for r in responses if r.strip() != "250-AUTH"]  # no mechanism left
        extra = []
        if self.options.pipelining:
            extra.append("250-PIPELINING")
        if self.options.chunking:
            extra.append("250-CHUNKING")
        if self.options.enhanced_status_codes:
            extra.append("250-ENHANCEDSTATUSCODES")
        return lines[:-1] + extra + lines[-1:]

    def _check_credentials(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and check_login_password(
            self.users, data.login, data.password
        ):
            return AuthResult(success=True, auth_data=LoginPassword(data.login, b""))
        return AuthResult(success=False, handled=False)

    async def smtp_AUTH(self, arg: str) -> None:
        self._read_kind = "auth"
        try:
            await super().smtp_AUTH(arg)
        finally:
            self._read_kind = "command"
        session = self.session
        if session is not None and session.authenticated:
            self.session_record().authenticated_as = identity_of(session.auth_data)

    async def smtp_MAIL(self, arg: str | None) -> None:
        assert self.envelope is not None
        had_sender = bool(self.envelope.mail_from)
        encrypted = self.tls_active()
        auth_params: list[str] = []
        if arg is not None and self._offers_auth:
            # RFC 4954 §5: a server offering AUTH must accept MAIL's AUTH=<mailbox>
            # parameter (curl --mail-auth sends it); aiosmtpd does not know it.
            words = arg.split(" ")
            auth_params = [w for w in words if w.upper().startswith("AUTH=")]
            arg = " ".join(w for w in words if w not in auth_params)
        await super().smtp_MAIL(arg)
        if auth_params and self.envelope is not None and self.envelope.mail_from:
            self.envelope.mail_options.extend(auth_params)
        if not had_sender and self.envelope is not None and self.envelope.mail_from:
            self._mail_encrypted = encrypted
            self._mail_tls_version = self.tls_version()
            self._mail_tls_cipher = self.tls_cipher()
            self.session_record().encrypted_at_mail.append(encrypted)

    async def smtp_RCPT(self, arg: str | None) -> None:
        envelope = self.envelope
        assert envelope is not None
        recipients, options = len(envelope.rcpt_tos), len(envelope.rcpt_options)
        await super().smtp_RCPT(arg)
        if len(envelope.rcpt_tos) > recipients:
            self._rcpt_options.append(list(envelope.rcpt_options[options:]))

    async def smtp_DATA(self, arg: str) -> None:
        if self._bdat_chunks is not None:
            # RFC 3030 §2: DATA and BDAT cannot be mixed in one transaction.
            await self.push("503 5.5.1 Error: DATA not allowed after BDAT")
            return
        self._read_kind = "data"
        try:
            await super().smtp_DATA(arg)
        finally:
            self._read_kind = "command"

    # --- BDAT (RFC 3030) -----------------------------------------------------

    @syntax("BDAT <chunk-size> [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """Receive one chunk: exactly ``chunk-size`` octets follow the command line."""
        if not self.options.chunking:
            # Without CHUNKING BDAT is an unknown command, answered as aiosmtpd answers one.
            await self.push('500 Error: command "BDAT" not recognized')
            return
        parts = (arg or "").split()
        valid = (
            1 <= len(parts) <= 2
            and parts[0].isdigit()
            and (len(parts) == 1 or parts[1].upper() == "LAST")
        )
        if not valid:
            # Without a size we cannot tell where the chunk ends; reading on would
            # treat message bytes as commands (the SMTP smuggling trap), so hang up.
            await self.push("501 5.5.4 Syntax: BDAT <chunk-size> [LAST]")
            assert self.transport is not None
            self.transport.close()
            return
        size, last = int(parts[0]), len(parts) == 2
        # The octets follow whatever the reply will be (§2), so read them first.
        encrypted = self.tls_active()
        chunk = await self._read_chunk(size)
        self._append("C", chunk, "bdat", tls=encrypted)
        await self._accept_chunk(chunk, size, last)

    async def _read_chunk(self, size: int) -> bytes:
        pieces: list[bytes] = []
        kept = 0
        remaining = size
        while remaining:
            piece = await self._reader.readexactly(min(remaining, _BDAT_READ_PIECE))
            remaining -= len(piece)
            if kept + len(piece) <= self.options.data_size_limit:
                pieces.append(piece)
                kept += len(piece)
        return b"".join(pieces) if kept == size else b""

    async def _accept_chunk(self, chunk: bytes, size: int, last: bool) -> None:
        if await self.check_helo_needed("EHLO"):
            return
        if await self.check_auth_needed("BDAT"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.mail_from:
            await self.push("503 5.5.1 Error: need MAIL command")
            return
        if not envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        chunks = self._bdat_chunks if self._bdat_chunks is not None else []
        self._bdat_chunks = chunks
        received = sum(len(c) for c in chunks) + size
        if received > self.options.data_size_limit or len(chunk) != size:
            # RFC 3030 §2: after an error reply the transaction has failed; start over.
            self._set_post_data_state()
            await self.push("552 5.3.4 Error: message too big")
            return
        chunks.append(chunk)
        if not last:
            await self.push(f"250 2.0.0 {size} octets received")
            return
        status = self.deliver(b"".join(chunks), chunked=True)
        self._set_post_data_state()
        await self.push(status)

    # --- delivery ------------------------------------------------------------

    def deliver(self, data: bytes, *, chunked: bool) -> str:
        """Store the current transaction's message; return the final reply."""
        envelope = self.envelope
        session = self.session
        assert envelope is not None
        assert session is not None
        assert envelope.mail_from is not None
        message = StoredMessage(
            listener=self.mode.name,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            mail_options=list(envelope.mail_options),
            rcpt_options=[list(options) for options in self._rcpt_options],
            data=data,
            encrypted=bool(self._mail_encrypted),
            tls_version=self._mail_tls_version,
            tls_cipher=self._mail_tls_cipher,
            received_at=time.time(),
            authenticated_as=identity_of(session.auth_data) if session.authenticated else None,
            session_id=self.session_record().id,
            maildir_key="",
            chunked=chunked,
        )
        stored = self._store.add(message)
        return f"250 OK queued as {stored.maildir_key}"
