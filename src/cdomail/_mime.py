"""MIME building blocks, streamed so attachment bodies never sit in memory.

Headers are built with the stdlib ``email`` package (``policy.SMTP``: CRLF, RFC 2047 / 2231
encoding). Bodies are produced lazily: a file attachment is opened only while the message is
serialised and is base64-encoded block by block (RFC 2045 §6.8: 76-character lines).

A message is a tree of :class:`Leaf` and :class:`Multipart` nodes; :func:`serialize` walks it
and yields bytes. Nodes hold *callables* producing their bodies, so one tree can be serialised
any number of times with identical output. Used by :mod:`cdomail.mime` and by the CDO port.
"""

from __future__ import annotations

import base64
import mimetypes
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

__all__ = [
    "CRLF",
    "READ_SIZE",
    "ChunkSource",
    "Leaf",
    "Multipart",
    "base64_lines",
    "binary_leaf",
    "file_source",
    "guess_type",
    "header_block",
    "multipart",
    "new_boundary",
    "new_headers",
    "serialize",
    "text_leaf",
]

#: A zero-argument callable returning a fresh iterator of raw body bytes (opened on demand).
ChunkSource = Callable[[], Iterator[bytes]]

CRLF = b"\r\n"
#: 57 raw bytes make one 76-character base64 line; read a whole number of lines at a time.
_BASE64_LINE_BYTES = 57
#: Bytes read from a source per step (about 57 KiB: 1024 base64 lines).
READ_SIZE = _BASE64_LINE_BYTES * 1024


@dataclass
class Leaf:
    """A single-part entity: a header block and a lazily produced, already encoded body."""

    headers: EmailMessage
    body: Callable[[], Iterator[bytes]]


@dataclass
class Multipart:
    """A multipart entity (RFC 2046 §5.1)."""

    headers: EmailMessage
    boundary: str
    children: list[Leaf | Multipart] = field(default_factory=list)


def new_boundary() -> str:
    """A boundary that cannot occur in base64 or quoted-printable text ("=_" never does)."""
    return f"----=_NextPart_{secrets.token_hex(12)}"


def new_headers() -> EmailMessage:
    """An empty header set using the SMTP policy (CRLF line ends, 78-column folding)."""
    return EmailMessage(policy=policy.SMTP)


def header_block(headers: EmailMessage) -> bytes:
    """Serialise only the header section, including the blank line that ends it."""
    fold = headers.policy.fold_binary
    return b"".join(fold(name, value) for name, value in headers.items()) + CRLF


def serialize(node: Leaf | Multipart) -> Iterator[bytes]:
    """Yield the entity's bytes in order; file bodies are read only as this is consumed."""
    yield header_block(node.headers)
    if isinstance(node, Leaf):
        yield from node.body()
        return
    delimiter = b"--" + node.boundary.encode("ascii")
    yield b"This is a multi-part message in MIME format.\r\n"
    for child in node.children:
        # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        yield CRLF + delimiter + CRLF
        yield from serialize(child)
    yield CRLF + delimiter + b"--" + CRLF


def base64_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Base64-encode a stream of raw chunks into CRLF-terminated 76-character lines."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        whole = len(pending) - len(pending) % _BASE64_LINE_BYTES
        if whole:
            yield _encode_lines(pending[:whole])
            pending = pending[whole:]
    if pending:
        yield _encode_lines(pending)


def _encode_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + CRLF for i in range(0, len(encoded), 76))


def file_source(path: str) -> ChunkSource:
    """A source that reads *path* in chunks when iterated (never the whole file at once)."""

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while block := handle.read(READ_SIZE):
                yield block

    return chunks


def guess_type(name: str) -> str:
    """The media type for a file name, ``application/octet-stream`` when unknown."""
    media_type, _ = mimetypes.guess_type(name, strict=False)
    return media_type or "application/octet-stream"


def text_leaf(text: str, subtype: str, charset: str) -> Leaf:
    """A text/plain or text/html part, quoted-printable unless it is short-lined ASCII."""
    # Characters the charset cannot hold become "?", as Windows' code-page conversion does.
    text = text.encode(charset, "replace").decode(charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    plain_ascii = text.isascii() and all(len(line) <= 76 for line in text.split("\n"))
    part = new_headers()
    part.set_content(
        text, subtype=subtype, charset=charset, cte="7bit" if plain_ascii else "quoted-printable"
    )
    del part["MIME-Version"]
    raw = part.as_bytes()
    split = raw.find(b"\r\n\r\n") + 4
    headers = part
    body = raw[split:]
    headers.set_payload("")
    return Leaf(headers=headers, body=lambda: iter((body,)))


def binary_leaf(
    source: ChunkSource,
    *,
    content_type: str,
    filename: str | None = None,
    disposition: str | None = "attachment",
    extra_headers: Iterable[tuple[str, str]] = (),
) -> Leaf:
    """A base64 part whose body is read from *source* only while serialising."""
    headers = new_headers()
    maintype, _, subtype = content_type.partition("/")
    headers["Content-Type"] = f"{maintype}/{subtype or 'octet-stream'}"
    if filename:
        headers.set_param("name", filename)
    headers["Content-Transfer-Encoding"] = "base64"
    if disposition:
        if filename:
            headers.add_header("Content-Disposition", disposition, filename=filename)
        else:
            headers["Content-Disposition"] = disposition
    for name, value in extra_headers:
        headers[name] = value
    return Leaf(headers=headers, body=lambda: base64_lines(source()))


def multipart(subtype: str, children: list[Leaf | Multipart], **params: str) -> Multipart:
    """A multipart/<subtype> node with a fresh boundary."""
    headers = new_headers()
    boundary = new_boundary()
    headers["Content-Type"] = f"multipart/{subtype}"
    for key, value in params.items():
        headers.set_param(key, value)
    headers.set_param("boundary", boundary)
    return Multipart(headers=headers, boundary=boundary, children=children)
