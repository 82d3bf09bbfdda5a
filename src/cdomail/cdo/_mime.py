"""MIME building blocks for CDO messages: the CDO-specific parts (URL sources, locations).

The generic, streamed building blocks (trees of :class:`Leaf` / :class:`Multipart`, base64
lines, file sources, text parts) live in :mod:`cdomail._mime` and are re-exported here, so the
CDO port imports everything MIME from this one module. What stays here is what only CDO's
``AddAttachment`` / ``CreateMHTMLBody`` need: http(s) and ``file://`` locations fetched lazily
while the message is serialised. The CDO message itself is written by :mod:`cdomail.cdo._build`.
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
from cdomail.cdo._secret import Secret
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
    "multipart",
    "new_boundary",
    "new_headers",
    "open_source",
    "resolve_location",
    "serialize",
    "shown_location",
    "text_leaf",
    "url_source",
]

_URL_TIMEOUT = 60.0


def shown_location(location: str) -> str:
    """*location* as it may be shown to a person: a password in the URL becomes ``***``."""
    parsed = urllib.parse.urlsplit(location)
    if parsed.password is None:
        return location
    host = parsed.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parsed._replace(netloc=f"{parsed.username}:***@{host}"))


def _basic_authorization(username: str, password: Secret) -> str:
    token = base64.b64encode(f"{username}:{password.reveal()}".encode()).decode("ascii")
    return f"Basic {token}"


def url_source(url: str, username: str = "", password: str | Secret = "") -> ChunkSource:
    """A source that fetches an http(s) URL in chunks when iterated (HTTP basic auth if given).

    The password is kept as a :class:`~cdomail.cdo._secret.Secret` in the closure, so a
    traceback with locals of a failed download does not print it.
    """
    secret = password if isinstance(password, Secret) else Secret(password)
    del password

    def chunks() -> Iterator[bytes]:
        request = urllib.request.Request(url, headers={"User-Agent": "cdomail-cdo"})
        if username:
            request.add_header("Authorization", _basic_authorization(username, secret))
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
            f"cannot attach {shown_location(location)!r}: only file paths, file://, http:// "
            "and https:// URLs "
            "are supported",
            field="attachment",
        )
    return "file", location


def open_source(
    location: str, username: str = "", password: str | Secret = ""
) -> ChunkSource:
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
