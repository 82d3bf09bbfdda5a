"""The MIME builder CDO's Message used before the direct writer: every header through the stdlib.

Kept (test-only) as the reference the direct writer is compared with: same message state in,
both outputs parsed with the stdlib ``email`` package, the parsed trees must agree.
"""

from __future__ import annotations

from cdomail import _mime
from cdomail.cdo import Message
from cdomail.cdo.bodypart import Attachment
from cdomail.cdo.configuration import read_settings
from cdomail.cdo.message import _HEADER_ORDER, _STRUCTURAL

_SPECIAL = {"message-id": "Message-ID", "mime-version": "MIME-Version", "cc": "Cc"}


def _name(key: str) -> str:
    return _SPECIAL.get(key, "-".join(word.capitalize() for word in key.split("-")))


def _attachment(part: Attachment) -> _mime.Leaf:
    if part.ContentMediaType == "message/rfc822":
        headers = _mime.new_headers()
        headers["Content-Type"] = "message/rfc822"
        headers["Content-Disposition"] = "attachment"
        return _mime.Leaf(headers=headers, body=part.source)
    return _mime.binary_leaf(part.source, content_type=part.ContentMediaType,
                             filename=part.FileName)


def _related(part: Attachment) -> _mime.Leaf:
    extra = []
    if part.ContentID:
        extra.append(("Content-ID", f"<{part.ContentID}>"))
    if part.ContentLocation:
        extra.append(("Content-Location", part.ContentLocation))
    return _mime.binary_leaf(part.source, content_type=part.ContentMediaType,
                             filename=part.FileName, disposition=None, extra_headers=extra)


def legacy_bytes(msg: Message) -> bytes:
    """The message as the stdlib-header builder wrote it (same header values, same tree)."""
    settings = read_settings(msg.Configuration.Fields)
    html, text = msg.HTMLBody, msg.TextBody
    charset_text = msg.TextBodyPart.Charset or msg.BodyPart.Charset
    charset_html = msg.HTMLBodyPart.Charset or msg.BodyPart.Charset
    core: _mime.Leaf | _mime.Multipart
    if html:
        core = html_part = _mime.text_leaf(html, "html", charset_html)
        if text:
            core = _mime.multipart(
                "alternative", [_mime.text_leaf(text, "plain", charset_text), html_part])
        if msg._related:
            core = _mime.multipart("related", [core, *map(_related, msg._related)],
                                   type=core.headers.get_content_type())
    else:
        core = _mime.text_leaf(text, "plain", charset_text)
    root = core
    if len(msg.Attachments):
        root = _mime.multipart("mixed", [core, *map(_attachment, msg.Attachments)])
    headers = _mime.new_headers()
    values = msg._header_values(settings)
    ordered = [n for n in _HEADER_ORDER if n in values] + [
        n for n in values if n not in _HEADER_ORDER and n not in _STRUCTURAL]
    for name in ordered:
        headers[_name(name)] = values[name]
    headers["X-Mailer"] = "cdomail (CDO compatible)"
    if msg.MimeFormatted:
        headers["MIME-Version"] = "1.0"
    for name, value in root.headers.items():
        headers[name] = value
    root.headers = headers
    return b"".join(_mime.serialize(root))
