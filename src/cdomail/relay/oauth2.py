"""OAuth2 access tokens for XOAUTH2 upstreams: obtained, cached, refreshed once for all.

The token endpoint is a plain HTTPS POST (RFC 6749 §4.4 client credentials, or §6
refresh token) made with urllib in a worker thread; no OAuth2 library earns its
place for one form POST. The certificate is verified against the system store
(``SSL_CERT_FILE`` honoured) or ``[upstream.oauth2] cafile``, through
:func:`cdomail.tls.create_ssl_context` like every other connection.

* A token is cached until shortly before it expires; one refresh is in flight at
  a time however many delivery workers ask (an :class:`asyncio.Lock`).
* A rotated refresh token (RFC 6749 §6: "the authorization server MAY issue a new
  refresh token") is saved atomically to its ``file:`` (temporary file, fsync,
  rename, directory fsync) *before* the access token is handed out, so a crash
  right after can never leave the relay holding only a token the server has
  already invalidated.
* The endpoint refusing the relay's own credentials (``invalid_client``,
  ``invalid_grant``, ...; RFC 6749 §5.2) raises :class:`CredentialsRejected`:
  the delivery worker puts the queue on hold, it never bounces mail for it.
  429, 5xx, time-outs and network failures raise :class:`TokenUnavailable`:
  try again later.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from cdomail.errors import CdoMailError, ConfigurationError, printable
from cdomail.relay._secrets import resolve_secret
from cdomail.relay.config import OAuth2Config
from cdomail.tls import TLSSettings, create_ssl_context

__all__ = [
    "AccessToken",
    "CredentialsRejected",
    "OAuth2Error",
    "TokenProvider",
    "TokenUnavailable",
    "save_atomically",
]

#: Refresh this long before the token expires (at most half its lifetime early).
REFRESH_MARGIN = 60.0
#: Seconds for the whole token request.
REQUEST_TIMEOUT = 30.0
#: Lifetime assumed when the endpoint gives no ``expires_in`` (RFC 6749 §5.1: RECOMMENDED).
DEFAULT_LIFETIME = 3600.0
#: Longest response body read from the endpoint.
_MAX_RESPONSE = 1024 * 1024

# RFC 6749 §5.2 error codes that say the relay's own registration or grant is wrong:
# only an administrator can fix them, so the queue waits (held) instead of retrying.
_REJECTING_ERRORS = frozenset({
    "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "invalid_request",
})


class OAuth2Error(CdoMailError):
    """Getting an access token failed."""


class CredentialsRejected(OAuth2Error):
    """The token endpoint (or the upstream) refused the relay's own credentials.

    ``error`` is the RFC 6749 §5.2 code (``invalid_grant``, ...) when there is one.
    Mail is never bounced for this: the queue is held until an administrator acts.
    """

    def __init__(self, message: str, /, *, error: str | None = None) -> None:
        self.error = error
        super().__init__(message)


class TokenUnavailable(OAuth2Error):
    """The token endpoint could not answer now (429, 5xx, time-out, network): retry later.

    ``retry_after`` is the endpoint's ``Retry-After`` in seconds, when it gave one.
    """

    def __init__(self, message: str, /, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when to stop using it (the value never appears in repr)."""

    value: str = field(repr=False)
    expires_at: float
    refresh_at: float


