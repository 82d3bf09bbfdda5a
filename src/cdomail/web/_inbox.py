"""Page 1, the lab's inbox: every message received, newest first, live; one message in detail.

The list refreshes itself: ``console.js`` fetches ``/inbox/rows`` (the same server-rendered,
escaped rows) every second and swaps them in, so a new message appears without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..lab import Lab, StoredMessage
from ._context import ConsoleContext
from ._mailview import attachment_bytes, content_disposition, parse_mail, summary_headers
from ._security import mail_body_policy

__all__ = ["MAX_ROWS", "InboxPages"]

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


class InboxPages:
    """The inbox's pages over one running lab."""

    def __init__(self, context: ConsoleContext, lab: Lab) -> None:
        self.context = context
        self.lab = lab

    def routes(self) -> list[Route]:
        return [
            Route("/inbox", self.inbox),
            Route("/inbox/rows", self.rows),
            Route("/inbox/delete-all", self.delete_all, methods=["POST"]),
            Route("/inbox/{key}", self.show),
            Route("/inbox/{key}/body.html", self.html_body),
            Route("/inbox/{key}/raw", self.raw),
            Route("/inbox/{key}/attachments/{index:int}", self.attachment),
            Route("/inbox/{key}/delete", self.delete, methods=["POST"]),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _rows(self, query: str) -> list[InboxRow]:
        """Newest first, those whose addresses, subject or From contain ``query``."""
        rows = []
        needle = query.strip().casefold()
        for message in reversed(self.lab.messages):
            subject, from_header = summary_headers(message.data)
            haystack = " ".join([message.mail_from, *message.rcpt_tos, subject, from_header])
            if not needle or needle in haystack.casefold():
                rows.append(InboxRow(message.maildir_key, subject, from_header, message))
                if len(rows) == MAX_ROWS:
                    break
        return rows

    def _transcript(self, message: StoredMessage) -> str | None:
        """The session's transcript as the lab recorded it (AUTH exchanges already ``***``)."""
        for record in self.lab.sessions:
            if record.id == message.session_id:
                return record.text()
        return None

    def _message(self, request: Request) -> StoredMessage | Response:
        key = request.path_params["key"]
        message = next((m for m in self.lab.messages if m.maildir_key == key), None)
        if message is None:
            return self.context.render(request, "error.html", status_code=404,
                                       error="That message is not in the inbox (deleted?).")
        return message

    @staticmethod
    def _query(request: Request) -> str:
        return request.query_params.get("q", "")[:_MAX_QUERY]

    # -- pages -----------------------------------------------------------------------------

    async def inbox(self, request: Request) -> Response:
        query = self._query(request)
        return self.context.render(request, "inbox.html", rows=self._rows(query), query=query,
                                   listeners=self.lab.listeners, host=self.lab.host,
                                   total=len(self.lab.messages))

    async def rows(self, request: Request) -> Response:
        response = self.context.render(request, "inbox_rows.html",
                                       rows=self._rows(self._query(request)))
        response.headers["X-Inbox-Total"] = str(len(self.lab.messages))
        return response

    async def show(self, request: Request) -> Response:
        message = self._message(request)
        if isinstance(message, Response):
            return message
        return self.context.render(
            request, "message.html", message=message, mail=parse_mail(message.data),
            raw=message.data.decode("utf-8", "replace").replace("\r\n", "\n"),
            remote_images=request.query_params.get("remote_images") == "1",
            transcript=self._transcript(message))

    async def html_body(self, request: Request) -> Response:
        message = self._message(request)
        if isinstance(message, Response):
            return message
        remote = request.query_params.get("remote_images") == "1"
        return Response(parse_mail(message.data).html or b"",
                        media_type="text/html; charset=utf-8", headers={
                            "Content-Security-Policy": mail_body_policy(remote_images=remote),
                            "X-Frame-Options": "SAMEORIGIN",
                            "Referrer-Policy": "no-referrer"})

    async def raw(self, request: Request) -> Response:
        message = self._message(request)
        if isinstance(message, Response):
            return message
        return Response(message.data, media_type="application/octet-stream", headers={
            "Content-Disposition": content_disposition(f"{message.maildir_key}.eml")})

    async def attachment(self, request: Request) -> Response:
        message = self._message(request)
        if isinstance(message, Response):
            return message
        found = attachment_bytes(message.data, int(request.path_params["index"]))
        if found is None:
            return PlainTextResponse("no such attachment", status_code=404)
        name, content = found
        # Always octet-stream: a sender's "text/html" attachment must not render in our origin.
        return Response(content, media_type="application/octet-stream",
                        headers={"Content-Disposition": content_disposition(name)})

    async def delete(self, request: Request) -> Response:
        form = await self.context.checked_form(request)
        if isinstance(form, Response):
            return form
        self.lab.delete(request.path_params["key"])
        return RedirectResponse("/inbox", status_code=303)

    async def delete_all(self, request: Request) -> Response:
        form = await self.context.checked_form(request)
        if isinstance(form, Response):
            return form
        for message in self.lab.messages:
            self.lab.delete(message.maildir_key)
        return RedirectResponse("/inbox", status_code=303)
