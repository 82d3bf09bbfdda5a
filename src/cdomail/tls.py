"""TLS policy: the modes, the one place that builds SSLContexts, and plain-words diagnoses.

Modes (RFC 8314 prefers implicit TLS for submission; RFC 3207 defines STARTTLS):

- ``implicit``: TLS from the first byte (port 465, "SMTPS").
- ``starttls``: plaintext greeting, then STARTTLS is *required*; without it nothing is sent.
- ``opportunistic``: STARTTLS when offered, else plaintext (then no AUTH unless allowed).
- ``none``: never encrypt.
- ``cdo``: CDO's rule for ``smtpusessl=True``: configured port 25 -> STARTTLS required,
  any other port -> implicit TLS.
- ``auto`` (default): port 465 -> implicit, any other port -> STARTTLS required. Never plaintext.
"""

from __future__ import annotations

import enum
import hashlib
import os
import ssl
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from ._cdo_rules import CDO_DEFAULT_PORT, cdo_tls_for_port
from .errors import (
    CertificateVerifyFailed,
    ConfigurationError,
    FingerprintMismatch,
    HandshakeDisconnected,
    TLSHandshakeError,
)

SUBMISSIONS_PORT = 465
SMTP_PORT = 25
SUBMISSION_PORT = 587


class TLSMode(enum.Enum):
    """How a client uses TLS; ``TLSMode("starttls")`` accepts the names as strings."""

    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    OPPORTUNISTIC = "opportunistic"
    NONE = "none"
    CDO = "cdo"
    AUTO = "auto"

    @classmethod
    def parse(cls, value: TLSMode | str) -> TLSMode:
        """Accept a mode or its name (case-insensitive); a clear error for anything else."""
        if isinstance(value, TLSMode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ConfigurationError(
                f"unknown TLS mode {value!r}: use one of {names}", field="tls"
            ) from None

    def resolve(self, port: int) -> TLSMode:
        """The concrete mode for a configured port: CDO and AUTO become IMPLICIT or STARTTLS."""
        if self is TLSMode.CDO:
            return TLSMode(cdo_tls_for_port(port))
        if self is TLSMode.AUTO:
            return TLSMode.IMPLICIT if port == SUBMISSIONS_PORT else TLSMode.STARTTLS
        return self

    @property
    def requires_tls(self) -> bool:
        """Whether nothing may be sent without TLS in this mode."""
        return self not in (TLSMode.OPPORTUNISTIC, TLSMode.NONE)


def default_port(mode: TLSMode) -> int:
    """The port used when none is given: 465 for implicit TLS (RFC 8314), CDO's own default
    (25, then STARTTLS) for ``cdo``, else 587 (RFC 6409)."""
    if mode is TLSMode.CDO:
        return CDO_DEFAULT_PORT
    return SUBMISSIONS_PORT if mode is TLSMode.IMPLICIT else SUBMISSION_PORT


_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True)
class TLSSettings:
    """Everything that decides how a certificate is checked and which TLS is acceptable."""

    verify: bool = True
    cafile: str | None = None
    fingerprint: str | None = None
    minimum_version: str = "1.2"
    client_cert: str | None = None
    client_key: str | None = None

    def __post_init__(self) -> None:
        if self.minimum_version not in _TLS_VERSIONS:
            raise ConfigurationError(
                f"minimum TLS version must be one of {', '.join(_TLS_VERSIONS)}",
                field="minimum_tls_version",
            )
        if self.fingerprint is not None:
            normalise_fingerprint(self.fingerprint)
        if self.client_key and not self.client_cert:
            raise ConfigurationError("client_key given without client_cert", field="client_key")

    @property
    def pinned(self) -> bool:
        """Trust comes from a SHA-256 pin rather than from a CA (as msmtp's tls_fingerprint)."""
        return self.fingerprint is not None


