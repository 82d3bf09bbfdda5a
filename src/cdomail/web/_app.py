"""The console as one ASGI application: :func:`create_app`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..lab import Lab
from ..relay.config import RelayConfig
from ._check import CheckPages
from ._context import ConsoleContext
from ._inbox import InboxPages
from ._relay import RelayPages
from ._security import Guard, SecurityHeaders, SessionGuard

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"
#: Seconds a wrong password waits before its answer; wrong passwords are answered one at a
#: time (Guard.try_password), so this is also the fastest anyone can guess.
FAILED_LOGIN_DELAY = 1.0
#: The Host names a loopback console answers to.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


def _login_routes(context: ConsoleContext) -> list[BaseRoute]:
    async def login_form(request: Request) -> Response:
        return context.render(request, "login.html", failed=False)

    async def login(request: Request) -> Response:
        form = await context.checked_form(request)
        if isinstance(form, Response):
            return form
        if not await context.guard.try_password(str(form.get("password") or ""),
                                                FAILED_LOGIN_DELAY):
            return context.render(request, "login.html", status_code=401, failed=True)
        response = RedirectResponse("/", status_code=303)
        context.guard.sign_in(request, response)
        return response

    async def logout(request: Request) -> Response:
        form = await context.checked_form(request)
        if isinstance(form, Response):
            return form
        context.guard.sign_out(request)
        return RedirectResponse("/login", status_code=303)

    return [Route("/login", login_form), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]


def create_app(
    *,
    lab: Lab | None = None,
    relay_config: RelayConfig | None = None,
    password: str | None = None,
    probe_cafile: str | Path | None = None,
    probe_connect_to: Mapping[int, tuple[str, int]] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The console for ``lab`` (the inbox) and/or ``relay_config`` (the queue).

    The check-a-server page is always there. ``password`` turns on the login (required when the
    console listens beyond loopback). ``probe_cafile`` is trusted by the check form besides the
    system store (the lab's CA, so its certificates verify); ``probe_connect_to`` maps a typed
    port to the address really contacted (tests; the report still names the typed port).

    ``allowed_hosts`` are the names the browser may use in ``Host``. Without a password the
    default is loopback names only: a web page that re-points its own DNS name at 127.0.0.1
    (DNS rebinding) would otherwise be same-origin with the console and could read the inbox.
    With a password any name is accepted (the session cookie does not follow a rebound name).
    """
    if password is not None and not password:
        raise ValueError("the console password must not be empty")
    context = ConsoleContext(
        guard=Guard(password), lab=lab, relay_config=relay_config,
        probe_cafile=None if probe_cafile is None else str(probe_cafile),
        probe_connect_to=dict(probe_connect_to or {}),
    )
    home = "/inbox" if lab is not None else ("/relay" if relay_config is not None else "/check")

    async def index(request: Request) -> Response:
        return RedirectResponse(home, status_code=303)

    routes: list[BaseRoute] = [Route("/", index), *_login_routes(context)]
    if lab is not None:
        routes += InboxPages(context, lab).routes()
    if relay_config is not None:
        routes += RelayPages(context, relay_config).routes()
    routes += CheckPages(context).routes()
    routes.append(Mount("/static", app=StaticFiles(directory=_STATIC), name="static"))
    if allowed_hosts is None:
        allowed_hosts = ["*"] if password is not None else list(LOOPBACK_NAMES)
    app = Starlette(routes=routes, middleware=[
        # Outermost first: the headers go on every response, the guard's redirects included.
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
        Middleware(SessionGuard, guard=context.guard),
    ])
    app.state.context = context
    return app
