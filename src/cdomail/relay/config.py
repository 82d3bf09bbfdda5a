"""relay.toml: load, validate, and explain mistakes with the line they are on.

Every problem is reported before the relay opens a socket, as
``relay.toml:12: [delivery] retry: 'soon' is not a duration ...``. Secrets are only
checked for form here (``env:NAME`` / ``file:PATH``); they are resolved when used.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from ..errors import ConfigurationError
from ._secrets import SecretError, check_secret_spec
from ._units import parse_duration, parse_rate, parse_size

__all__ = [
    "DeliveryConfig",
    "ListenerConfig",
    "OAuth2Config",
    "RelayConfig",
    "RelayConfigError",
    "SpoolConfig",
    "UpstreamConfig",
    "load_config",
    "parse_config",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ListenerTLS = Literal["none", "starttls", "implicit"]
UpstreamAuth = Literal["password", "xoauth2", "none"]
_UPSTREAM_TLS = ("auto", "starttls", "implicit", "cdo", "opportunistic", "none")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_T = TypeVar("_T")


class RelayConfigError(ConfigurationError):
    """relay.toml is invalid; ``line`` is the 1-based line of the offending key when known."""

    def __init__(self, message: str, /, *, path: str = "", line: int | None = None,
                 field: str = "") -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}", field=field)


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One address legacy senders connect to."""

    host: str
    port: int
    tls: ListenerTLS = "none"
    cert: Path | None = None
    key: Path | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # user -> secret reference
    allow: tuple[IPNetwork, ...] = _LOOPBACK
    max_message_size: int = 35_000_000
    # AUTH over a plaintext link is refused unless the listener is loopback-only or this is set.
    auth_without_tls: bool = False
    hostname: str | None = None

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback if _is_ip(self.host) else (
            self.host == "localhost")


@dataclass(frozen=True, slots=True)
class SpoolConfig:
    """``path``: the SQLite spool's directory (one node); ``url``: a PostgreSQL queue shared
    by several nodes (``password``: a secret reference; ``lease_seconds``: how long a claim,
    or an upstream connection slot, outlives a node that stopped renewing it)."""

    path: Path | None = None
    url: str | None = None
    password: str | None = None
    lease_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class OAuth2Config:
    token_url: str
    client_id: str
    client_secret: str | None = None  # secret reference
    scope: str = ""
    refresh_token: str | None = None  # secret reference; rotated tokens are written back to it
    cafile: Path | None = None


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    host: str
    port: int
    tls: str = "auto"
    username: str | None = None
    auth: UpstreamAuth = "none"
    password: str | None = None  # secret reference
    cafile: Path | None = None
    allow_plaintext: bool = False
    oauth2: OAuth2Config | None = None
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    concurrency: int = 4
    rate_limit: tuple[int, float] | None = None  # (messages, seconds)
    retry: tuple[float, ...] = (60.0, 300.0, 900.0, 3600.0, 10800.0)
    max_age: float = 5 * 86400.0
    at_least_once: bool = True


@dataclass(frozen=True, slots=True)
class RelayConfig:
    listeners: tuple[ListenerConfig, ...]
    spool: SpoolConfig
    upstream: UpstreamConfig
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    source: str = ""  # the file it came from, for messages


def load_config(path: str | Path) -> RelayConfig:
    """Read and validate *path*; raise :class:`RelayConfigError` naming the line of a mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RelayConfigError(f"cannot read the relay configuration: {error.strerror}",
                               path=str(path)) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "relay.toml") -> RelayConfig:
    """Validate TOML *text* (``source`` names it in errors)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise RelayConfigError(f"not valid TOML: {error}", path=source,
                               line=int(line.group(1)) if line else None) from None
    reader = _Reader(text, source)
    reader.only_keys(document, "", {"listen", "spool", "upstream", "delivery"})
    return RelayConfig(
        listeners=_listeners(reader, document),
        spool=_spool(reader, document),
        upstream=_upstream(reader, document),
        delivery=_delivery(reader, document.get("delivery", {})),
        source=source,
    )