def normalise_fingerprint(value: str) -> str:
    """``AA:BB:…`` upper-case hex of a SHA-256 fingerprint given in any common spelling."""
    text = value.strip().lower()
    if text.startswith("sha256:"):
        text = text[7:]
    hexdigits = text.replace(":", "").replace(" ", "")
    if len(hexdigits) != 64 or any(c not in "0123456789abcdef" for c in hexdigits):
        raise ConfigurationError(
            "fingerprint must be a SHA-256 digest: 64 hex digits, colons allowed",
            field="fingerprint",
        )
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2)).upper()


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, ``AA:BB:…``."""
    return normalise_fingerprint(hashlib.sha256(der).hexdigest())


def create_ssl_context(settings: TLSSettings) -> ssl.SSLContext:
    """The only SSLContext factory in cdomail.

    Verification uses the system trust store (``ssl.create_default_context``
    honours SSL_CERT_FILE / SSL_CERT_DIR) plus ``cafile``. With a fingerprint
    pin the chain is not checked against a CA; the pin is checked after the
    handshake instead (see :func:`check_pin`).
    """
    try:
        context = ssl.create_default_context(cafile=settings.cafile)
    except (OSError, ssl.SSLError) as exc:
        raise _unusable_file("CA file", settings.cafile, exc, "cafile") from None
    context.minimum_version = _TLS_VERSIONS[settings.minimum_version]
    if not settings.verify or settings.pinned:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.client_cert:
        try:
            context.load_cert_chain(settings.client_cert, settings.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise _unusable_file("client certificate or key", settings.client_cert, exc,
                                 "client_cert") from None
    return context


#: Identity of a file as far as a context is concerned: a replaced or edited file differs.
_FileStamp = tuple[str, int, int, int, int] | tuple[str, None]
_CacheKey = tuple[TLSSettings, tuple[_FileStamp, ...]]
_CONTEXTS: OrderedDict[_CacheKey, ssl.SSLContext] = OrderedDict()
_CONTEXTS_LOCK = threading.Lock()
_CONTEXTS_MAX = 32
#: OpenSSL's compiled-in trust store locations and the variables that override them.
_OPENSSL_PATHS = ssl.get_default_verify_paths()


def _stamp(path: str | None) -> _FileStamp:
    if not path:
        return ("", None)
    try:
        info = os.stat(path)
    except OSError:
        return (path, None)  # create_ssl_context then says what is wrong with it
    return (path, info.st_ino, info.st_size, info.st_mtime_ns, info.st_dev)


def _cache_key(settings: TLSSettings) -> _CacheKey:
    """The settings, and the files they load as they are now (changed files: a new key).

    The system trust store counts too: ``create_default_context`` loads the file and
    directory named by SSL_CERT_FILE / SSL_CERT_DIR, or OpenSSL's defaults.
    """
    environ = os.environ
    files = (
        settings.cafile, settings.client_cert, settings.client_key,
        environ.get(_OPENSSL_PATHS.openssl_cafile_env) or _OPENSSL_PATHS.openssl_cafile,
        environ.get(_OPENSSL_PATHS.openssl_capath_env) or _OPENSSL_PATHS.openssl_capath,
    )  # fmt: skip
    return settings, tuple(_stamp(path) for path in files)


def shared_ssl_context(settings: TLSSettings) -> ssl.SSLContext:
    """A context for ``settings``, built once and shared while its files stay the same.

    Building a verifying context loads the whole trust store (about 22 ms of CPU with the
    system bundle, issue 13); a one-shot send paid that on every connection. A context is
    shared only between identical settings (verification, pin, minimum version, client
    certificate, CA file) and only while every file it loaded is unchanged (path, inode,
    size, modification time). ``SSLContext`` is safe to share between threads and
    connections; cdomail never changes one after it is built.
    """
    key = _cache_key(settings)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is not None:
            _CONTEXTS.move_to_end(key)
            return context
        # Built under the lock: threads starting together wait for one build, not N.
        context = create_ssl_context(settings)
        _CONTEXTS[key] = context
        if len(_CONTEXTS) > _CONTEXTS_MAX:
            _CONTEXTS.popitem(last=False)
        return context


def clear_ssl_context_cache() -> None:
    """Forget every shared context and every TLS session kept for resumption."""
    with _CONTEXTS_LOCK:
        _CONTEXTS.clear()
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


# TLS session resumption (RFC 8446 §2.2 tickets; RFC 5077 for TLS 1.2). A resumed handshake
# skips the certificate exchange and the server's signature: on a one-shot send that is most
# of the handshake's cost. A session is offered again only through the context that made it
# (the shared cache keeps one context per TLSSettings and unchanged trust files, so the same
# verification settings; OpenSSL itself refuses a session from another context), to the same
# server name (the name the certificate was verified for) and the same address and port. A
# resumed session thus carries the verification of the full handshake that created it, and
# the server proves it holds that session's secret; the certificate stays available for a
# fingerprint pin (``getpeercert`` returns the session's certificate).
_SessionKey = tuple[str | None, str, int]
_SESSIONS: weakref.WeakKeyDictionary[ssl.SSLContext, OrderedDict[_SessionKey, ssl.SSLSession]]
_SESSIONS = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()
#: Servers remembered per context; the least recently stored is dropped first.
_SESSIONS_PER_CONTEXT = 64


def take_session(
    context: ssl.SSLContext, server_hostname: str | None, address: tuple[str, int]
) -> ssl.SSLSession | None:
    """The session to resume with ``context`` for this server name and address, or ``None``.

    The session is taken out, not copied: RFC 8446 §C.4 says a client SHOULD NOT use a ticket
    twice (two connections could be linked by it). The connection that resumes it keeps the
    fresh one the server sends (:func:`keep_session`); connections running at once to the same
    server therefore resume at most one of them and the others do a full handshake.
    """
    key = (server_hostname, address[0], address[1])
    with _SESSIONS_LOCK:
        sessions = _SESSIONS.get(context)
        session = sessions.pop(key, None) if sessions is not None else None
    if session is None or session.time + session.timeout <= time.time():
        return None  # expired by its own lifetime (RFC 8446 §4.6.1 ticket_lifetime)
    return session


def keep_session(
    context: ssl.SSLContext,
    server_hostname: str | None,
    address: tuple[str, int],
    session: ssl.SSLSession | None,
) -> None:
    """Remember a connection's session for the next connection to the same server."""
    # Without a ticket (TLS 1.3 before the server sent one) there is nothing to resume.
    if session is None or not session.has_ticket:
        return
    key = (server_hostname, address[0], address[1])
    with _SESSIONS_LOCK:
        sessions = _SESSIONS.setdefault(context, OrderedDict())
        sessions.pop(key, None)
        sessions[key] = session
        if len(sessions) > _SESSIONS_PER_CONTEXT:
            sessions.popitem(last=False)


