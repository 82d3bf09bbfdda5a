"""CDO.Configuration: the ``Fields`` that decide how ``Message.Send`` talks to the server.

Only *committed* values count (``Fields.Update``). :func:`read_settings` turns them into a typed
:class:`TransportSettings` with the coercions of :mod:`cdomail._cdo_rules` (the same ones ``cdomail
explain`` uses), and :func:`client_options` turns those into keyword arguments for
:class:`cdomail.SMTPClient` -- the single place where CDO's encryption rule
(:mod:`cdomail._cdo_rules`) meets the core's TLS modes: ``smtpusessl=False`` is ``tls="none"``;
``smtpusessl=True`` is ``tls="cdo"`` (configured port 25 -> STARTTLS required, any other port ->
implicit TLS). Our own namespace ``urn:cdomail:configuration:`` adds settings CDO lacks without
changing what CDO fields mean.
"""

from __future__ import annotations

import difflib
import functools
import socket
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

from cdomail._backends._hostname import default_local_hostname
from cdomail._cdo_rules import (
    CDO_DEFAULT_PORT,
    CDO_DEFAULT_TIMEOUT,
    Encryption,
    cdo_encryption,
    coerce_bool,
    is_unset,
    read_authenticate,
    read_port,
    read_send_using,
    read_timeout,
    read_use_ssl,
)
from cdomail.cdo import constants as c
from cdomail.cdo import fields as _fields
from cdomail.cdo._members import CaseInsensitiveMembers, caller_stacklevel
from cdomail.cdo._secret import Secret
from cdomail.cdo.errors import CdoCompatibilityWarning
from cdomail.cdo.fields import Field, Fields
from cdomail.errors import ConfigurationError

__all__ = [
    "ENCRYPTION_RULE",
    "Configuration",
    "TransportSettings",
    "client_options",
    "field_warning",
    "local_fqdn",
    "read_settings",
]

#: What actually controls encryption in CDO, in plain words (used by warnings and explain).
ENCRYPTION_RULE = (
    "CDO has one encryption switch, smtpusessl: with smtpusessl=True, configured port 25 uses "
    "STARTTLS and any other port uses implicit TLS (SMTPS); with smtpusessl=False nothing is "
    "encrypted, whatever the server offers"
)

#: The core's TLS modes that ``urn:cdomail:configuration:tlsmode`` accepts.
TLS_MODES = frozenset({"implicit", "starttls", "opportunistic", "none", "cdo", "auto"})

_HTTPS_NAMESPACE = "https://schemas.microsoft.com/"
_DEFAULTS: dict[str, Any] = {
    c.cdoSMTPServerPort: CDO_DEFAULT_PORT,
    c.cdoSMTPConnectionTimeout: CDO_DEFAULT_TIMEOUT,
    c.cdoSMTPUseSSL: False,
    c.cdoSMTPAuthenticate: c.cdoAnonymous,
}


def field_warning(name: str) -> str | None:
    """Say in plain words why setting configuration field *name* does nothing, or ``None``.

    Covers the phantom fields (``sendtls`` & co.), the ``https://`` namespace typo, misspelled
    CDO names and unknown names in cdomail's namespace.
    """
    lower = name.lower()
    if lower.startswith(_HTTPS_NAMESPACE):
        fixed = "http://" + name[len("https://") :]
        return (
            f"{name!r} is not a CDO field: CDO's namespace starts with http://, not https:// "
            f"(the online docs show https). CDO stores it and ignores it, so this setting does "
            f"nothing. Use {fixed!r}."
        )
    leaf = lower.rsplit("/", 1)[-1] if "/" in lower else lower
    in_cdo_namespace = lower.startswith(c.CDO_CONFIGURATION_NAMESPACE) or "/" not in lower
    if in_cdo_namespace and leaf in c.PHANTOM_CONFIGURATION_FIELDS:
        return (
            f"{name!r} does not exist in CDO (cdosys.dll has never contained it); CDO accepts "
            f"it and it does nothing, so it does not turn on STARTTLS. {ENCRYPTION_RULE}."
        )
    if lower.startswith(c.CDO_CONFIGURATION_NAMESPACE):
        if leaf in c.KNOWN_CONFIGURATION_FIELDS:
            return None
        close = difflib.get_close_matches(leaf, sorted(c.KNOWN_CONFIGURATION_FIELDS), n=1)
        hint = f" Did you mean {c.CDO_CONFIGURATION_NAMESPACE + close[0]!r}?" if close else ""
        return f"{name!r} is not a CDO configuration field; it is stored and does nothing.{hint}"
    if lower.startswith(c.CDOMAIL_CONFIGURATION_NAMESPACE):
        leaf = lower[len(c.CDOMAIL_CONFIGURATION_NAMESPACE) :]
        if leaf not in c.KNOWN_CDOMAIL_FIELDS:
            known = ", ".join(sorted(c.KNOWN_CDOMAIL_FIELDS))
            return f"{name!r} is not a cdomail setting (known: {known}); it does nothing."
    return None


