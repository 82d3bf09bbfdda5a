"""The :class:`Lab`: every listener in one background thread with its own event loop."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from cdomail._server_close import close_servers
from cdomail.errors import ConfigurationError
from cdomail.lab._auth import AuthMechanism
from cdomail.lab._ca import LabCertificates
from cdomail.lab._records import SessionRecord, StoredMessage, join_transcripts
from cdomail.lab._server import (
    DEFAULT_DATA_SIZE_LIMIT,
    LISTENER_MODES,
    LabSMTP,
    ListenerMode,
    ServerOptions,
    SessionBook,
)
from cdomail.lab._store import MessageStore

__all__ = ["DEFAULT_PORTS", "Lab"]

#: The ports ``cdomail lab`` uses when none are given (high, so no root is needed).
DEFAULT_PORTS: Mapping[str, int] = {
    "plain": 2525,
    "starttls": 2587,
    "starttls-required": 2588,
    "smtps": 2465,
}

_START_TIMEOUT = 15.0

#: Loop turns to wait, at shutdown, for aborted sessions to hear of it (a turn or two each).
_ABORT_TURNS = 50


def _check_listeners(listeners: Mapping[str, int]) -> dict[str, int]:
    if not listeners:
        raise ConfigurationError("the lab needs at least one listener", field="listeners")
    checked: dict[str, int] = {}
    for mode, port in listeners.items():
        if mode not in LISTENER_MODES:
            known = ", ".join(LISTENER_MODES)
            raise ConfigurationError(
                f"unknown listener mode {mode!r} (known: {known})", field="listeners"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(
                f"port for {mode!r} must be an integer from 0 to 65535, not {port!r}",
                field="listeners",
            )
        checked[mode] = port
    return checked


def _check_users(users: Mapping[str, str]) -> dict[str, str]:
    for name, password in users.items():
        if not name or any(c in name for c in "\x00\r\n"):
            raise ConfigurationError(f"invalid lab user name {name!r}", field="users")
        if not isinstance(password, str) or any(c in password for c in "\x00\r\n"):
            # The value itself is never shown: it is a password.
            raise ConfigurationError(f"invalid password for lab user {name!r}", field="users")
    return dict(users)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Lab:
    """Local SMTP servers, one per TLS configuration, with a private CA.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with Lab(users={"user": "secret"}) as lab:
            smtplib.SMTP_SSL(lab.host, lab.port("smtps"), context=lab.client_context())

    Args:
        listeners: mode -> port; modes are ``plain``, ``starttls``,
            ``starttls-required`` and ``smtps``; port 0 picks a free port.
            Default: all four on port 0.
        users: ``{name: password}`` accepted by AUTH PLAIN and LOGIN. Without
            users (and without ``auth_mechanisms``) AUTH is not offered.
        auth_require_tls: offer AUTH only over TLS (the default, RFC 4954 §4).
        auth_required: refuse MAIL with 530 until the client authenticated.
        auth_mechanisms: extra SASL mechanisms, name -> async callable (see
            :mod:`cdomail.lab._auth` for the contract).
        state_dir: where the Maildir lives (and the certificates, unless
            ``certs_dir`` is given). Default: a temporary folder removed by stop().
        certs_dir: where the CA and server certificate are kept.
            Default: ``state_dir / "tls"``.
        latency_ms: delay before each reply, to emulate a distant server.
        host: address to listen on (loopback by default).
        hostname: the name in the greeting and in the server certificate.
        pipelining / chunking / enhanced_status_codes: advertise (and, for
            CHUNKING, accept) these extensions.
        data_size_limit: largest message accepted (advertised with SIZE).
        minimum_tls_version / maximum_tls_version: the TLS versions the
            servers accept (e.g. a maximum of TLSv1_2 emulates an older server).
        on_message: called (on the lab's thread) with each stored message.
    """

    def __init__(
        self,
        listeners: Mapping[str, int] | None = None,
        *,
        users: Mapping[str, str] | None = None,
        auth_require_tls: bool = True,
        auth_required: bool = False,
        auth_mechanisms: Mapping[str, AuthMechanism] | None = None,
        state_dir: Path | str | None = None,
        certs_dir: Path | str | None = None,
        latency_ms: int = 0,
        host: str = "127.0.0.1",
        hostname: str = "localhost",
        pipelining: bool = True,
        chunking: bool = True,
        enhanced_status_codes: bool = True,
        data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT,
        minimum_tls_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum_tls_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        on_message: Callable[[StoredMessage], None] | None = None,
    ) -> None:
        if listeners is None:
            listeners = dict.fromkeys(LISTENER_MODES, 0)
        self._requested = _check_listeners(listeners)
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise ConfigurationError(
                f"latency must be a whole number of milliseconds >= 0, not {latency_ms!r}",
                field="latency_ms",
            )
        if data_size_limit <= 0:
            raise ConfigurationError("data_size_limit must be positive", field="data_size_limit")
        if not hostname or any(c.isspace() for c in hostname):
            raise ConfigurationError(f"invalid host name {hostname!r}", field="hostname")
        self._options = ServerOptions(
            users=_check_users(users or {}),
            auth_require_tls=auth_require_tls,
            auth_required=auth_required,
            auth_mechanisms=dict(auth_mechanisms or {}),
            latency_seconds=latency_ms / 1000,
            hostname=hostname,
            pipelining=pipelining,
            chunking=chunking,
            enhanced_status_codes=enhanced_status_codes,
            data_size_limit=data_size_limit,
        )
        self._host = host
        self._tls_versions = (minimum_tls_version, maximum_tls_version)
        self._given_state_dir = Path(state_dir) if state_dir is not None else None
        self._given_certs_dir = Path(certs_dir) if certs_dir is not None else None
        self._on_message = on_message
        self._book = SessionBook()
        self._ports: dict[str, int] = {}
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._certs: LabCertificates | None = None
        self._store: MessageStore | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Future[None] | None = None
        self._servers: list[asyncio.Server] = []
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> Lab:
        """Create the certificates if needed, bind every listener, serve in the background.

        Raises:
            RuntimeError: the lab is already running.
            OSError: a port could not be bound (e.g. already in use).
        """
        if self._thread is not None:
            raise RuntimeError("this lab is already running")
        if self._given_state_dir is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix="cdomail-lab-"))
            self._owns_state_dir = True
        else:
            self._state_dir = self._given_state_dir
            self._state_dir.mkdir(parents=True, exist_ok=True)
        certs_dir = self._given_certs_dir or self._state_dir / "tls"
        self._certs = LabCertificates.load_or_create(certs_dir, self._options.hostname)
        self._store = MessageStore(self._state_dir / "maildir", on_message=self._on_message)
        self._ready.clear()
        self._start_error = None
        self._ports = {}
        self._thread = threading.Thread(target=self._run, name="cdomail-lab", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            self.stop()
            raise RuntimeError("the lab did not start in time")
        if self._start_error is not None:
            error = self._start_error
            self.stop()
            raise error
        return self

    def stop(self) -> None:
        """Close every connection and listener, stop the thread. Safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is not None:
            stop_requested = self._stop_requested
            if loop is not None and stop_requested is not None:
                loop.call_soon_threadsafe(_resolve, stop_requested)
            thread.join()
        self._thread = None
        self._loop = None
        self._stop_requested = None
        if self._owns_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._owns_state_dir = False

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        # The Runner ends like asyncio.run(): tasks still pending (an accept waiting on a TLS
        # handshake) are cancelled and their transports closed before the loop closes.
        with asyncio.Runner() as runner:
            runner.run(self._serve(runner.get_loop()))

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        stop_requested = loop.create_future()
        try:
            await self._open_listeners(loop)
        except BaseException as error:  # reported to start()'s caller
            self._start_error = error
        else:
            self._loop, self._stop_requested = loop, stop_requested
        finally:
            self._ready.set()
        try:
            if self._start_error is None:
                await stop_requested
        finally:
            await self._close_everything()

    async def _open_listeners(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._certs is not None
        assert self._store is not None
        context = self._certs.server_context(*self._tls_versions)
        for name, port in self._requested.items():
            mode = LISTENER_MODES[name]
            server = await loop.create_server(
                self._factory(mode, context, loop),
                host=self._host,
                port=port,
                ssl=context if mode.implicit_tls else None,
                reuse_address=True,
            )
            self._servers.append(server)
            self._ports[name] = int(server.sockets[0].getsockname()[1])

    def _factory(
        self, mode: ListenerMode, context: ssl.SSLContext, loop: asyncio.AbstractEventLoop
    ) -> Callable[[], LabSMTP]:
        assert self._store is not None
        store = self._store

        def make() -> LabSMTP:
            return LabSMTP(
                mode=mode,
                options=self._options,
                book=self._book,
                store=store,
                tls_context=context,
                loop=loop,
            )

        return make

    async def _close_everything(self) -> None:
        await close_servers(self._servers)
        # A session whose protocol has just been told of its connection may still start
        # its handler task on the next turn: abort until no live session is left. (A TLS
        # handshake still under way on the implicit-TLS listener has no session yet; the
        # Runner in _run() cancels its accept task, which closes the transport.)
        tasks: set[asyncio.Task[None]] = set()
        for _ in range(_ABORT_TURNS):
            live = self._book.live_servers()
            if not live:
                break
            for smtp in live:
                if (task := smtp.abort()) is not None:
                    tasks.add(task)
            await asyncio.sleep(0)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        # Let transports finish their connection_lost callbacks.
        await asyncio.sleep(0)

    # --- what tests look at -------------------------------------------------

    @property
    def host(self) -> str:
        """The address the listeners are bound to."""
        return self._host

    @property
    def hostname(self) -> str:
        """The server's name (greeting and certificate)."""
        return self._options.hostname

    @property
    def users(self) -> list[str]:
        """The names of the configured users (never their passwords)."""
        return sorted(self._options.users)

    @property
    def auth_require_tls(self) -> bool:
        """Whether AUTH is offered only over TLS."""
        return self._options.auth_require_tls

    @property
    def listeners(self) -> dict[str, int]:
        """mode -> bound port (the real ports once started)."""
        return dict(self._ports) if self._ports else dict(self._requested)

    def port(self, mode: str) -> int:
        """The bound port of listener ``mode``.

        Raises:
            KeyError: the lab has no such listener, or it is not started.
        """
        try:
            return self._ports[mode]
        except KeyError:
            raise KeyError(f"no running {mode!r} listener (have: {sorted(self._ports)})") from None

    def _need_certs(self) -> LabCertificates:
        if self._certs is None:
            raise RuntimeError("start the lab first: the certificates are made on start")
        return self._certs

    @property
    def ca_path(self) -> Path:
        """The lab CA's certificate (PEM): give it to clients as their CA file."""
        return self._need_certs().ca_path

    @property
    def cert_path(self) -> Path:
        """The server certificate chain (PEM)."""
        return self._need_certs().cert_path

    @property
    def key_path(self) -> Path:
        """The server's private key (PEM)."""
        return self._need_certs().key_path

    @property
    def state_dir(self) -> Path:
        """The folder holding the Maildir (and, by default, the certificates)."""
        if self._state_dir is None:
            raise RuntimeError("start the lab first")
        return self._state_dir

    @property
    def maildir_path(self) -> Path:
        """The Maildir every accepted message is written to."""
        return self.state_dir / "maildir"

    def client_context(self) -> ssl.SSLContext:
        """An SSLContext trusting only the lab CA, for stdlib clients in tests."""
        return self._need_certs().client_context()

    @property
    def messages(self) -> list[StoredMessage]:
        """Messages accepted since start (or the last :meth:`clear`), oldest first."""
        return self._store.messages if self._store is not None else []

    @property
    def sessions(self) -> list[SessionRecord]:
        """Session records since start (or the last :meth:`clear`), oldest first."""
        return self._book.records

    def transcripts_text(self) -> str:
        """Every session's transcript as text: handy as an assertion message."""
        return join_transcripts(self._book.records)

    def maildir_bytes(self, message: StoredMessage) -> bytes:
        """The Maildir copy of ``message``, trace headers included."""
        if self._store is None:
            raise RuntimeError("start the lab first")
        return self._store.maildir_bytes(message.maildir_key)

    def delete(self, maildir_key: str) -> bool:
        """Forget one message (in memory and its Maildir file); False when it is not kept."""
        return self._store.delete(maildir_key) if self._store is not None else False

    def clear(self) -> None:
        """Forget recorded messages and finished sessions (the Maildir keeps its files)."""
        if self._store is not None:
            self._store.clear()
        self._book.clear()

    def wait_sessions_closed(self, timeout: float = 5.0) -> bool:
        """Wait until every session so far has disconnected; False on timeout.

        Use it before asserting on a transcript when the client may have hung up
        without QUIT: then the server may still be reading its last lines.
        """
        return all(record.closed.wait(timeout) for record in self._book.records)
