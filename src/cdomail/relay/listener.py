"""The relay's intake: an SMTP server (aiosmtpd) that legacy senders talk to.

It accepts what CDO-era clients send (HELO as well as EHLO, AUTH LOGIN/PLAIN, bare LF line
endings, 8-bit bodies, no pipelining needed) and refuses to be an open relay: a client outside
``allow`` may not relay, nor may an unauthenticated one when ``users`` is configured. AUTH
crosses a plaintext link only on a loopback-only listener (or with ``auth_without_tls``).

A message is answered 250 only after :meth:`Spool.store` returned, i.e. after it is durably on
disk (RFC 5321 section 6.1: accepting a message is taking responsibility for it). Any failure
before that answers 451 (452 when the disk is full) and the spool keeps nothing of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import ipaddress
import logging
import re
import ssl
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ..errors import printable
from ._group_commit import GroupCommitter
from ._model import ArrivalFacts
from ._secrets import resolve_secret
from .config import ListenerConfig
from .spool import SpoolFull, Submission, extract_message_id

__all__ = [
    "Intake",
    "RelaySMTP",
    "SessionTracker",
    "describe_listener",
    "normalise_line_endings",
    "start_listener",
]

log = logging.getLogger("cdomail.relay")

_BARE_LF = re.compile(rb"(?<!\r)\n")
_UNSAFE_IN_HEADER = re.compile(r"[^\x21-\x7e]")


def normalise_line_endings(content: bytes) -> tuple[bytes, bool]:
    """*content* with every bare LF turned into CRLF (RFC 5322 section 2.3), and whether any was."""
    normalised, count = _BARE_LF.subn(b"\r\n", content)
    return normalised, count > 0


@dataclass(frozen=True)
class Intake:
    """What every session of one listener shares: its settings, the spool, resolved users."""

    config: ListenerConfig
    committer: GroupCommitter
    hostname: str
    passwords: Mapping[str, bytes] = field(repr=False)  # resolved secrets: never in a repr
    tls_context: ssl.SSLContext | None

    @classmethod
    def build(cls, config: ListenerConfig, committer: GroupCommitter, hostname: str) -> Intake:
        passwords = {user: resolve_secret(spec, field=f"[listen] users.{user}").encode()
                     for user, spec in config.users.items()}
        context = None
        if config.tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(config.cert), str(config.key))
        return cls(config, committer, config.hostname or hostname, passwords, context)

    @property
    def auth_over_plaintext(self) -> bool:
        return self.config.loopback_only or self.config.auth_without_tls

    def allowed(self, client_address: str) -> bool:
        try:
            address = ipaddress.ip_address(client_address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.config.allow)

    def check_password(self, login: bytes, password: bytes) -> bool:
        expected = self.passwords.get(login.decode("utf-8", "replace"))
        # compare_digest even for unknown users, so timing does not reveal which names exist
        return hmac.compare_digest(expected or b"\0" * 32, password) and expected is not None


class SessionTracker:
    """The live sessions and the stores in flight, so a shutdown can end them safely."""

    def __init__(self) -> None:
        self.live: set[RelaySMTP] = set()
        self.stores: set[asyncio.Future[str]] = set()

    def abort_sessions(self) -> None:
        for session in list(self.live):
            transport = session.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()

    async def finish_stores(self) -> None:
        """Wait for stores already running in threads: each completes or fails as a whole."""
        if self.stores:
            await asyncio.gather(*self.stores, return_exceptions=True)


class _RelaySession(Session):
    """aiosmtpd's Session without its deprecation warning on every successful AUTH."""

    _relay_login_data: Any = None

    @property
    def login_data(self) -> Any:
        return self._relay_login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._relay_login_data = value


class _RelayHandler:
    async def handle_RCPT(self, server: RelaySMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        refusal = server.relay_refusal()
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: RelaySMTP, session: Session, envelope: Envelope) -> str:
        return await server.store(envelope)