def save_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file, whole.

    Temporary file in the same folder (mode 0600: it is a secret), fsync, rename,
    then fsync the folder so the rename itself is durable.
    """
    folder = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def _retry_after(headers: Message | None) -> float | None:
    value = None if headers is None else headers.get("Retry-After")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare at token endpoints; use our own schedule


def _error_fields(body: bytes) -> tuple[str | None, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    code = data.get("error")
    description = data.get("error_description")
    return (
        code if isinstance(code, str) else None,
        printable(description, newlines=False)[:300] if isinstance(description, str) else "",
    )


class TokenProvider:
    """Hands out a valid access token to every delivery worker; refreshes it once for all.

    ``clock`` is wall-clock time (seconds), injectable for tests.
    """

    def __init__(
        self,
        settings: OAuth2Config,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = REQUEST_TIMEOUT,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        if urllib.parse.urlsplit(settings.token_url).scheme != "https":
            # The client secret or refresh token would cross in plaintext.
            raise ConfigurationError("token_url must be an https:// URL", field="token_url")
        if settings.client_secret is None and settings.refresh_token is None:
            raise ConfigurationError(
                "[upstream.oauth2] needs client_secret (client credentials) or refresh_token",
                field="client_secret",
            )
        self._settings = settings
        self._clock = clock
        self._timeout = timeout
        self._margin = refresh_margin
        self._cached: AccessToken | None = None
        self._lock = asyncio.Lock()
        self._context: ssl.SSLContext | None = None
        #: A rotated refresh token that could not be written back (env: spec): memory only.
        self._rotated_in_memory: str | None = None
        #: Token requests made (successful or not), for tests and ``relay status``.
        self.requests = 0

    def __repr__(self) -> str:
        state = "cached" if self._cached is not None else "empty"
        return f"<TokenProvider {self._settings.token_url} {state}>"

    @property
    def grant_type(self) -> str:
        """``refresh_token`` when a refresh token is configured, else ``client_credentials``."""
        return "refresh_token" if self._settings.refresh_token is not None else "client_credentials"

    @property
    def cached(self) -> AccessToken | None:
        """The token held now, if any (its value is never shown by repr)."""
        return self._cached

    async def token(self) -> str:
        """A token valid for a while yet: the cached one, or a new one (one request for all)."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()  # another worker may have refreshed while we waited
            if fresh is not None:
                return fresh
            token = await asyncio.to_thread(self._fetch)
            self._cached = token
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` (the upstream refused it) so the next call fetches a new token."""
        if self._cached is not None and self._cached.value == value:
            self._cached = None

    def _fresh(self) -> str | None:
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        return None

    # -- the HTTP exchange (runs in a worker thread) ------------------------------------------

    def _form(self) -> dict[str, str]:
        settings = self._settings
        form = {"client_id": settings.client_id}
        if settings.client_secret is not None:
            form["client_secret"] = resolve_secret(settings.client_secret, field="client_secret")
        if settings.refresh_token is not None:
            form["grant_type"] = "refresh_token"
            form["refresh_token"] = self._current_refresh_token(settings.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if settings.scope:
            form["scope"] = settings.scope
        return form

    def _current_refresh_token(self, spec: str) -> str:
        if self._rotated_in_memory is not None:
            return self._rotated_in_memory
        # Read each time: the file is the source of truth (rotations are written to it
        # before use, and an administrator may have replaced it after invalid_grant).
        return resolve_secret(spec, field="refresh_token")

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            cafile = _optional_str(self._settings.cafile)
            self._context = create_ssl_context(TLSSettings(cafile=cafile))
        return self._context

    def _fetch(self) -> AccessToken:
        self.requests += 1
        body = urllib.parse.urlencode(self._form()).encode("ascii")
        request = urllib.request.Request(
            self._settings.token_url, data=body, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"},
        )
        started = self._clock()
        try:
            with urllib.request.urlopen(request, timeout=self._timeout,
                                        context=self._ssl_context()) as response:
                payload = response.read(_MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TokenUnavailable(
                f"token endpoint {self._settings.token_url} unreachable:"
                f" {printable(str(reason), newlines=False)}"
            ) from None
        return self._accept(payload, started)

    def _refusal(self, exc: urllib.error.HTTPError) -> OAuth2Error:
        status = exc.code
        try:
            body = exc.read(_MAX_RESPONSE)
        except OSError:
            body = b""
        finally:
            exc.close()
        code, description = _error_fields(body)
        where = f"token endpoint {self._settings.token_url} answered HTTP {status}"
        detail = f" {code}" if code else ""
        detail += f": {description}" if description else ""
        if status == 429 or status >= 500 or status == 408:
            return TokenUnavailable(f"{where}{detail}; will retry",
                                    retry_after=_retry_after(exc.headers))
        if code in _REJECTING_ERRORS or status in (400, 401, 403):
            return CredentialsRejected(
                f"{where}{detail}: the relay's OAuth2 credentials were refused;"
                " the queue is held until they are fixed", error=code,
            )
        return CredentialsRejected(f"{where}{detail}: check token_url", error=code)

    def _accept(self, payload: bytes, started: float) -> AccessToken:
        try:
            data = json.loads(payload)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise TokenUnavailable(
                f"token endpoint {self._settings.token_url} sent no access_token in its answer"
            )
        token_type = str(data.get("token_type", "Bearer"))
        if token_type.lower() != "bearer":
            raise CredentialsRejected(
                f"token endpoint sent a {printable(token_type, newlines=False)!r} token;"
                " XOAUTH2 needs a Bearer token"
            )
        lifetime = _lifetime(data)
        rotated = data.get("refresh_token")
        if isinstance(rotated, str) and rotated and self._settings.refresh_token is not None:
            self._keep_rotated(self._settings.refresh_token, rotated)
        early = min(self._margin, lifetime / 2)
        return AccessToken(str(data["access_token"]), started + lifetime,
                           started + lifetime - early)

    def _keep_rotated(self, spec: str, rotated: str) -> None:
        kind, _, where = spec.partition(":")
        if kind == "file" and where:
            try:
                save_atomically(Path(where), rotated + "\n")
            except OSError as exc:
                # The endpoint has already spent the old token: without the new one on
                # disk the next start could not log in, so stop here, loudly.
                raise CredentialsRejected(
                    f"could not save the rotated refresh token to {where}: {exc.strerror};"
                    " the queue is held until the file can be written"
                ) from None
            self._rotated_in_memory = None
        else:
            # env: cannot be written back; the new token lives until the relay stops.
            self._rotated_in_memory = rotated


def _lifetime(data: Mapping[str, object]) -> float:
    value = data.get("expires_in")
    try:
        # Some endpoints (Microsoft's v1) send it as a string.
        lifetime = float(value) if isinstance(value, (int, float, str)) else DEFAULT_LIFETIME
    except ValueError:
        lifetime = DEFAULT_LIFETIME
    return lifetime if lifetime > 0 else DEFAULT_LIFETIME


def _optional_str(path: Path | None) -> str | None:
    return None if path is None else str(path)
