"""A local OAuth2 token endpoint for tests: HTTPS on loopback with the lab's certificate.

It implements the two grants the relay uses (RFC 6749 §4.4 client credentials and
§6 refresh token) with short lifetimes, refresh-token rotation, and injected
failures, and it validates the tokens it issued, so a lab listener can check
XOAUTH2 logins against it::

    with Lab(certs_dir=d) as lab, TokenEndpoint(LabCertificates.load_or_create(d)) as idp:
        idp.add_client("relay", "s3cret")
        lab_with_xoauth2 = Lab(auth_mechanisms={"XOAUTH2": xoauth2(idp.validate)}, ...)

Failure injection: :meth:`fail_next` answers the next requests with an HTTP
status and RFC 6749 §5.2 ``error`` (``invalid_grant``, ``invalid_client``, 429,
503, ...); :attr:`delay` makes every answer slow. :attr:`requests` counts token
requests (each one, answered or not).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cdomail.lab import LabCertificates

__all__ = ["Failure", "TokenEndpoint"]


#: (HTTP status, JSON body, extra headers)
_Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass(frozen=True)
class Failure:
    """One injected refusal: HTTP ``status`` with an optional OAuth2 ``error`` code."""

    status: int
    error: str | None = None
    retry_after: int | None = None


@dataclass
class _Issued:
    user: str | None
    expires_at: float


class TokenEndpoint:
    """An OAuth2 token endpoint on ``https://127.0.0.1:<port>/token`` (thread-served)."""

    def __init__(
        self,
        certs: LabCertificates,
        *,
        lifetime: float = 3600.0,
        rotate_refresh_tokens: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.lifetime = lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        #: Seconds to wait before answering each request (a slow identity provider).
        self.delay = 0.0
        #: Token requests received so far.
        self.requests = 0
        #: The form fields of each request, secrets included (tests only; never printed).
        self.forms: list[dict[str, str]] = []
        self._certs = certs
        self._host = host
        self._clients: dict[str, str] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self._issued: dict[str, _Issued] = {}
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ----------------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str | None = None) -> None:
        """Register a client; with a ``secret`` it may use the client-credentials grant."""
        with self._lock:
            self._clients[client_id] = secret or ""

    def issue_refresh_token(self, client_id: str) -> str:
        """A new refresh token for ``client_id`` (as a consent flow would hand out)."""
        token = "rt-" + secrets.token_urlsafe(16)
        with self._lock:
            self._refresh_tokens[token] = client_id
        return token

    def fail_next(self, status: int, error: str | None = None, *, count: int = 1,
                  retry_after: int | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and ``error``)."""
        with self._lock:
            self._failures.extend([Failure(status, error, retry_after)] * count)

    def revoke_all(self) -> None:
        """Invalidate every access and refresh token issued so far."""
        with self._lock:
            self._issued.clear()
            self._refresh_tokens.clear()

    def validate(self, user: str, token: str) -> bool:
        """Whether ``token`` is an unexpired access token this endpoint issued."""
        with self._lock:
            issued = self._issued.get(token)
        return issued is not None and time.time() < issued.expires_at

    @property
    def valid_refresh_tokens(self) -> list[str]:
        """The refresh tokens that would be accepted now."""
        with self._lock:
            return list(self._refresh_tokens)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The token URL (``https://127.0.0.1:PORT/token``)."""
        if self._server is None:
            raise RuntimeError("start the token endpoint first")
        return f"https://{self._host}:{self._server.server_address[1]}/token"

    def start(self) -> TokenEndpoint:
        """Listen on a free loopback port and serve in a background thread."""
        server = ThreadingHTTPServer((self._host, 0), _handler_for(self))
        server.daemon_threads = True
        context = self._certs.server_context()
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="token-endpoint",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> TokenEndpoint:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the grant logic (called from the handler threads) ------------------------------

    def answer(self, form: dict[str, str]) -> _Answer:
        """``(status, json body, headers)`` for one token request."""
        with self._lock:
            self.requests += 1
            self.forms.append(dict(form))
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            headers = ({} if failure.retry_after is None
                       else {"Retry-After": str(failure.retry_after)})
            body = {"error": failure.error} if failure.error else {}
            return failure.status, body, headers
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return self._client_credentials(form)
        if grant == "refresh_token":
            return self._refresh(form)
        return 400, {"error": "unsupported_grant_type"}, {}

    def _client_credentials(self, form: dict[str, str]) -> _Answer:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        with self._lock:
            known = self._clients.get(client_id)
        if not known or not secrets.compare_digest(known, secret):
            return 401, {"error": "invalid_client", "error_description": "bad client"}, {}
        return 200, self._issue(client_id, refresh=False), {}

    def _refresh(self, form: dict[str, str]) -> _Answer:
        token = form.get("refresh_token", "")
        with self._lock:
            owner = self._refresh_tokens.get(token)
            if owner is not None and owner == form.get("client_id") and self.rotate_refresh_tokens:
                del self._refresh_tokens[token]  # rotation: the old one is spent
        if owner is None or owner != form.get("client_id"):
            return 400, {"error": "invalid_grant", "error_description": "refresh token"
                         " expired or revoked"}, {}
        return 200, self._issue(owner, refresh=self.rotate_refresh_tokens), {}

    def _issue(self, client_id: str, *, refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        with self._lock:
            self._issued[access] = _Issued(client_id, time.time() + self.lifetime)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                "expires_in": self.lifetime}
        if refresh:
            body["refresh_token"] = self.issue_refresh_token(client_id)
        return body


def _handler_for(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("ascii", "replace")
            form = dict(urllib.parse.parse_qsl(raw))
            if endpoint.delay:
                time.sleep(endpoint.delay)
            status, body, headers = endpoint.answer(form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")  # RFC 6749 §5.1
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet (and secrets out of it)

    return Handler
