"""``cdomail web``: one local web console — the lab's inbox, the relay's queue, and a
"check my mail server" page.

Built on Starlette (ASGI routing), Jinja2 templates with autoescape on, and uvicorn; one small
vanilla script keeps the inbox live by polling. See docs/web.md for the choices and the safety
rules (:mod:`cdomail.web._security`).
"""

from __future__ import annotations

from ._app import create_app
from ._serve import RunningConsole, check_bind, start_console

__all__ = ["RunningConsole", "check_bind", "create_app", "start_console"]