class _Reader:
    """Typed access to TOML tables with errors that point at the line of the key."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def line_of(self, table: str, key: str | None, index: int = 0) -> int | None:
        """The line of *key* in ``[table]`` (the index-th ``[[table]]``), else the header's."""
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?$")
        key_line = re.compile(r"^\s*[\"']?" + re.escape(key or "") + r"[\"']?\s*=")
        seen, inside, header_line = -1, table == "", None
        for number, line in enumerate(self.lines, start=1):
            if re.match(r"^\s*\[", line):
                inside = bool(header.match(line)) and (seen := seen + 1) == index
                header_line = number if inside else header_line
            elif inside and key and key_line.match(line):
                return number
        return header_line

    def fail(self, table: str, key: str | None, message: str, index: int = 0) -> RelayConfigError:
        name = f"[{table}] {key}" if key else f"[{table}]"
        return RelayConfigError(f"{name}: {message}", path=self.source,
                                line=self.line_of(table, key, index), field=key or table)

    def only_keys(self, table: Mapping[str, Any], name: str, known: set[str],
                  index: int = 0) -> None:
        for key in table:
            if key not in known:
                hint = ", ".join(sorted(known))
                where = f"[{name}] " if name else ""
                raise RelayConfigError(
                    f"{where}unknown key {key!r} (known: {hint})", path=self.source,
                    line=self.line_of(name, key, index), field=key)

    def get(self, table: Mapping[str, Any], name: str, key: str, kind: type[_T] | tuple[type, ...],
            default: Any = None, *, required: bool = False, index: int = 0) -> Any:
        if key not in table:
            if required:
                raise self.fail(name, None, f"{key!r} is required", index)
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = object()  # true/false is never a number or a string here
        if not isinstance(value, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise self.fail(name, key, f"expected {wanted}, got {table[key]!r}", index)
        return value

    def convert(self, table: Mapping[str, Any], name: str, key: str,
                parse: Callable[[Any], _T], default: _T, index: int = 0) -> _T:
        if key not in table:
            return default
        try:
            return parse(table[key])
        except (ValueError, SecretError) as error:
            raise self.fail(name, key, str(error), index) from None

    def secret(self, table: Mapping[str, Any], name: str, key: str, index: int = 0) -> str | None:
        if key not in table:
            return None
        try:
            return check_secret_spec(table[key], field=key)
        except SecretError:
            raise self.fail(name, key, "a secret must be \"env:NAME\" or \"file:PATH\"; an inline"
                            " secret is refused (it would leak with the file)", index) from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_port(value: str, default_port: int | None = None) -> tuple[str, int]:
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)|([^:\[\]]+)", value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not HOST:PORT (IPv6 as [::1]:2525)")
    host = match.group(1) or match.group(3) or match.group(5)
    port_text = match.group(2) or match.group(4)
    if port_text is None and default_port is None:
        raise ValueError(f"{value!r} has no port: write HOST:PORT, e.g. \"127.0.0.1:2525\"")
    port = int(port_text) if port_text else cast(int, default_port)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return host, port


