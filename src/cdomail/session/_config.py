"""Client settings shared by the sync and async clients: validated once, in one place."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec

from ..protocol import Authenticator, Secret
from ..tls import TLSMode, TLSSettings, default_port
from ._arguments import (
    check_credentials,
    check_ehlo_name,
    check_host,
    check_port,
    check_time_limits,
    check_username,
)
from ._sasl_choice import choose_authenticator

if TYPE_CHECKING:  # the type only: the session layer opens no TLS itself
    from ssl import SSLContext


_P = ParamSpec("_P")
#: Options that keep a secret or a stateful object: a config holding one is never shared.
_UNSHARED_OPTIONS = ("username", "password", "oauth2_token", "authenticator", "ssl_context")
_SHARED_MAX = 64


def _shared_for_same_arguments(
    build: Callable[_P, ClientConfig],
) -> Callable[_P, ClientConfig]:
    """Give clients built with the same arguments the same (immutable) config.

    A one-shot send or a CDO ``Send()`` builds a client, so a config, per message: validating
    two dozen arguments again was a twentieth of a plaintext send. Only configs without
    credentials, an authenticator or a caller's SSL context are kept (no secret and no object
    with a state outlives its clients here), at most ``_SHARED_MAX`` of them; bad arguments
    raise every time, as they are never kept.
    """
    shared: dict[tuple[Any, ...], ClientConfig] = {}

    @functools.wraps(build)  # keeps build's signature and documentation for help() and docs
    def build_or_reuse(*args: _P.args, **options: _P.kwargs) -> ClientConfig:
        if any(options.get(name) is not None for name in _UNSHARED_OPTIONS):
            return build(*args, **options)
        key = (_typed(args), tuple((name, _typed(options[name])) for name in sorted(options)))
        try:
            return shared[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable argument (a list of mechanisms): build it
            return build(*args, **options)
        config = build(*args, **options)
        if len(shared) >= _SHARED_MAX:
            shared.clear()
        shared[key] = config
        return config

    return build_or_reuse


def _typed(value: Any) -> Any:
    """*value* with the type of every part: ``25`` and ``25.0`` are equal but not the same
    argument (the float is refused), so they must not share a config."""
    if isinstance(value, tuple):
        return tuple(_typed(item) for item in value)
    return (type(value), value)


def effective_tls_mode(tls: TLSMode | str, port: int) -> TLSMode:
    """The concrete TLS policy a session on ``port`` follows for ``tls``: CDO's port rule
    and ``auto`` resolved to implicit TLS or STARTTLS; ``NONE`` means plaintext."""
    return TLSMode.parse(tls).resolve(port)


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
    ssl_context: SSLContext | None = field(default=None, repr=False)

    @classmethod
    @_shared_for_same_arguments
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
        ssl_context: SSLContext | None = None,
    ) -> ClientConfig:
        """Validate the client's keyword arguments (see ``SMTPClient``)."""
        # First: a ConfigurationError raised below must not show them in its traceback's locals.
        password, oauth2_token = Secret.wrap(password), Secret.wrap(oauth2_token)
        check_host(host)
        mode = TLSMode.parse(tls)
        if port is None:
            port = default_port(mode)
        check_port(port)
        check_time_limits(connect_timeout=connect_timeout, command_timeout=command_timeout,
                          deadline=deadline)
        check_credentials(username, password, oauth2_token)
        if local_hostname:
            check_ehlo_name(local_hostname)
        if username is not None:
            check_username(username)
        connect_host, connect_port = connect_to if connect_to else (host, port)
        return cls(
            host=host,
            port=port,
            mode=mode,
            effective_mode=effective_tls_mode(mode, port),
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

    def choose_authenticator(self, advertised: Sequence[str]) -> Authenticator:
        """Pick the SASL mechanism: the caller's order, else strongest first."""
        return choose_authenticator(advertised, username=self.username, password=self.password,
                                    oauth2_token=self.oauth2_token,
                                    preference=self.auth_mechanisms,
                                    authenticator=self.authenticator)


#: Client options that hold a secret.
SECRET_OPTIONS = frozenset({"password", "oauth2_token"})


def hide_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every secret as a :class:`~cdomail.protocol.Secret`, so that a frame
    holding them shows ``Secret('***')`` in a traceback printed with its locals."""
    return {name: Secret.wrap(value) if name in SECRET_OPTIONS and isinstance(value, str)
            else value for name, value in options.items()}
