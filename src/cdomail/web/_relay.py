"""Page 2, the relay's queue: counts by state, the list with a filter, one message in detail,
retry / hold / release / delete, the upstream's health with its last error in words, and every
``relay run`` node (heartbeat age, messages in flight), as ``relay status`` shows them.

The console is another client of the relay's spool API (:class:`cdomail.relay.spool.Spool`), the
same one ``cdomail relay status|list|show`` uses; each request opens the SQLite spool, asks, and
closes it, in a worker thread so the console's event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..relay._model import RecipientState
from ..relay.config import RelayConfig
from ..relay.queue import open_queue
from ..relay.spool import SPOOL_FILENAME, MessageNotFound, Spool, SpoolError
from ._context import ConsoleContext

__all__ = ["STATES", "RelayPages", "health_rows"]

_T = TypeVar("_T")
STATES = (RecipientState.QUEUED, RecipientState.HELD, RecipientState.DELIVERED,
          RecipientState.BOUNCED, RecipientState.EXPIRED, RecipientState.UNKNOWN)
_ACTIONS = ("retry", "hold", "release", "delete")
_LIST_LIMIT = 200
_GONE = "That message is not in the spool (deleted?)."


class NoSpool(SpoolError):
    """The relay has not created its spool yet."""


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


def _overview(spool: Spool, state: str | None) -> dict[str, Any]:
    return {"counts": spool.counts(), "messages": spool.list(state, _LIST_LIMIT),
            "queue_hold": spool.queue_hold(), "health": health_rows(spool.health()),
            "oldest": spool.oldest_queued_age(time.time()), "nodes": spool.nodes(),
            "now": time.time()}


def _perform(spool: Spool, message_id: str, action: str, reason: str) -> None:
    if action == "retry":
        spool.retry(message_id)
    elif action == "hold":
        spool.hold(message_id, reason)
    elif action == "release":
        spool.release(message_id)
    else:
        spool.delete(message_id)


class RelayPages:
    """The queue's pages over one relay's spool."""

    def __init__(self, context: ConsoleContext, config: RelayConfig) -> None:
        self.context = context
        self.config = config

    def routes(self) -> list[Route]:
        return [
            Route("/relay", self.queue),
            Route("/relay/messages/{message_id}", self.detail),
            Route("/relay/messages/{message_id}/{action}", self.act, methods=["POST"]),
        ]

    def _with_spool(self, work: Callable[[Spool], _T]) -> _T:
        path = self.config.spool.path
        if path is not None and not (path / SPOOL_FILENAME).exists():
            raise NoSpool(f"no spool at {path} yet: has `cdomail relay run` started?")
        # Either backend ([spool] path or url): the PostgreSQL queue has the same methods.
        with open_queue(self.config.spool) as spool:
            return work(cast(Spool, spool))

    async def _call(self, work: Callable[[Spool], _T]) -> _T:
        return await asyncio.to_thread(self._with_spool, work)

    def _error(self, request: Request, error: SpoolError) -> Response:
        if isinstance(error, MessageNotFound):
            return self.context.render(request, "error.html", status_code=404, error=_GONE)
        return self.context.render(request, "error.html", status_code=503, error=str(error))

    async def queue(self, request: Request) -> Response:
        state = request.query_params.get("state") or None
        if state not in STATES:
            state = None
        try:
            facts = await self._call(lambda spool: _overview(spool, state))
        except SpoolError as error:
            return self._error(request, error)
        return self.context.render(request, "relay.html", state=state, states=STATES,
                                   spool_path=str(self.config.spool.path or self.config.spool.url),
                                   **facts)

    async def detail(self, request: Request) -> Response:
        message_id = request.path_params["message_id"]
        try:
            found = await self._call(lambda spool: spool.show(message_id))
        except SpoolError as error:
            return self._error(request, error)
        return self.context.render(request, "relay_message.html", detail=found)

    async def act(self, request: Request) -> Response:
        form = await self.context.checked_form(request)
        if isinstance(form, Response):
            return form
        message_id, action = request.path_params["message_id"], request.path_params["action"]
        if action not in _ACTIONS:
            return PlainTextResponse("unknown action", status_code=404)
        reason = str(form.get("reason") or "held from the web console")[:200]
        try:
            await self._call(lambda spool: _perform(spool, message_id, action, reason))
        except SpoolError as error:
            return self._error(request, error)
        target = "/relay" if action == "delete" else f"/relay/messages/{message_id}"
        return RedirectResponse(target, status_code=303)