def _unusable_file(what: str, path: str | None, exc: OSError, field: str) -> ConfigurationError:
    """A missing, unreadable or non-PEM TLS file, said in words (never a raw ssl traceback)."""
    if isinstance(exc, ssl.SSLError):
        reason = f"not a usable PEM file ({exc.reason or exc})"
    else:
        reason = exc.strerror or str(exc)
    return ConfigurationError(f"cannot load the {what} {path}: {reason}", field=field)


def check_pin(settings: TLSSettings, der: bytes | None) -> None:
    """Raise :class:`FingerprintMismatch` when a pinned fingerprint does not match."""
    if settings.fingerprint is None:
        return
    expected = normalise_fingerprint(settings.fingerprint)
    actual = certificate_fingerprint(der) if der else "(no certificate)"
    if actual != expected:
        raise FingerprintMismatch(
            f"server certificate fingerprint {actual} does not match the pinned {expected}"
        )


@dataclass(frozen=True)
class TLSInfo:
    """What TLS protected a connection: the facts a SendResult and a probe report show."""

    #: "implicit" or "starttls": how TLS was started.
    mode: str
    version: str
    cipher: str
    #: Whether the certificate was verified (CA + host name, or a matching pin). The client
    #: reports ``False`` with ``verified_by="none"`` when told not to verify; the probe, which
    #: keeps going after a failed check to report it, uses ``None`` for "not checked".
    verified: bool | None
    #: SHA-256 fingerprint of the server certificate.
    fingerprint: str | None = None
    #: "ca", "fingerprint" or "none".
    verified_by: str = "ca"
    #: Short reason when verification failed: expired, not-yet-valid, unknown-ca,
    #: self-signed, name-mismatch or other (set by the probe).
    verify_error: str | None = None
    #: OpenSSL's words for the failure (set by the probe).
    verify_message: str | None = None
    #: The handshake resumed an earlier session with the same server (no certificate was
    #: sent again; it was verified when that session was made, with the same settings).
    resumed: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "mode": self.mode,
            "version": self.version,
            "cipher": self.cipher,
            "verified": self.verified,
            "verified_by": self.verified_by,
            "fingerprint": self.fingerprint,
        }


