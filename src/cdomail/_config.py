"""Client settings shared by the sync and async clients: validated once, in one place."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    AuthenticationRefusedLocally,
    ConfigurationError,
    LocalProtocolError,
    ReadTimeout,
)
from .message import check_address
from .protocol import (
    PREFERRED_MECHANISMS,
    Authenticator,
    Secret,
    XOAuth2,
    check_argument,
    password_authenticator,
)
from .tls import TLSMode, TLSSettings, default_port, shared_ssl_context

# RFC 5321 §4.5.3.2: minimum per-command timeouts a client should allow.
RFC_TIMEOUTS = {
    "GREETING": 300.0,
    "MAIL": 300.0,
    "RCPT": 300.0,
    "DATA": 120.0,
    "BLOCK": 180.0,  # each write of message content
    ".": 600.0,  # the final reply; also each BDAT reply
    "BDAT": 600.0,
}
DEFAULT_COMMAND_TIMEOUT = 300.0
#: With tls="auto" on a port other than 465, silence this long most likely means the port
#: wants TLS from the first byte (an implicit-TLS port elsewhere than 465): say so soon
#: rather than after the whole connect timeout. An explicit mode keeps the full timeout.
AUTO_GREETING_TIMEOUT = 5.0


_LOCAL_HOSTNAME: str | None = None
_LOCAL_HOSTNAME_LOCK = threading.Lock()


def default_local_hostname() -> str:
    """This machine's name in a form EHLO accepts (RFC 5321 §4.1.4), else an address literal.

    ``socket.getfqdn()`` may wait on DNS: it runs once per process (the first caller
    resolves, concurrent callers wait for that answer) and the answer is kept.
    """
    global _LOCAL_HOSTNAME
    if _LOCAL_HOSTNAME is not None:
        return _LOCAL_HOSTNAME
    with _LOCAL_HOSTNAME_LOCK:
        if _LOCAL_HOSTNAME is None:
            _LOCAL_HOSTNAME = _ehlo_form(socket.getfqdn())
        return _LOCAL_HOSTNAME


def cached_local_hostname() -> str | None:
    """The name :func:`default_local_hostname` found, without resolving; ``None`` before."""
    return _LOCAL_HOSTNAME


def _ehlo_form(name: str) -> str:
    if not name or not all(c.isalnum() or c in ".-" for c in name) or "." not in name:
        name = "[127.0.0.1]" if name in ("", "localhost") or not name.isascii() else name
    try:
        _check_ehlo_name(name)
    except ConfigurationError:
        return "[127.0.0.1]"  # a name EHLO cannot carry: the address literal says no less
    return name


def _check_ehlo_name(name: str) -> None:
    try:
        check_argument(name, "EHLO name")
    except LocalProtocolError as exc:
        raise ConfigurationError(str(exc), field="local_hostname") from None
    if " " in name or not name.isascii():
        raise ConfigurationError(f"invalid EHLO name {name!r}", field="local_hostname")


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to know before it connects."""

    host: str
    port: int
    mode: TLSMode
    effective_mode: TLSMode
    tls: TLSSettings
    server_hostname: str
    connect_host: str
    connect_port: int
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    oauth2_token: Secret | None = field(default=None, repr=False)
    auth_mechanisms: tuple[str, ...] | None = None
    authenticator: Authenticator | None = None
    allow_plaintext_auth: bool = False
    #: The EHLO name given; ``None``: this machine's name, looked up when connecting (once
    #: per process, off the event loop for the async client).
    local_hostname: str | None = None
    connect_timeout: float | None = 30.0
    command_timeout: float | None = None
    deadline: float | None = None
    pipelining: bool = True
    chunking: bool = True
    helo_fallback: bool = True
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        host: str,
        port: int | None = None,
        *,
        tls: TLSMode | str = TLSMode.AUTO,
        username: str | None = None,
        password: str | Secret | None = None,
        oauth2_token: str | Secret | None = None,
        auth_mechanisms: Sequence[str] | None = None,
        authenticator: Authenticator | None = None,
        allow_plaintext_auth: bool = False,
        cafile: str | None = None,
        fingerprint: str | None = None,
        verify: bool = True,
        minimum_tls_version: str = "1.2",
        server_hostname: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        local_hostname: str | None = None,
        connect_timeout: float | None = 30.0,
        command_timeout: float | None = None,
        deadline: float | None = None,
        connect_to: tuple[str, int] | None = None,
        pipelining: bool = True,
        chunking: bool = True,
        helo_fallback: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ClientConfig:
        """Validate the client's keyword arguments (see ``SMTPClient``)."""
        # First: a ConfigurationError raised below must not show them in its traceback's locals.
        password, oauth2_token = Secret.wrap(password), Secret.wrap(oauth2_token)
        if not host or not isinstance(host, str):
            raise ConfigurationError("host is required", field="host")
        check_argument(host, "host")
        mode = TLSMode.parse(tls)
        if port is None:
            port = default_port(mode)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"port must be 1-65535, not {port!r}", field="port")
        for name, value in (("connect_timeout", connect_timeout),
                            ("command_timeout", command_timeout), ("deadline", deadline)):
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be positive", field=name)
        if password is not None and username is None:
            raise ConfigurationError("password given without username", field="username")
        if oauth2_token is not None and username is None:
            raise ConfigurationError("oauth2_token needs username", field="username")
        if username is not None and password is None and oauth2_token is None:
            raise ConfigurationError("username given without password or oauth2_token",
                                     field="password")
        if local_hostname:
            _check_ehlo_name(local_hostname)
        if username is not None:
            check_address(username, "username") if "@" in username else check_argument(
                username, "username"
            )
        connect_host, connect_port = connect_to if connect_to else (host, port)
        return cls(
            host=host,
            port=port,
            mode=mode,
            effective_mode=mode.resolve(port),
            tls=TLSSettings(verify=verify, cafile=cafile, fingerprint=fingerprint,
                            minimum_version=minimum_tls_version, client_cert=client_cert,
                            client_key=client_key),
            server_hostname=server_hostname or host,
            connect_host=connect_host,
            connect_port=connect_port,
            username=username,
            # Held as Secrets down to the SASL step: no repr or traceback shows them.
            password=password,
            oauth2_token=oauth2_token,
            auth_mechanisms=tuple(m.upper() for m in auth_mechanisms) if auth_mechanisms else None,
            authenticator=authenticator,
            allow_plaintext_auth=allow_plaintext_auth,
            local_hostname=local_hostname or None,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            deadline=deadline,
            pipelining=pipelining,
            chunking=chunking,
            helo_fallback=helo_fallback,
            ssl_context=ssl_context,
        )

    @property
    def wants_auth(self) -> bool:
        """Credentials (or a custom authenticator) were given."""
        return self.username is not None or self.authenticator is not None

    def make_ssl_context(self) -> ssl.SSLContext:
        """The context for this client (a caller-supplied one wins), shared between clients
        with the same TLS settings (see :func:`cdomail.tls.shared_ssl_context`)."""
        return self.ssl_context or shared_ssl_context(self.tls)

    def choose_authenticator(self, advertised: Sequence[str]) -> Authenticator:
        """Pick the SASL mechanism: the caller's order, else strongest first."""
        if self.authenticator is not None:
            if self.authenticator.mechanism.upper() not in advertised:
                raise AuthenticationRefusedLocally(
                    f"server does not offer AUTH {self.authenticator.mechanism}"
                    f" (it offers: {', '.join(advertised) or 'no AUTH at all'})"
                )
            return self.authenticator
        assert self.username is not None
        if self.oauth2_token is not None:
            if "XOAUTH2" not in advertised:
                raise AuthenticationRefusedLocally(
                    f"server does not offer AUTH XOAUTH2 (it offers: "
                    f"{', '.join(advertised) or 'no AUTH at all'})"
                )
            return XOAuth2(self.username, self.oauth2_token)
        assert self.password is not None
        order = self.auth_mechanisms or PREFERRED_MECHANISMS
        for mechanism in order:
            if mechanism in advertised:
                return password_authenticator(mechanism, self.username, self.password)
        raise AuthenticationRefusedLocally(
            "credentials were given but the server offers no usable AUTH mechanism"
            f" (it offers: {', '.join(advertised) or 'no AUTH at all'};"
            f" we can use: {', '.join(order)})"
        )