def _warn_about_field(name: str, _value: Any) -> None:
    message = field_warning(name)
    if message is not None:
        warnings.warn(message, CdoCompatibilityWarning, stacklevel=caller_stacklevel())


class Configuration(CaseInsensitiveMembers):
    """CDO.Configuration: a :class:`Fields` collection holding the transport settings.

    Fresh objects hold CDO's defaults: port 25, 30 s timeout, ``smtpusessl`` False, anonymous.
    ``sendpassword`` is write-only (reads back empty), as in CDO.
    """

    Fields: _fields.Fields

    def __init__(self) -> None:
        self.Fields = Fields(
            validator=_warn_about_field,
            write_only=frozenset({c.cdoSendPassword, c.cdoPostPassword}),
            defaults=dict(_DEFAULTS),
        )

    @property
    def fields(self) -> _fields.Fields:
        """snake_case alias of :attr:`Fields`."""
        return self.Fields

    # VBA's default member chain: ``cfg(name)`` is ``cfg.Fields(name)``, that is
    # ``cfg.Fields.Item(name)``, whose default member is ``Value``. Python cannot assign to a
    # call, so ``cfg(cdoSendUsingMethod) = 2`` ports as ``cfg[cdoSendUsingMethod] = 2``.
    def __call__(self, name: str) -> Field:
        """``cfg(name)``: the field (compares, prints and converts as its value)."""
        return self.Fields.Item(name)

    def __getitem__(self, name: str) -> Field:
        return self.Fields.Item(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.Fields[name] = value

    def __contains__(self, name: object) -> bool:
        return name in self.Fields

    def Load(self, load_from: int = -1, url: str = "") -> None:
        """Reset to CDO's defaults (``cdoDefaults``); other sources do not exist off Windows."""
        if load_from != -1 or url:
            raise ConfigurationError(
                "Configuration.Load supports only cdoDefaults (-1): there is no IIS or "
                "Outlook Express configuration to load from here",
                field="Load",
            )
        self.__init__()  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Configuration({self.Fields!r})"


@dataclass(frozen=True)
class TransportSettings:
    """The committed configuration, typed. ``None`` means "not set"."""

    send_using: int | None
    server: str | None
    port: int
    use_ssl: bool
    authenticate: int
    username: str | None
    #: Held as a Secret: the settings' repr (and any traceback printing it) shows ``***``.
    password: Secret | None
    timeout: float
    pickup_directory: str | None
    flush_buffers_on_write: bool
    send_email_address: str | None
    reply_email_address: str | None
    tls_mode: str | None = None
    cafile: str | None = None
    fingerprint: str | None = None
    verify: bool = True
    connect_to: tuple[str, int] | None = None

    @property
    def effective_tls_mode(self) -> str:
        """The core TLS mode a send uses: our ``tlsmode`` override, else CDO's rule."""
        if self.tls_mode is not None:
            return self.tls_mode
        return "cdo" if self.use_ssl else "none"

    @property
    def cdo_encryption(self) -> Encryption:
        """``"none"``, ``"starttls"`` or ``"implicit"``: what this send does (``tlsmode`` aside)."""
        return cdo_encryption(self.use_ssl, self.port)


def _coerce_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _coerce_secret(value: Any) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(str(value))


def _parse_connect_to(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"{c.cdomailConnectTo} must be host:port (e.g. 127.0.0.1:2525), not {value!r}",
            field="connectto",
        )
    return host, int(port)


#: The settings last read from each configuration, and the commit they were read at.
_SETTINGS: weakref.WeakKeyDictionary[Fields, tuple[int, TransportSettings]]
_SETTINGS = weakref.WeakKeyDictionary()
#: Values that cannot change without a commit: settings read from them can be kept.
_IMMUTABLE = (str, int, float, Secret, type(None))


def read_settings(fields: Fields) -> TransportSettings:
    """Read the *committed* values of a configuration's fields into :class:`TransportSettings`.

    A script sends many messages with one configuration: the settings are read again only
    after a commit changed the fields (or when a value is an object that could change alone).

    Raises:
        ConfigurationError: a value cannot be what its field needs (e.g. a port of ``"abc"``).
    """
    commit = fields.commit_count
    cached = _SETTINGS.get(fields)
    if cached is not None and cached[0] == commit:
        return cached[1]
    settings = _read_settings(fields)
    if all(isinstance(value, _IMMUTABLE) for value in fields.committed_by_key().values()):
        _SETTINGS[fields] = (commit, settings)
    return settings


def _read_settings(fields: Fields) -> TransportSettings:
    def get(name: str) -> Any:
        return fields.committed(name)

    send_using = read_send_using(get(c.cdoSendUsingMethod))
    port = read_port(get(c.cdoSMTPServerPort))
    timeout = read_timeout(get(c.cdoSMTPConnectionTimeout))
    tls_mode = _coerce_text(get(c.cdomailTLSMode))
    if tls_mode is not None:
        tls_mode = tls_mode.strip().lower()
        if tls_mode not in TLS_MODES:
            raise ConfigurationError(
                f"{c.cdomailTLSMode} must be one of {', '.join(sorted(TLS_MODES))}, "
                f"not {tls_mode!r}",
                field="tlsmode",
            )
    connect_to_raw = _coerce_text(get(c.cdomailConnectTo))
    verify_raw = get(c.cdomailVerify)
    return TransportSettings(
        send_using=send_using,
        server=_coerce_text(get(c.cdoSMTPServer)),
        port=port,
        use_ssl=read_use_ssl(get(c.cdoSMTPUseSSL)),
        authenticate=read_authenticate(get(c.cdoSMTPAuthenticate)),
        username=_coerce_text(get(c.cdoSendUserName)),
        password=_coerce_secret(get(c.cdoSendPassword)),
        timeout=float(timeout),
        pickup_directory=_coerce_text(get(c.cdoSMTPServerPickupDirectory)),
        flush_buffers_on_write=not is_unset(get(c.cdoFlushBuffersOnWrite))
        and coerce_bool("flushbuffersonwrite", get(c.cdoFlushBuffersOnWrite)),
        send_email_address=_coerce_text(get(c.cdoSendEmailAddress)),
        reply_email_address=_coerce_text(get(c.cdoSendUserReplyEmailAddress)),
        tls_mode=tls_mode,
        cafile=_coerce_text(get(c.cdomailCAFile)),
        fingerprint=_coerce_text(get(c.cdomailFingerprint)),
        verify=True if is_unset(verify_raw) else coerce_bool("verify", verify_raw),
        connect_to=None if connect_to_raw is None else _parse_connect_to(connect_to_raw),
    )


# The host name is looked up once per process, not once per Send (getfqdn may wait on DNS);
# the EHLO name is the core client's own cached default_local_hostname().
@functools.cache
def local_fqdn() -> str:
    """This machine's fully qualified name, for Message-IDs (``localhost`` when unknown)."""
    return socket.getfqdn() or "localhost"


def client_options(settings: TransportSettings) -> dict[str, Any]:
    """Keyword arguments for :class:`cdomail.SMTPClient` that make it behave as CDO would.

    Authentication is not included (it needs the server's answer to EHLO for NTLM); see
    :func:`cdomail.cdo.transport.auth_options`.
    """
    if settings.server is None:
        raise ConfigurationError("smtpserver is not set", field="smtpserver")
    options: dict[str, Any] = {
        "host": settings.server,
        "port": settings.port,
        "tls": settings.effective_tls_mode,
        "connect_timeout": settings.timeout,
        # CDO applies its one timeout to every socket operation, not RFC 5321's long per-command
        # values; a hung server therefore fails after smtpconnectiontimeout seconds.
        "command_timeout": settings.timeout,
        "verify": settings.verify,
        # CDO predates CHUNKING (RFC 3030) and always sends the content with DATA.
        "chunking": False,
        "local_hostname": default_local_hostname(),
    }
    if settings.cafile is not None:
        options["cafile"] = settings.cafile
    if settings.fingerprint is not None:
        options["fingerprint"] = settings.fingerprint
    if settings.connect_to is not None:
        options["connect_to"] = settings.connect_to
    return options
