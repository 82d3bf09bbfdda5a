"""Header lines for CDO messages, written directly instead of through ``email.headerregistry``.

The stdlib parses every header it is given into a registry object and refolds it on output;
for a CDO ``Send()`` that was half the time. Here a header is written as ``Name: value`` when
it fits (the common case), folded at spaces to 78 columns otherwise (RFC 5322 §2.2.3: a fold is
a CRLF inserted before existing whitespace), and non-ASCII unstructured text becomes RFC 2047
``B`` encoded-words in UTF-8 (at most 75 characters each, RFC 2047 §2), as CDO writes them.

Whatever this module cannot write with certainty -- a non-ASCII structured header (an address
with a non-ASCII local part), a word too long to fit a line -- is handed to the stdlib's
``policy.SMTP`` folding, which is what every header went through before.
"""

from __future__ import annotations

import base64
import functools
from email import policy

__all__ = [
    "UNSTRUCTURED",
    "content_type_line",
    "header_line",
    "header_name",
    "is_token",
    "quoted_param",
]

#: RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (excluding CRLF).
MAX_LINE = 78
#: RFC 2047 §2: an encoded-word is at most 75 characters.
_MAX_ENCODED_WORD = 75
_WORD_PREFIX = "=?utf-8?B?"
_WORD_OVERHEAD = len(_WORD_PREFIX) + len("?=")

#: Headers whose value is free text (RFC 5322 §3.6.5 unstructured), where RFC 2047 applies.
UNSTRUCTURED = frozenset(
    {"subject", "comments", "organization", "keywords", "importance", "priority",
     "x-mailer", "content-description", "thread-topic"}
)
_TSPECIALS = frozenset('()<>@,;:\\"/[]?= \t')
_SPECIAL_NAMES = {
    "message-id": "Message-ID",
    "mime-version": "MIME-Version",
    "cc": "Cc",
    "content-id": "Content-ID",
}


@functools.lru_cache(maxsize=256)  # a few names, written on every message
def header_name(key: str) -> str:
    """The conventional spelling of a lower-case header name (``reply-to`` -> ``Reply-To``)."""
    return _SPECIAL_NAMES.get(key, "-".join(word.capitalize() for word in key.split("-")))


def _stdlib_line(name: str, value: str) -> bytes:
    """The old path: the header through the stdlib registry and ``policy.SMTP`` folding."""
    smtp = policy.SMTP
    return smtp.fold_binary(*smtp.header_store_parse(name, value))


def _fold_ascii(name: str, value: str) -> bytes | None:
    """``name: value`` folded before spaces to 78 columns, or ``None`` when a word cannot fit."""
    line = f"{name}: {value}"
    if len(line) <= MAX_LINE:
        return (line + "\r\n").encode("ascii")
    lines: list[str] = []
    current = f"{name}:"
    for word in value.split(" "):
        candidate = f"{current} {word}"
        # Fold only after real content: a whitespace-only line is not allowed (RFC 5322 §3.2.2).
        if len(candidate) > MAX_LINE and current.strip() and current != f"{name}:":
            lines.append(current)
            current = f" {word}"
        else:
            current = candidate
    lines.append(current)
    if any(len(item) > MAX_LINE for item in lines):
        return None
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _encoded_words(name: str, value: str) -> bytes | None:
    """*value* as UTF-8 ``B`` encoded-words, one per line, each line within 78 columns."""
    first_budget = min(_MAX_ENCODED_WORD, MAX_LINE - len(name) - 2)
    if first_budget < _WORD_OVERHEAD + 8:
        return None  # a header name this long is left to the stdlib
    words: list[str] = []
    chunk = b""
    budget = first_budget
    for char in value:
        encoded = char.encode("utf-8")
        # base64 of n bytes is 4 * ceil(n / 3) characters.
        if _WORD_OVERHEAD + 4 * -(-(len(chunk) + len(encoded)) // 3) > budget and chunk:
            words.append(_encode_word(chunk))
            chunk = b""
            budget = min(_MAX_ENCODED_WORD, MAX_LINE - 1)
        chunk += encoded
    words.append(_encode_word(chunk))
    return (f"{name}: " + "\r\n ".join(words) + "\r\n").encode("ascii")


def _encode_word(data: bytes) -> str:
    return _WORD_PREFIX + base64.b64encode(data).decode("ascii") + "?="


def header_line(name: str, value: str) -> bytes:
    """One header field, CRLF-terminated and folded; *value* holds no CR or LF.

    ASCII values are folded at spaces; non-ASCII values of unstructured headers become
    encoded-words; anything else falls back to the stdlib.
    """
    if value.isascii():
        folded = _fold_ascii(name, value)
    elif name.lower() in UNSTRUCTURED or name.lower().startswith("x-"):
        folded = _encoded_words(name, value)
    else:
        folded = None
    return folded if folded is not None else _stdlib_line(name, value)


def quoted_param(value: str) -> str | None:
    """An ASCII parameter value as an RFC 2045 quoted-string, or ``None`` if it needs RFC 2231."""
    if not value.isascii() or any(ch in '"\\' or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    return f'"{value}"'


def content_type_line(
    name: str, value: str, params: list[tuple[str, str]], *, fold_last: bool = False
) -> bytes | None:
    """``Name: value; key="v"; ...`` with quoted ASCII parameters, or ``None`` (use the stdlib).

    *fold_last* puts the last parameter on its own line, as the multipart headers always had
    (the boundary). ``None`` when a parameter needs RFC 2231 encoding or a line would be long.
    """
    rendered = []
    for key, raw in params:
        quoted = quoted_param(raw)
        if quoted is None:
            return None
        rendered.append(f"{key}={quoted}")
    if fold_last and rendered:
        head = "; ".join([value, *rendered[:-1]]) + ";"
        lines = [f"{name}: {head}", f" {rendered[-1]}"]
    else:
        lines = [f"{name}: " + "; ".join([value, *rendered])]
    if any(len(line) > MAX_LINE for line in lines):
        return None
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def is_token(value: str) -> bool:
    """True when *value* is an RFC 2045 token (a media type part or a disposition type)."""
    return bool(value) and value.isascii() and not any(
        ch in _TSPECIALS or ord(ch) < 33 or ord(ch) == 127 for ch in value
    )