def _networks(value: object) -> tuple[IPNetwork, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("a non-empty list of networks, e.g. [\"127.0.0.0/8\", \"10.1.2.0/24\"]")
    try:
        return tuple(ipaddress.ip_network(str(item), strict=False) for item in value)
    except ValueError as error:
        raise ValueError(f"not a network: {error}") from None


_LISTEN_KEYS = {"address", "tls", "cert", "key", "users", "allow", "max_message_size",
                "auth_without_tls", "hostname"}


def _listeners(reader: _Reader, document: Mapping[str, Any]) -> tuple[ListenerConfig, ...]:
    raw = document.get("listen")
    if raw is None:
        raise RelayConfigError("a [listen] table is required (the address legacy senders use)",
                               path=reader.source)
    tables = raw if isinstance(raw, list) else [raw]
    return tuple(_listener(reader, table, index) for index, table in enumerate(tables))


def _listener(reader: _Reader, table: Mapping[str, Any], index: int) -> ListenerConfig:
    reader.only_keys(table, "listen", _LISTEN_KEYS, index)
    address = reader.get(table, "listen", "address", str, required=True, index=index)
    host, port = reader.convert(table, "listen", "address", _host_port, ("", 0), index)
    del address
    tls = reader.get(table, "listen", "tls", str, "none", index=index)
    if tls not in ("none", "starttls", "implicit"):
        raise reader.fail("listen", "tls", f"{tls!r}: use none, starttls or implicit", index)
    cert = reader.get(table, "listen", "cert", str, index=index)
    key = reader.get(table, "listen", "key", str, index=index)
    if tls != "none" and not (cert and key):
        raise reader.fail("listen", "tls", f"tls = {tls!r} needs cert and key paths", index)
    users_table = reader.get(table, "listen", "users", dict, {}, index=index)
    users = {}
    for user, spec in users_table.items():
        if not isinstance(spec, str) or not spec.startswith(("env:", "file:")):
            raise reader.fail("listen", "users", f"the password of {user!r} must be \"env:NAME\""
                              " or \"file:PATH\"; an inline secret is refused", index)
        users[user] = spec
    return ListenerConfig(
        host=host, port=port, tls=tls, cert=Path(cert) if cert else None,
        key=Path(key) if key else None, users=users,
        allow=reader.convert(table, "listen", "allow", _networks, _LOOPBACK, index),
        max_message_size=reader.convert(table, "listen", "max_message_size", parse_size,
                                        35_000_000, index),
        auth_without_tls=reader.get(table, "listen", "auth_without_tls", bool, False, index=index),
        hostname=reader.get(table, "listen", "hostname", str, index=index),
    )


def _spool(reader: _Reader, document: Mapping[str, Any]) -> SpoolConfig:
    table = reader.get(document, "", "spool", dict, required=False)
    if table is None:
        raise RelayConfigError("a [spool] table with path = \"...\" is required",
                               path=reader.source)
    reader.only_keys(table, "spool", {"path", "url", "password", "lease"})
    url = reader.get(table, "spool", "url", str)
    if url is None:
        for key in ("password", "lease"):
            if key in table:
                raise reader.fail("spool", key, f"{key!r} belongs to a PostgreSQL queue (url)")
        return SpoolConfig(path=Path(reader.get(table, "spool", "path", str, required=True)))
    if "path" in table:
        raise reader.fail("spool", "url", "give path (SQLite, one node) or url (PostgreSQL),"
                          " not both")
    reader.convert(table, "spool", "url", _postgres_url, url)
    lease = reader.convert(table, "spool", "lease", parse_duration, 60.0)
    if not 1 <= lease <= 3600:
        raise reader.fail("spool", "lease", "use 1s to 1h")
    return SpoolConfig(url=url, password=reader.secret(table, "spool", "password"),
                       lease_seconds=lease)


def _postgres_url(value: object) -> str:
    """A postgresql:// URL without an inline password (it would leak with the file)."""
    if not isinstance(value, str):
        raise ValueError("expected a postgresql:// URL")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URL")
    query = urllib.parse.parse_qs(parts.query)
    if parts.password is not None or "password" in query:
        raise ValueError("the URL holds a password: put it in [spool] password = \"env:NAME\""
                         " or \"file:PATH\" (or use PGPASSFILE)")
    return value


_UPSTREAM_KEYS = {"host", "port", "tls", "username", "auth", "password", "cafile",
                  "allow_plaintext", "oauth2", "timeout"}


def _upstream(reader: _Reader, document: Mapping[str, Any]) -> UpstreamConfig:
    table = document.get("upstream")
    if not isinstance(table, dict):
        raise RelayConfigError("an [upstream] table is required (where mail goes)",
                               path=reader.source)
    reader.only_keys(table, "upstream", _UPSTREAM_KEYS)
    tls = reader.get(table, "upstream", "tls", str, "auto").lower()
    if tls not in _UPSTREAM_TLS:
        raise reader.fail("upstream", "tls", f"{tls!r}: use {', '.join(_UPSTREAM_TLS)}")
    allow_plaintext = reader.get(table, "upstream", "allow_plaintext", bool, False)
    if tls in ("none", "opportunistic") and not allow_plaintext:
        raise reader.fail("upstream", "tls", f"tls = {tls!r} may send mail and credentials"
                          " unencrypted: set allow_plaintext = true to accept that")
    auth = reader.get(table, "upstream", "auth", str, "none")
    if auth not in ("password", "xoauth2", "none"):
        raise reader.fail("upstream", "auth", f"{auth!r}: use password, xoauth2 or none")
    upstream = UpstreamConfig(
        host=reader.get(table, "upstream", "host", str, required=True),
        port=reader.get(table, "upstream", "port", int, 465 if tls == "implicit" else 587),
        tls=tls, username=reader.get(table, "upstream", "username", str), auth=auth,
        password=reader.secret(table, "upstream", "password"),
        cafile=_optional_path(reader.get(table, "upstream", "cafile", str)),
        allow_plaintext=allow_plaintext,
        oauth2=_oauth2(reader, table.get("oauth2")),
        timeout=reader.convert(table, "upstream", "timeout", parse_duration, 60.0),
    )
    _check_upstream_auth(reader, upstream)
    return upstream


def _check_upstream_auth(reader: _Reader, upstream: UpstreamConfig) -> None:
    if not 0 < upstream.port <= 65535:
        raise reader.fail("upstream", "port", f"port {upstream.port} is out of range")
    if upstream.auth != "none" and not upstream.username:
        raise reader.fail("upstream", "auth", f"auth = {upstream.auth!r} needs a username")
    if upstream.auth == "password" and upstream.password is None:
        raise reader.fail("upstream", "auth", "auth = \"password\" needs password ="
                          " \"env:NAME\" or \"file:PATH\"")
    if upstream.auth == "xoauth2" and upstream.oauth2 is None:
        raise reader.fail("upstream", "auth", "auth = \"xoauth2\" needs an [upstream.oauth2] table")


_OAUTH2_KEYS = {"token_url", "client_id", "client_secret", "scope", "refresh_token", "cafile"}


def _oauth2(reader: _Reader, table: object) -> OAuth2Config | None:
    if table is None:
        return None
    name = "upstream.oauth2"
    if not isinstance(table, dict):
        raise reader.fail("upstream", "oauth2", "expected a table")
    reader.only_keys(table, name, _OAUTH2_KEYS)
    token_url = reader.get(table, name, "token_url", str, required=True)
    if not token_url.lower().startswith("https://"):
        raise reader.fail(name, "token_url", "the token endpoint must be https://")
    oauth2 = OAuth2Config(
        token_url=token_url,
        client_id=reader.get(table, name, "client_id", str, required=True),
        client_secret=reader.secret(table, name, "client_secret"),
        scope=reader.get(table, name, "scope", str, ""),
        refresh_token=reader.secret(table, name, "refresh_token"),
        cafile=_optional_path(reader.get(table, name, "cafile", str)),
    )
    if oauth2.client_secret is None and oauth2.refresh_token is None:
        raise reader.fail(name, None, "needs client_secret (client credentials grant) or"
                          " refresh_token (delegated flow)")
    return oauth2


def _delivery(reader: _Reader, table: object) -> DeliveryConfig:
    if not isinstance(table, dict):
        raise reader.fail("delivery", None, "expected a table")
    keys = {"concurrency", "rate_limit", "retry", "max_age", "at_least_once"}
    reader.only_keys(table, "delivery", keys)
    defaults = DeliveryConfig()
    concurrency = reader.get(table, "delivery", "concurrency", int, defaults.concurrency)
    if not 1 <= concurrency <= 100:
        raise reader.fail("delivery", "concurrency", f"{concurrency}: use 1 to 100 connections")
    return DeliveryConfig(
        concurrency=concurrency,
        rate_limit=reader.convert(table, "delivery", "rate_limit", parse_rate, None),
        retry=reader.convert(table, "delivery", "retry", _retry_schedule, defaults.retry),
        max_age=reader.convert(table, "delivery", "max_age", parse_duration, defaults.max_age),
        at_least_once=reader.get(table, "delivery", "at_least_once", bool, True),
    )


def _retry_schedule(value: object) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("a non-empty list of durations, e.g. [\"1m\", \"5m\", \"1h\"]")
    schedule = tuple(parse_duration(item) for item in value)
    if any(seconds <= 0 for seconds in schedule):
        raise ValueError("retry intervals must be positive")
    return schedule


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None
