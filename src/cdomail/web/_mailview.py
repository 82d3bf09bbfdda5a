"""A received message taken apart for the inbox: headers, text, HTML, attachments.

Parsing uses the standard library's ``email`` package with the modern policy, so encoded words
(RFC 2047) and parameters (RFC 2231) are decoded. Whatever a sender wrote stays text here; the
templates escape it, and :func:`safe_filename` makes attachment names harmless for downloads.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage, Message
from urllib.parse import quote

__all__ = ["Attachment", "MailView", "content_disposition", "parse_mail", "safe_filename"]

#: A message whose size the inbox shows but whose parts it does not decode (a lab accepts up to
#: its SIZE limit; a page should not try to render more than this).
_MAX_PARSED = 25 * 1024 * 1024
_META_REFRESH = re.compile(rb"<meta[^>]*http-equiv\s*=\s*[\"']?\s*refresh[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    """One attachment (or inline part that is not the text or HTML body)."""

    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MailView:
    """What the message view shows."""

    subject: str
    from_: str
    to: str
    date: str
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: bytes | None
    attachments: tuple[Attachment, ...]
    parse_error: str | None = None


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data[:_MAX_PARSED], policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _header_text(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the policy cannot decode: show it raw
        value = message.get_all(name, [""])[0]
    return "" if value is None else str(value)


def _headers(message: Message) -> tuple[tuple[str, str], ...]:
    result = []
    for name, value in message.raw_items():
        try:
            shown = str(email.policy.default.header_fetch_parse(name, value))
        except Exception:  # keep the raw text when decoding fails
            shown = str(value)
        result.append((name, shown))
    return tuple(result)


def _body_parts(message: EmailMessage) -> tuple[str | None, bytes | None]:
    text: str | None = None
    html: bytes | None = None
    plain_part = message.get_body(preferencelist=("plain",))
    if plain_part is not None:
        text = _decoded_text(plain_part)
    html_part = message.get_body(preferencelist=("html",))
    if html_part is not None:
        html = _META_REFRESH.sub(b"", _decoded_text(html_part).encode("utf-8"))
    return text, html


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _attachment_parts(message: EmailMessage) -> list[Message]:
    return list(message.iter_attachments()) if message.is_multipart() else []


def parse_mail(data: bytes) -> MailView:
    """Take ``data`` (a message as received) apart; never raises on malformed mail."""
    try:
        message = _parse(data)
        text, html = _body_parts(message)
        attachments = tuple(
            Attachment(index, part.get_filename() or f"attachment-{index}",
                       part.get_content_type(), len(part.get_payload(decode=True) or b""))
            for index, part in enumerate(_attachment_parts(message))
        )
        return MailView(
            subject=_header_text(message, "Subject"), from_=_header_text(message, "From"),
            to=_header_text(message, "To"), date=_header_text(message, "Date"),
            headers=_headers(message), text=text, html=html, attachments=attachments,
        )
    except Exception as error:  # the raw source is still shown; say why the parts are not
        return MailView("", "", "", "", (), None, None, (),
                        parse_error=f"{type(error).__name__}: {error}")


def attachment_bytes(data: bytes, index: int) -> tuple[str, bytes] | None:
    """``(filename, decoded content)`` of attachment number ``index``, or None."""
    try:
        parts = _attachment_parts(_parse(data))
    except Exception:  # a message parse_mail() could not take apart has no attachments to offer
        return None
    if not 0 <= index < len(parts):
        return None
    payload = parts[index].get_payload(decode=True)
    name = parts[index].get_filename() or f"attachment-{index}"
    return name, payload if isinstance(payload, bytes) else b""


def summary_headers(data: bytes) -> tuple[str, str]:
    """``(subject, from)`` from the header only: the inbox list must stay cheap."""
    end = data.find(b"\r\n\r\n")
    header = data[: end + 2] if end >= 0 else data[:65536]
    parsed = email.message_from_bytes(header, policy=email.policy.default)
    return _header_text(parsed, "Subject"), _header_text(parsed, "From")


def safe_filename(name: str) -> str:
    """A download name with no path, no control or bidi characters, no quotes: never empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        c for c in base
        if unicodedata.category(c)[0] != "C" and c not in "\"';:*?<>|" and c.isprintable()
    ).strip(" .")
    return kept[:150] or "attachment"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the RFC 6266 / RFC 5987 UTF-8 name."""
    safe = safe_filename(name)
    ascii_name = safe.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"
