"""Page 1, the lab's inbox: every message received, newest first, live; one message in detail.

The list refreshes itself: ``console.js`` fetches ``/inbox/rows`` (the same server-rendered,
escaped rows) every second and swaps them in, so a new message appears without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..lab import StoredMessage
from ._context import ConsoleContext
from ._mailview import (
    attachment_bytes,
    content_disposition,
    parse_mail,
    summary_headers,
)
from ._security import mail_body_policy

__all__ = ["inbox_routes"]

_MAX_QUERY = 200
#: The list shows at most this many messages (newest first): it is re-rendered every second.
MAX_ROWS = 500


@dataclass(frozen=True)
class InboxRow:
    """One line of the inbox list."""

    key: str
    subject: str
    from_header: str
    message: StoredMessage


def _rows(context: ConsoleContext, query: str) -> list[InboxRow]:
    assert context.lab is not None
    rows = []
    needle = query.strip().casefold()
    for message in reversed(context.lab.messages):
        subject, from_header = summary_headers(message.data)
        row = InboxRow(message.maildir_key, subject, from_header, message)
        haystack = " ".join([message.mail_from, *message.rcpt_tos, subject, from_header])
        if not needle or needle in haystack.casefold():
            rows.append(row)
            if len(rows) == MAX_ROWS:
                break
    return rows


def _find(context: ConsoleContext, key: str) -> StoredMessage | None:
    assert context.lab is not None
    return next((m for m in context.lab.messages if m.maildir_key == key), None)


def _transcript(context: ConsoleContext, message: StoredMessage) -> str | None:
    """The session's transcript as the lab recorded it (AUTH exchanges already ``***``)."""
    assert context.lab is not None
    for record in context.lab.sessions:
        if record.id == message.session_id:
            return record.text()
    return None


def inbox_routes(context: ConsoleContext) -> list[Route]:
    """The inbox's routes (only mounted when the console shows a lab)."""

    def query_of(request: Request) -> str:
        return request.query_params.get("q", "")[:_MAX_QUERY]

    async def inbox(request: Request) -> Response:
        query = query_of(request)
        assert context.lab is not None
        return context.render(request, "inbox.html", rows=_rows(context, query), query=query,
                              listeners=context.lab.listeners, host=context.lab.host,
                              total=len(context.lab.messages))

    async def rows(request: Request) -> Response:
        assert context.lab is not None
        response = context.render(request, "inbox_rows.html",
                                  rows=_rows(context, query_of(request)))
        response.headers["X-Inbox-Total"] = str(len(context.lab.messages))
        return response

    def message_or_404(request: Request) -> StoredMessage | Response:
        message = _find(context, request.path_params["key"])
        if message is None:
            return context.render(request, "error.html", status_code=404,
                                  error="That message is not in the inbox (deleted?).")
        return message

    async def show(request: Request) -> Response:
        message = message_or_404(request)
        if isinstance(message, Response):
            return message
        remote = request.query_params.get("remote_images") == "1"
        return context.render(
            request, "message.html", message=message, mail=parse_mail(message.data),
            raw=message.data.decode("utf-8", "replace").replace("\r\n", "\n"),
            remote_images=remote,
            transcript=_transcript(context, message))

    async def html_body(request: Request) -> Response:
        message = message_or_404(request)
        if isinstance(message, Response):
            return message
        html = parse_mail(message.data).html or b""
        remote = request.query_params.get("remote_images") == "1"
        return Response(html, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": mail_body_policy(remote_images=remote),
            "X-Frame-Options": "SAMEORIGIN",
            "Referrer-Policy": "no-referrer",
        })

    async def raw(request: Request) -> Response:
        message = message_or_404(request)
        if isinstance(message, Response):
            return message
        return Response(message.data, media_type="application/octet-stream", headers={
            "Content-Disposition": content_disposition(f"{message.maildir_key}.eml")})

    async def attachment(request: Request) -> Response:
        message = message_or_404(request)
        if isinstance(message, Response):
            return message
        found = attachment_bytes(message.data, int(request.path_params["index"]))
        if found is None:
            return PlainTextResponse("no such attachment", status_code=404)
        name, content = found
        # Always octet-stream: a sender's "text/html" attachment must not render in our origin.
        return Response(content, media_type="application/octet-stream",
                        headers={"Content-Disposition": content_disposition(name)})

    async def delete(request: Request) -> Response:
        form = await request.form()
        if not context.guard.csrf_ok(request, form.get("csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        assert context.lab is not None
        context.lab.delete(request.path_params["key"])
        return RedirectResponse("/inbox", status_code=303)

    async def delete_all(request: Request) -> Response:
        form = await request.form()
        if not context.guard.csrf_ok(request, form.get("csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        assert context.lab is not None
        for message in context.lab.messages:
            context.lab.delete(message.maildir_key)
        return RedirectResponse("/inbox", status_code=303)

    return [
        Route("/inbox", inbox),
        Route("/inbox/rows", rows),
        Route("/inbox/delete-all", delete_all, methods=["POST"]),
        Route("/inbox/{key}", show),
        Route("/inbox/{key}/body.html", html_body),
        Route("/inbox/{key}/raw", raw),
        Route("/inbox/{key}/attachments/{index:int}", attachment),
        Route("/inbox/{key}/delete", delete, methods=["POST"]),
    ]
