"""MIME building blocks for CDO messages: the CDO-specific parts (URL sources, locations).

The generic, streamed building blocks (trees of :class:`Leaf` / :class:`Multipart`, base64
lines, file sources, text parts) live in :mod:`cdomail._mime` and are re-exported here, so the
CDO port imports everything MIME from this one module. What stays here is what only CDO's
``AddAttachment`` / ``CreateMHTMLBody`` / ``Forward`` need: http(s) and ``file://`` locations
fetched lazily while the message is serialised, and embedded message/rfc822 parts.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator

from cdomail._mime import (
    CRLF,
    READ_SIZE,
    ChunkSource,
    Leaf,
    Multipart,
    base64_lines,
    binary_leaf,
    file_source,
    guess_type,
    header_block,
    multipart,
    new_boundary,
    new_headers,
    serialize,
    text_leaf,
)
from cdomail.errors import InputError

__all__ = [
    "CRLF",
    "ChunkSource",
    "Leaf",
    "Multipart",
    "base64_lines",
    "binary_leaf",
    "file_name_of",
    "file_source",
    "guess_type",
    "header_block",
    "message_leaf",
    "multipart",
    "new_boundary",
    "new_headers",
    "open_source",
    "resolve_location",
    "serialize",
    "text_leaf",
    "url_source",
]

_URL_TIMEOUT = 60.0


def url_source(url: str, username: str = "", password: str = "") -> ChunkSource:
    """A source that fetches an http(s) URL in chunks when iterated (HTTP basic auth if given)."""

    def chunks() -> Iterator[bytes]:
        request = urllib.request.Request(url, headers={"User-Agent": "cdomail-cdo"})
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=_URL_TIMEOUT) as response:
            while block := response.read(READ_SIZE):
                yield block

    return chunks


def resolve_location(location: str) -> tuple[str, str]:
    """Classify an AddAttachment argument: ``("file", path)`` or ``("url", url)``.

    Raises:
        InputError: the scheme is neither a path, ``file://``, ``http://`` nor ``https://``.
    """
    parsed = urllib.parse.urlsplit(location)
    scheme = parsed.scheme.lower()
    if scheme in {"http", "https"}:
        return "url", location
    if scheme == "file":
        return "file", urllib.request.url2pathname(parsed.path)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, e.g. "C:\\..."
        raise InputError(
            f"cannot attach {location!r}: only file paths, file://, http:// and https:// URLs "
            "are supported",
            field="attachment",
        )
    return "file", location


def open_source(location: str, username: str = "", password: str = "") -> ChunkSource:
    """The chunk source for a path or URL accepted by :func:`resolve_location`."""
    kind, target = resolve_location(location)
    return url_source(target, username, password) if kind == "url" else file_source(target)


def file_name_of(location: str) -> str:
    """The file name a path or URL would be attached under."""
    kind, target = resolve_location(location)
    if kind == "url":
        name = os.path.basename(urllib.parse.urlsplit(target).path)
        return urllib.parse.unquote(name) or "attachment"
    return os.path.basename(target.replace("\\", "/")) or "attachment"


def message_leaf(source: ChunkSource) -> Leaf:
    """A message/rfc822 part (Forward) whose body is the embedded message, unencoded."""
    headers = new_headers()
    headers["Content-Type"] = "message/rfc822"
    headers["Content-Disposition"] = "attachment"
    return Leaf(headers=headers, body=source)
