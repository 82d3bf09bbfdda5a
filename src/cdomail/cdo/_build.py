"""CDO's MIME tree, written directly (headers by :mod:`~cdomail.cdo._headers`).

Same structure as CDO's (RFC 2046 §5.1 multiparts): text, HTML with its generated text in
multipart/alternative, related parts in multipart/related, attachments in multipart/mixed. A
:class:`Part` holds its header lines already encoded, so serialising is joining bytes; attachment
bodies are still read lazily (base64, 76-character lines, RFC 2045 §6.8) only while the message is
written.

Each body part's ``Fields`` (``urn:schemas:mailheader:<name>``, committed with ``Update``) add or
replace that part's headers -- the way CDO scripts set ``Content-ID`` on a related image.
"""

from __future__ import annotations

import email.charset
import functools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import quoprimime

from cdomail.cdo import constants as c
from cdomail.cdo._headers import (
    MAX_LINE,
    content_type_line,
    header_line,
    header_name,
    is_token,
    quoted_param,
)
from cdomail.cdo._mime import CRLF, ChunkSource, base64_lines, binary_leaf, header_block
from cdomail.cdo.bodypart import Attachment, BodyPart
from cdomail.errors import InputError

__all__ = [
    "Part",
    "attachment_part",
    "multipart",
    "related_part",
    "serialize",
    "text_part",
]

#: Lines of quoted-printable or 7bit text longer than this are encoded (RFC 2045 §6.7 rule 5).
_TEXT_LINE = 76


@dataclass
class Part:
    """One MIME entity: its header lines (each CRLF-terminated) and a body or children."""

    lines: list[bytes]
    content_type: str
    body: ChunkSource | None = None
    boundary: str = ""
    children: list[Part] = field(default_factory=list)


def serialize(part: Part) -> Iterator[bytes]:
    """Yield the entity's bytes; attachment bodies are read only as this is consumed."""
    yield b"".join(part.lines) + CRLF
    if part.body is not None:
        yield from part.body()
        return
    delimiter = b"--" + part.boundary.encode("ascii")
    yield b"This is a multi-part message in MIME format.\r\n"
    for child in part.children:
        # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        yield CRLF + delimiter + CRLF
        yield from serialize(child)
    yield CRLF + delimiter + b"--" + CRLF


def _new_boundary() -> str:
    # "=_" cannot occur in base64 or quoted-printable text (RFC 2045 §6.7, §6.8).
    return f"----=_NextPart_{secrets.token_hex(12)}"


def multipart(subtype: str, children: list[Part], **params: str) -> Part:
    """A multipart/<subtype> entity with a fresh boundary (on its own header line)."""
    boundary = _new_boundary()
    media_type = f"multipart/{subtype}"
    line = content_type_line(
        "Content-Type", media_type, [*params.items(), ("boundary", boundary)], fold_last=True
    )
    assert line is not None  # media types and boundaries are short ASCII tokens
    return Part([line], media_type, boundary=boundary, children=children)