#: Client options that hold a secret.
SECRET_OPTIONS = frozenset({"password", "oauth2_token"})


def hide_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every secret as a :class:`~cdomail.protocol.Secret`, so that a frame
    holding them shows ``Secret('***')`` in a traceback printed with its locals."""
    return {name: Secret.wrap(value) if name in SECRET_OPTIONS and isinstance(value, str)
            else value for name, value in options.items()}


class Clock:
    """Per-command timeouts capped by an optional overall deadline."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._end = time.monotonic() + config.deadline if config.deadline else None

    def timeout(self, what: str) -> float | None:
        """Seconds allowed for the next wait on ``what`` (a verb, "GREETING", "BLOCK", ".")."""
        if what == "CONNECT":
            base = self._config.connect_timeout
        elif what == "AUTO_GREETING":
            connect = self._config.connect_timeout
            base = AUTO_GREETING_TIMEOUT if connect is None else min(connect, AUTO_GREETING_TIMEOUT)
        elif self._config.command_timeout is not None:
            base = self._config.command_timeout
        else:
            base = RFC_TIMEOUTS.get(what, DEFAULT_COMMAND_TIMEOUT)
        if self._end is None:
            return base
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(f"the overall deadline of {self._config.deadline} s has passed")
        return remaining if base is None else min(base, remaining)

    def reply_deadline(self, what: str) -> float | None:
        """Absolute time by which the whole reply to ``what`` must have arrived."""
        limit = self.timeout(what)
        return None if limit is None else time.monotonic() + limit

    @staticmethod
    def remaining(end: float | None) -> float | None:
        """Seconds left before ``end``. A reply trickling in byte by byte (security case 33)
        cannot stretch the wait: the limit covers the whole reply, not each read."""
        if end is None:
            return None
        left = end - time.monotonic()
        if left <= 0:
            raise ReadTimeout("the reply did not arrive completely in time")
        return left