def tls_info(
    sslobj: ssl.SSLObject | ssl.SSLSocket, mode: TLSMode, settings: TLSSettings
) -> TLSInfo:
    """Collect the facts of an established TLS session."""
    der = sslobj.getpeercert(binary_form=True)
    cipher = sslobj.cipher()
    verified_by = "fingerprint" if settings.pinned else ("ca" if settings.verify else "none")
    return TLSInfo(
        mode=mode.value,
        version=sslobj.version() or "",
        cipher=cipher[0] if cipher else "",
        verified=verified_by != "none",
        fingerprint=certificate_fingerprint(der) if der else None,
        verified_by=verified_by,
        resumed=bool(sslobj.session_reused),
    )


_PLAINTEXT_SIGNS = (
    "WRONG_VERSION_NUMBER",
    "wrong version number",
    "record layer failure",
    "packet length too long",
    "http request",
    "unknown protocol",
    "first record does not look like",
    "RECORD_LAYER_FAILURE",
)


def diagnose_handshake(
    exc: BaseException, *, host: str, port: int, mode: TLSMode
) -> TLSHandshakeError:
    """Turn an ``ssl`` failure into an error that says what probably happened, in words."""
    detail = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or detail
        hint = {
            "certificate has expired": "the server's certificate has expired",
            "self-signed certificate": "the server's certificate is self-signed",
            "self signed certificate": "the server's certificate is self-signed",
            "unable to get local issuer certificate": (
                "the certificate was issued by a CA this machine does not trust"
                " (pass cafile=..., or pin it with fingerprint=...)"
            ),
        }.get(reason.split(" in certificate chain")[0], "")
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            hint = f"the certificate is not valid for the name {host!r}"
        text = f"certificate verification failed for {host}:{port}: {reason}"
        return CertificateVerifyFailed(f"{text}; {hint}" if hint else text)
    if mode is TLSMode.IMPLICIT and any(sign in detail for sign in _PLAINTEXT_SIGNS):
        advice = (
            f"port {port} usually wants starttls, not implicit"
            if port in (SMTP_PORT, SUBMISSION_PORT, 2525)
            # Not a mail port: it may not run SMTP at all, so no port advice, only a condition.
            else "if an SMTP server listens here, it wants tls='starttls', not implicit"
        )
        return TLSHandshakeError(
            f"TLS handshake with {host}:{port} failed: the server spoke plaintext, not TLS;"
            f" {advice} ({detail})"
        )
    if isinstance(exc, ssl.SSLEOFError | ConnectionResetError | EOFError):
        return HandshakeDisconnected(
            f"the server at {host}:{port} closed the connection during the TLS handshake:"
            " it may not speak TLS on this port, or refuses our TLS version or ciphers"
            f" ({detail or type(exc).__name__})"
        )
    return TLSHandshakeError(f"TLS handshake with {host}:{port} failed: {detail}")
