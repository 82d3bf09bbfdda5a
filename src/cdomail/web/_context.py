"""What every page of one console shares: its data sources, its guard, its templates."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ..errors import printable
from ..lab import Lab
from ..relay.config import RelayConfig
from ._security import Guard

__all__ = ["ConsoleContext", "visible"]

_TEMPLATES = Path(__file__).parent / "templates"


def visible(value: object, newlines: bool = True) -> str:
    """Sender/server text with control, ANSI and bidi characters shown as escapes.

    The result is still plain text: Jinja's autoescape turns ``<``, ``&`` and quotes into
    entities afterwards, so it can go in element content and in quoted attributes alike.
    """
    return printable("" if value is None else str(value), newlines=newlines)


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["visible"] = visible
    environment.filters["when"] = _when
    return environment


@dataclass
class ConsoleContext:
    """One console: the lab it shows (if any), the relay it manages (if any), its guard."""

    guard: Guard
    lab: Lab | None = None
    relay_config: RelayConfig | None = None
    #: CA files the check-a-server form trusts besides the system store (the lab's CA).
    probe_cafile: str | None = None
    #: Where the check form may really connect: configured port -> address (tests only).
    probe_connect_to: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    environment: Environment = field(default_factory=_environment)

    async def checked_form(self, request: Request) -> FormData | Response:
        """The POSTed form when it carries this visitor's CSRF token, else a 403 response."""
        form = await request.form()
        if not self.guard.csrf_ok(request, form.get("csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return form

    def render(self, request: Request, template: str, status_code: int = 200,
               **values: Any) -> HTMLResponse:
        """A page, with the navigation and this visitor's CSRF token filled in."""
        page = self.environment.get_template(template).render(
            csrf=self.guard.csrf_token(request),
            has_lab=self.lab is not None,
            has_relay=self.relay_config is not None,
            signed_in=self.guard.login_required and self.guard.signed_in(request),
            **values,
        )
        return HTMLResponse(page, status_code=status_code)