def _encode_text(text: str, charset: str) -> tuple[str, bytes]:
    """The transfer encoding and encoded body of a text part (bytes-identical to the stdlib's)."""
    # Characters the charset cannot hold become "?", as Windows' code-page conversion does.
    text = text.encode(charset, "replace").decode(charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.encode(charset).splitlines()
    raw = b"\n".join(lines) + b"\n"
    if text.isascii() and all(len(line) <= _TEXT_LINE for line in text.split("\n")):
        return "7bit", raw.replace(b"\n", CRLF)
    encoded = quoprimime.body_encode(raw.decode("latin-1"), MAX_LINE)
    return "quoted-printable", encoded.replace("\n", "\r\n").encode("ascii")


def text_part(text: str, subtype: str, charset: str, owner: BodyPart | None = None) -> Part:
    """A text/plain or text/html part: 7bit when short-lined ASCII, else quoted-printable."""
    cte, body = _encode_text(text, charset)
    media_type = f"text/{subtype}"
    lines = list(_text_part_lines(media_type, charset, cte))
    if owner is not None:
        extra = field_headers(owner)
        _refuse_structural(extra, cte, "a text body part", allow_type=False)
        lines += [header_line(header_name(n), v) for n, v in extra.items()]
    return Part(lines, media_type, body=lambda: iter((body,)))


@functools.lru_cache(maxsize=64)  # the same few (type, charset, encoding) on every message
def _text_part_lines(media_type: str, charset: str, cte: str) -> tuple[bytes, bytes]:
    line = content_type_line(
        "Content-Type", media_type, [("charset", email.charset.ALIASES.get(charset, charset))]
    )
    assert line is not None  # a validated charset name is a short ASCII token
    return line, header_line("Content-Transfer-Encoding", cte)


def field_headers(part: BodyPart) -> dict[str, str]:
    """The part's committed ``urn:schemas:mailheader:`` fields, as ``{header: value}``."""
    headers: dict[str, str] = {}
    if not part.has_fields:
        return headers
    prefix = c.MAILHEADER_NAMESPACE
    for name, value in part.Fields.committed_items().items():
        if name.lower().startswith(prefix) and value not in (None, ""):
            headers[name[len(prefix) :].lower()] = str(value)
    return headers


def _refuse_structural(extra: dict[str, str], cte: str, what: str, *, allow_type: bool) -> None:
    encoding = extra.pop("content-transfer-encoding", None)
    if encoding is not None and encoding.strip().lower() != cte:
        raise InputError(
            f"{what} is sent {cte}; cdomail chooses the transfer encoding, so a "
            f"Content-Transfer-Encoding field of {encoding!r} cannot be honoured",
            field="content-transfer-encoding",
        )
    if not allow_type and "content-type" in extra:
        raise InputError(
            f"the Content-Type of {what} comes from its Charset; set BodyPart.Charset instead",
            field="content-type",
        )


def _binary_lines(
    media_type: str, filename: str | None, disposition: str | None
) -> list[bytes] | None:
    maintype, _, subtype = media_type.partition("/")
    if not (is_token(maintype) and is_token(subtype)):
        return None
    params = [("name", filename)] if filename else []
    type_line = content_type_line("Content-Type", media_type, params)
    if type_line is None or (filename and quoted_param(filename) is None):
        return None
    lines = [type_line, b"Content-Transfer-Encoding: base64\r\n"]
    if disposition:
        if filename:
            line = content_type_line("Content-Disposition", disposition, [("filename", filename)])
            if line is None:
                return None
            lines.append(line)
        else:
            lines.append(header_line("Content-Disposition", disposition))
    return lines


def _binary_part(
    source: ChunkSource, media_type: str, filename: str | None, disposition: str | None
) -> Part:
    maintype, _, subtype = media_type.partition("/")
    media_type = f"{maintype}/{subtype or 'octet-stream'}"
    lines = _binary_lines(media_type, filename, disposition)
    if lines is None:
        # RFC 2231 parameters (a non-ASCII or very long file name): the stdlib writes those.
        leaf = binary_leaf(source, content_type=media_type, filename=filename,
                           disposition=disposition)
        lines = [header_block(leaf.headers)[: -len(CRLF)]]
    return Part(lines, media_type, body=lambda: base64_lines(source()))


def _attached(part: Attachment, disposition: str | None) -> Part:
    extra = field_headers(part)
    _refuse_structural(extra, "base64", f"attachment {part.FileName!r}", allow_type=True)
    media_type = extra.pop("content-type", part.ContentMediaType)
    # A Content-Disposition field replaces CDO's own (it may carry its own filename).
    field_disposition = extra.pop("content-disposition", None)
    built = _binary_part(
        part.source, media_type, part.FileName or None, None if field_disposition else disposition
    )
    if field_disposition:
        built.lines.append(header_line("Content-Disposition", field_disposition))
    content_id = extra.pop("content-id", None)
    if content_id:
        built.lines.append(header_line("Content-ID", f"<{content_id.strip().strip('<>')}>"))
    built.lines += [header_line(header_name(name), value) for name, value in extra.items()]
    return built


def attachment_part(part: Attachment) -> Part:
    """An attachment (``Content-Disposition: attachment``), or an embedded message (Forward)."""
    if part.ContentMediaType == "message/rfc822":
        lines = [b"Content-Type: message/rfc822\r\n", b"Content-Disposition: attachment\r\n"]
        return Part(lines, "message/rfc822", body=part.source)
    return _attached(part, "attachment")


def related_part(part: Attachment) -> Part:
    """A resource of the HTML body, referenced by Content-ID or Content-Location."""
    return _attached(part, None)