class RelaySMTP(SMTP):
    """One intake session (aiosmtpd creates one per connection)."""

    def __init__(self, intake: Intake, tracker: SessionTracker) -> None:
        self.intake = intake
        self._tracker = tracker
        config = intake.config
        implicit = config.tls == "implicit"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "AUTH while not requiring TLS"
            super().__init__(
                _RelayHandler(), data_size_limit=config.max_message_size, enable_SMTPUTF8=True,
                hostname=intake.hostname, ident="cdomail relay ESMTP",
                tls_context=intake.tls_context if config.tls == "starttls" else None,
                auth_required=bool(intake.passwords), authenticator=self._authenticate_user,
                # aiosmtpd issue 274: it counts only STARTTLS as TLS, so with implicit TLS
                # (port 465) every AUTH would get "538 Encryption required" although every
                # byte is encrypted.
                auth_require_tls=not (intake.auth_over_plaintext or implicit),
                # Nobody could log in: do not advertise AUTH.
                auth_exclude_mechanism=() if intake.passwords else ("LOGIN", "PLAIN"))

    def _create_session(self) -> Session:
        return _RelaySession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tracker.live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._tracker.live.discard(self)
        super().connection_lost(error)

    def _authenticate_user(self, server: SMTP, session: Session, envelope: Envelope,
                           mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and self.intake.check_password(data.login,
                                                                          data.password):
            return AuthResult(success=True, auth_data=LoginPassword(data.login, b""))
        return AuthResult(success=False, handled=False)

    # -- facts about this connection -------------------------------------------------------

    def client_address(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return str(peer[0]) if isinstance(peer, tuple) else "unknown"

    def _ssl_object(self) -> ssl.SSLObject | None:
        if self.transport is None:
            return None
        found: ssl.SSLObject | None = self.transport.get_extra_info("ssl_object")
        return found

    def authenticated_user(self) -> str | None:
        session = self.session
        if session is None or not session.authenticated:
            return None
        login = getattr(session.auth_data, "login", None)
        return login.decode("utf-8", "replace") if isinstance(login, bytes) else None

    def relay_refusal(self) -> str | None:
        """Why this client may not relay, as an SMTP reply; None when it may."""
        address = self.client_address()
        if not self.intake.allowed(address):
            return f"550 5.7.1 Relaying denied: {address} is not in this relay's allow list"
        if self.intake.passwords and self.authenticated_user() is None:
            return "530 5.7.0 Authentication required to relay"
        return None

    def arrival_facts(self, bare_lf: bool) -> ArrivalFacts:
        ssl_object = self._ssl_object()
        cipher = ssl_object.cipher() if ssl_object is not None else None
        session = self.session
        return ArrivalFacts(
            client_address=self.client_address(),
            helo=session.host_name if session is not None else None,
            tls_version=ssl_object.version() if ssl_object is not None else None,
            tls_cipher=cipher[0] if cipher else None,
            authenticated_user=self.authenticated_user(),
            received_at=time.time(), bare_lf_normalised=bare_lf)

    # -- DATA -> spool ---------------------------------------------------------------------

    async def store(self, envelope: Envelope) -> str:
        """Put the message in the spool; the reply says whether it is now our responsibility."""
        refusal = self.relay_refusal()
        if refusal is not None or envelope.mail_from is None:
            return refusal or "503 5.5.1 Error: need MAIL command"
        content, bare_lf = normalise_line_endings(envelope.original_content or b"")
        arrival = self.arrival_facts(bare_lf)
        content = self._trace_headers(content, arrival)
        # The store runs in a thread: if this session is cut meanwhile it still completes
        # (or not) as a whole; the service waits for it before closing the spool.
        stored = self.intake.committer.submit(Submission(
            envelope.mail_from, tuple(envelope.rcpt_tos), content, arrival))
        self._tracker.stores.add(stored)
        stored.add_done_callback(self._tracker.stores.discard)
        try:
            message_id = await asyncio.shield(stored)
        except SpoolFull:
            log.error("spool full: refused a message from %s", arrival.client_address)
            return "452 4.3.1 Insufficient system storage: message not accepted, try later"
        except Exception:  # never a 5xx (permanent) for our own trouble: the sender retries
            log.exception("could not store a message from %s", arrival.client_address)
            return "451 4.3.0 Local error in processing: message not accepted, try later"
        return f"250 2.0.0 OK queued as {message_id}"

    def _trace_headers(self, content: bytes, arrival: ArrivalFacts) -> bytes:
        """Prepend Received (RFC 5321 section 4.4) and, when missing, a Message-ID.

        The Message-ID is what makes an at-least-once redelivery recognisable as a duplicate
        (RFC 5321 section 6.4 lets a relay add a missing one).
        """
        helo = _UNSAFE_IN_HEADER.sub("?", arrival.helo or "unknown")
        protocol = ("ESMTP" if self.session and self.session.extended_smtp else "SMTP") + (
            "S" if arrival.tls_version else "") + ("A" if arrival.authenticated_user else "")
        tls = f" ({arrival.tls_version} {arrival.tls_cipher})" if arrival.tls_version else ""
        date = email.utils.formatdate(arrival.received_at)
        trace = (f"Received: from {helo} ([{arrival.client_address}])\r\n\tby"
                 f" {self.intake.hostname} (cdomail relay) with {protocol}{tls};\r\n\t{date}\r\n")
        if extract_message_id(content) is None:
            trace += f"Message-ID: <{uuid.uuid4().hex}@{self.intake.hostname}>\r\n"
        return trace.encode("ascii", "replace") + content


async def start_listener(intake: Intake, tracker: SessionTracker) -> asyncio.Server:
    """Listen on the configured address; implicit TLS wraps the socket from the first byte."""
    config = intake.config
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: RelaySMTP(intake, tracker), host=config.host, port=config.port,
        ssl=intake.tls_context if config.tls == "implicit" else None, reuse_address=True)


def describe_listener(config: ListenerConfig, server: asyncio.Server) -> str:
    """One line for the log: where it listens and how."""
    ports = sorted({s.getsockname()[1] for s in server.sockets})
    users = f"AUTH for {len(config.users)} user(s)" if config.users else "no AUTH"
    allow = ", ".join(str(n) for n in config.allow)
    return printable(f"listening on {config.host}:{','.join(map(str, ports))} tls={config.tls}"
                     f" {users}, allow {allow}, max {config.max_message_size} bytes")
