"""Page 2, the relay's queue: counts by state, the list with a filter, one message in detail,
retry / hold / release / delete, and the upstream's health with its last error in words.

The console is another client of the relay's spool API (:class:`cdomail.relay.spool.Spool`), the
same one ``cdomail relay status|list|show`` uses; each request opens the SQLite spool, asks, and
closes it, in a worker thread so the console's event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..relay._model import RecipientState
from ..relay.config import RelayConfig
from ..relay.spool import SPOOL_FILENAME, MessageNotFound, Spool, SpoolError
from ._context import ConsoleContext

__all__ = ["relay_routes"]

_T = TypeVar("_T")
STATES = (RecipientState.QUEUED, RecipientState.HELD, RecipientState.DELIVERED,
          RecipientState.BOUNCED, RecipientState.EXPIRED, RecipientState.UNKNOWN)
_ACTIONS = ("retry", "hold", "release", "delete")
_LIST_LIMIT = 200


class NoSpool(SpoolError):
    """The relay has not created its spool yet."""


def _with_spool(config: RelayConfig, work: Callable[[Spool], _T]) -> _T:
    if not (config.spool.path / SPOOL_FILENAME).exists():
        raise NoSpool(f"no spool at {config.spool.path} yet: has `cdomail relay run` started?")
    with Spool.open(config.spool.path) as spool:
        return work(spool)


def health_rows(health: dict[str, Any]) -> list[tuple[str, str, float]]:
    """``(what, in words, when)`` for every health fact the delivery side recorded."""
    rows = []
    for key, fact in health.items():
        value = fact.get("value")
        if isinstance(value, dict):
            words = "; ".join(f"{name}: {item}" for name, item in value.items()
                              if item not in (None, ""))
        else:
            words = value if isinstance(value, str) else json.dumps(value)
        rows.append((key, words, float(fact.get("updated_at") or 0)))
    return rows


def relay_routes(context: ConsoleContext) -> list[Route]:
    """The queue's routes (only mounted when the console was given a relay config)."""
    config = context.relay_config
    assert config is not None

    async def call(work: Callable[[Spool], _T]) -> _T:
        return await asyncio.to_thread(_with_spool, config, work)

    async def queue(request: Request) -> Response:
        state = request.query_params.get("state") or None
        if state is not None and state not in STATES:
            state = None

        def overview(spool: Spool) -> dict[str, Any]:
            return {"counts": spool.counts(), "messages": spool.list(state, _LIST_LIMIT),
                    "queue_hold": spool.queue_hold(), "health": health_rows(spool.health()),
                    "oldest": spool.oldest_queued_age(time.time())}

        try:
            facts = await call(overview)
        except SpoolError as error:
            return context.render(request, "error.html", status_code=503, error=str(error))
        return context.render(request, "relay.html", state=state, states=STATES,
                              spool_path=str(config.spool.path), **facts)

    async def detail(request: Request) -> Response:
        message_id = request.path_params["message_id"]
        try:
            found = await call(lambda spool: spool.show(message_id))
        except MessageNotFound:
            return context.render(request, "error.html", status_code=404,
                                  error="That message is not in the spool (deleted?).")
        except SpoolError as error:
            return context.render(request, "error.html", status_code=503, error=str(error))
        return context.render(request, "relay_message.html", detail=found)

    async def act(request: Request) -> Response:
        form = await request.form()
        if not context.guard.csrf_ok(request, form.get("csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        message_id, action = request.path_params["message_id"], request.path_params["action"]
        if action not in _ACTIONS:
            return PlainTextResponse("unknown action", status_code=404)
        reason = str(form.get("reason") or "held from the web console")[:200]

        def perform(spool: Spool) -> None:
            if action == "retry":
                spool.retry(message_id)
            elif action == "hold":
                spool.hold(message_id, reason)
            elif action == "release":
                spool.release(message_id)
            else:
                spool.delete(message_id)

        try:
            await call(perform)
        except MessageNotFound:
            return context.render(request, "error.html", status_code=404,
                                  error="That message is not in the spool (deleted?).")
        except SpoolError as error:
            return context.render(request, "error.html", status_code=503, error=str(error))
        target = "/relay" if action == "delete" else f"/relay/messages/{message_id}"
        return RedirectResponse(target, status_code=303)

    return [
        Route("/relay", queue),
        Route("/relay/messages/{message_id}", detail),
        Route("/relay/messages/{message_id}/{action}", act, methods=["POST"]),
    ]
