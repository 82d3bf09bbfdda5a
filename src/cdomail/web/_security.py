"""The console's defences: security headers, a session cookie, CSRF tokens, an optional login.

Every page renders text chosen by strangers (mail senders, SMTP servers), so the browser is told
to trust nothing but the console's own files:

- ``Content-Security-Policy`` on every response: scripts, styles and images only from the console
  itself (``'self'``), no plugins, no ``<base>``, forms only to the console, and
  ``frame-ancestors 'none'`` so no other site can frame it (clickjacking). The HTML body of a mail
  gets a stricter policy of its own (see :func:`mail_body_policy`).
- ``X-Content-Type-Options: nosniff`` (attachments are never sniffed into HTML),
  ``Referrer-Policy: same-origin`` (no other site learns the console's URLs; ``no-referrer``
  would also make the browser send ``Origin: null`` with the console's own forms) and
  ``no-referrer`` on mail bodies (a remote image never learns where it is shown),
  ``X-Frame-Options`` for browsers that predate ``frame-ancestors``.

State changes are POST only and carry a CSRF token: an HMAC, under a key made at start-up, of the
visitor's random session cookie (``SameSite=Strict``, ``HttpOnly``). Another site can make the
browser POST, but cannot read the token. A POST whose ``Origin`` is another site is refused too.

A login (when the console listens beyond loopback) marks sessions as signed in on the server side;
the password itself is only compared (``hmac.compare_digest``), never stored in a cookie or shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

__all__ = [
    "CONSOLE_POLICY",
    "SESSION_COOKIE",
    "Guard",
    "SecurityHeaders",
    "SessionGuard",
    "mail_body_policy",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "cdomail_console"

CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

#: Paths reachable without signing in (the login form and the files it needs).
_OPEN_PATHS = ("/login", "/static/")


def mail_body_policy(*, remote_images: bool) -> str:
    """The policy of a mail's HTML body: no script, no remote load; images only when asked.

    ``sandbox`` (without ``allow-scripts``) repeats the iframe's own sandbox, so even a body
    opened directly in a tab runs nothing. Inline styles are allowed (mail relies on them and
    they cannot fetch anything once ``default-src`` is ``'none'``).
    """
    images = "data: http: https:" if remote_images else "data:"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
    )


class SecurityHeaders:
    """ASGI middleware: the headers above on every response (a route may set a stricter CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONSOLE_POLICY)
                headers.setdefault("X-Frame-Options", "DENY")
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cache-Control", "no-store")
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Guard:
    """Sessions, CSRF tokens and (optionally) a password, for one running console."""

    def __init__(self, password: str | None = None) -> None:
        self._key = secrets.token_bytes(32)
        self._password = password
        self._signed_in: set[str] = set()
        self._login_turn = asyncio.Lock()

    @property
    def login_required(self) -> bool:
        return self._password is not None

    def session_of(self, request: Request) -> str | None:
        value = request.cookies.get(SESSION_COOKIE)
        return value if value and len(value) <= 64 else None

    def csrf_token(self, request: Request) -> str:
        """The token a form of this visitor must send back (empty before a session exists)."""
        session = request.scope.get("cdomail.session") or self.session_of(request) or ""
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, token: object) -> bool:
        """Whether a POST carries this visitor's token and, if it says, comes from this site."""
        session = self.session_of(request)
        if not session or not isinstance(token, str):
            return False
        origin = request.headers.get("origin")
        if origin is not None and origin != _own_origin(request):
            return False
        expected = hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, token)

    def signed_in(self, request: Request) -> bool:
        if not self.login_required:
            return True
        session = self.session_of(request)
        return session is not None and session in self._signed_in

    def check_password(self, attempt: str) -> bool:
        if self._password is None:
            return True
        return hmac.compare_digest(attempt.encode(), self._password.encode())

    async def try_password(self, attempt: str, failure_delay: float) -> bool:
        """``check_password``, one attempt at a time, a wrong one answered ``failure_delay``
        seconds later.

        One at a time, for every visitor together: a delay per request alone would not slow
        a guesser who sends many requests at once, and the check cannot come before the wait
        (a right guess would be answered at once, which is all the guesser needs to know). So
        at most one wrong password per ``failure_delay`` is answered, whoever sends them; the
        price is that a visitor behind a flood of wrong guesses waits its turn.
        """
        async with self._login_turn:
            if self.check_password(attempt):
                return True
            await asyncio.sleep(failure_delay)
            return False

    def sign_in(self, request: Request, response: Response) -> None:
        """A fresh session id for the signed-in visitor (the old one may have been planted)."""
        session = secrets.token_urlsafe(32)
        self._signed_in.add(session)
        _set_session_cookie(response, session, secure=request.url.scheme == "https")

    def sign_out(self, request: Request) -> None:
        session = self.session_of(request)
        if session is not None:
            self._signed_in.discard(session)


class SessionGuard:
    """ASGI middleware: give every visitor a session cookie; send strangers to /login."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        new_session = None
        if self.guard.session_of(request) is None:
            new_session = secrets.token_urlsafe(32)
            scope["cdomail.session"] = new_session
        if not self.guard.signed_in(request) and not request.url.path.startswith(_OPEN_PATHS):
            response: Response = (
                RedirectResponse("/login", status_code=303) if request.method == "GET"
                else PlainTextResponse("sign in first", status_code=401))
            if new_session is not None:
                _set_session_cookie(response, new_session, secure=request.url.scheme == "https")
            await response(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_session is not None:
                holder = Response()
                _set_session_cookie(holder, new_session, secure=request.url.scheme == "https")
                MutableHeaders(scope=message).append("set-cookie", holder.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _set_session_cookie(response: Response, session: str, *, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/",
                        secure=secure)


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"
