"""The one escaping function for text a server (or a certificate) chose and a person will read.

A reply text, an EHLO keyword, an AUTH mechanism name, a certificate subject: any of them can
carry bytes that a terminal or a text viewer acts on instead of showing ("UI spoofing"
by a hostile server). Escaped here, as visible ``\\xNN`` / ``\\uNNNN`` text:

- C0 controls (U+0000-U+001F) except tab, and newline when the caller keeps line breaks;
- DEL (U+007F) and the C1 controls (U+0080-U+009F), U+009B (CSI) among them: a terminal takes
  U+009B as ESC ``[``, so a single code point starts a colour or cursor sequence;
- ESC (U+001B), which starts every ANSI/OSC sequence: escaping it disarms the whole sequence;
- bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the invisible
  direction marks U+200E, U+200F, U+061C ("Trojan Source", CVE-2021-42574): they reorder what
  is shown, so "ENCRYPTED" can appear where the bytes say something else;
- everything else Python does not call printable (other format characters, line and paragraph
  separators, unassigned code points).

:func:`printable` is for plain text; :func:`json_dumps` writes JSON whose strings carry the same
characters as ``\\uNNNN`` escapes (``json.dumps`` leaves DEL, C1 and bidi characters raw).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["json_dumps", "needs_escape", "printable"]

#: Kept as they are: tab (harmless) and, unless asked otherwise, the newline.
_KEPT = frozenset("\t\n")
#: Printable by Python's rules, yet they reorder or hide text (Unicode TR #9).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def needs_escape(char: str) -> bool:
    """Whether one character must not reach a person unescaped."""
    return not char.isprintable() or char in _BIDI


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` safe to show: every character :func:`needs_escape` names becomes visible text.

    ``newlines=False`` escapes line breaks too (one transcript entry stays one line).
    """
    if text.isprintable() and not _BIDI.intersection(text):
        return text  # the common case: one C-level scan, no copy
    kept = _KEPT if newlines else frozenset("\t")
    return "".join(
        _escaped(c) if c not in kept and needs_escape(c) else c for c in text
    )


#: In JSON text from ``json.dumps(ensure_ascii=False)``: every character outside printable
#: ASCII (C0 is already escaped by ``json``, except in the indentation it adds itself).
_JSON_SUSPECT = re.compile("[^\x20-\x7e\n]")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not needs_escape(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # RFC 8259 §7: a character outside the BMP is escaped as its UTF-16 surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_dumps(document: Any, *, indent: int | None = None,
               default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps`` for output a person may read: non-ASCII letters stay readable, but
    DEL, C1 controls, bidi controls and every other character :func:`needs_escape` names
    become ``\\uNNNN`` escapes (``json.dumps`` itself leaves DEL and C1 raw even with
    ``ensure_ascii=True``)."""
    text = json.dumps(document, indent=indent, ensure_ascii=False, default=default)
    return _JSON_SUSPECT.sub(_json_escape, text)
