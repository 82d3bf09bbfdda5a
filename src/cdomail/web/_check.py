"""Page 3, check a server: run :func:`cdomail.probe.probe` on what the user typed, and run
``explain`` on a pasted CDO snippet.

The probe form is a small port scanner pointed wherever the visitor says, so it is bounded:
at most :data:`MAX_PORTS` ports, each step at most :data:`MAX_TIMEOUT` seconds and the whole run
at most :data:`OVERALL_LIMIT`; it contacts only the typed host (the probe follows nothing: no
MX lookup, no redirect), sends only greeting/EHLO/STARTTLS/QUIT (plus ``MAIL FROM:<>`` and RSET
when asked), never logs in (the form takes no password), and is a CSRF-protected POST so another
site cannot aim it. The page says all this before the button.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..cdo.explain import explain_text
from ..errors import CdoMailError, ConfigurationError
from ..probe import probe
from ._context import ConsoleContext

__all__ = ["MAX_PORTS", "MAX_TIMEOUT", "OVERALL_LIMIT", "CheckPages", "parse_ports"]

MAX_PORTS = 6
MAX_TIMEOUT = 15.0
DEFAULT_TIMEOUT = 8.0
#: Every port is probed at once, each step bounded by the timeout; a probe does at most a few
#: steps in a row (connect, greeting, EHLO, STARTTLS, handshake, EHLO, MAIL, QUIT).
OVERALL_LIMIT = 60.0
_MAX_SNIPPET = 64 * 1024
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$"  # a DNS name
    r"|^\[?[0-9A-Fa-f:.]+\]?$"  # an IPv4 or IPv6 address
)


def parse_ports(text: str) -> list[int]:
    """``"25, 465 587"`` -> ``[25, 465, 587]``; a clear ConfigurationError for anything else."""
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if not words:
        raise ConfigurationError("give at least one port", field="ports")
    ports: list[int] = []
    for word in words:
        if not word.isdigit() or not 1 <= int(word) <= 65535:
            raise ConfigurationError(f"{word!r} is not a port (1 to 65535)", field="ports")
        if int(word) not in ports:
            ports.append(int(word))
    if len(ports) > MAX_PORTS:
        raise ConfigurationError(f"at most {MAX_PORTS} ports at a time", field="ports")
    return ports


def parse_host(text: str) -> str:
    host = text.strip()
    if not host or len(host) > 253 or not _HOST.match(host):
        raise ConfigurationError("the host must be a DNS name or an IP address", field="host")
    return host.strip("[]")


def parse_timeout(text: str) -> float:
    try:
        value = float(text) if text.strip() else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigurationError("the timeout must be a number of seconds",
                                 field="timeout") from None
    if not 1 <= value <= MAX_TIMEOUT:
        raise ConfigurationError(f"the timeout must be from 1 to {MAX_TIMEOUT:g} seconds",
                                 field="timeout")
    return value


def _explained(snippet: str) -> dict[str, Any]:
    """explain's verdict through its public entry point, reduced to what the page shows."""
    explanation = explain_text(snippet)
    return {"encrypted": explanation.encrypted, "text": explanation.to_text()}


class CheckPages:
    """The check-a-server page and its two forms."""

    def __init__(self, context: ConsoleContext) -> None:
        self.context = context

    def routes(self) -> list[Route]:
        return [
            Route("/check", self.form),
            Route("/check/probe", self.run_probe, methods=["POST"]),
            Route("/check/explain", self.run_explain, methods=["POST"]),
        ]

    def _page(self, request: Request, status: int = 200, **values: Any) -> Response:
        shown: dict[str, Any] = {"host": "", "ports": "25, 465, 587", "timeout": "",
                                 "check_required": False, "report": None, "error": None,
                                 "explanation": None, "max_ports": MAX_PORTS,
                                 "max_timeout": MAX_TIMEOUT, "overall": OVERALL_LIMIT}
        shown.update(values)
        return self.context.render(request, "check.html", status_code=status, **shown)

    async def form(self, request: Request) -> Response:
        return self._page(request)

    async def run_probe(self, request: Request) -> Response:
        form = await self.context.checked_form(request)
        if isinstance(form, Response):
            return form
        typed: dict[str, Any] = {"host": str(form.get("host") or "")[:300],
                                 "ports": str(form.get("ports") or "")[:200],
                                 "timeout": str(form.get("timeout") or "")[:10],
                                 "check_required": form.get("check_required") == "on"}
        try:
            host, ports = parse_host(typed["host"]), parse_ports(typed["ports"])
            timeout = parse_timeout(typed["timeout"])
            connect_to = {p: a for p, a in self.context.probe_connect_to.items() if p in ports}
            report = await asyncio.wait_for(
                probe(host, ports, timeout=timeout, cafile=self.context.probe_cafile,
                      check_required=typed["check_required"], connect_to=connect_to or None),
                OVERALL_LIMIT)
        except ConfigurationError as error:
            return self._page(request, 400, error=str(error), **typed)
        except TimeoutError:
            return self._page(request, 504, **typed,
                              error=f"the probe took longer than {OVERALL_LIMIT:g} s")
        return self._page(request, report=report.to_dict(), summary=report.summary(), **typed)

    async def run_explain(self, request: Request) -> Response:
        form = await self.context.checked_form(request)
        if isinstance(form, Response):
            return form
        snippet = str(form.get("snippet") or "")
        if len(snippet) > _MAX_SNIPPET:
            return self._page(request, 400,
                              error=f"the snippet is over {_MAX_SNIPPET // 1024} KiB")
        try:
            explanation = await asyncio.to_thread(_explained, snippet)
        except (CdoMailError, ValueError) as error:
            return self._page(request, 400, error=f"explain could not read the snippet: {error}")
        # The snippet is not echoed back: it may hold a password (sendpassword).
        return self._page(request, explanation=explanation)
