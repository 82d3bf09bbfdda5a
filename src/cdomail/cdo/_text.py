"""Text helpers for CDO messages: address lists and HTML-to-text (AutoGenerateTextBody)."""

from __future__ import annotations

import functools
import re
from email.utils import formataddr, getaddresses
from html.parser import HTMLParser

from cdomail.errors import InputError

__all__ = [
    "addr_specs",
    "formatted_addresses",
    "html_resources",
    "html_to_text",
    "parse_address_list",
    "split_addresses",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def split_addresses(value: str) -> list[str]:
    """Split a CDO address list on commas *and* semicolons outside quotes, comments and <>.

    ``'a@x; "Name, Jr." <b@y>'`` gives ``['a@x', '"Name, Jr." <b@y>']``.
    """
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth_angle = depth_comment = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted:
            if char == "<":
                depth_angle += 1
            elif char == ">":
                depth_angle = max(0, depth_angle - 1)
            elif char == "(":
                depth_comment += 1
            elif char == ")":
                depth_comment = max(0, depth_comment - 1)
            elif char in ",;" and not depth_angle and not depth_comment:
                items.append("".join(current).strip())
                current = []
                continue
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


# An address list is parsed once, whoever asks (the envelope, the header, Reply): the stdlib's
# parser was a sixth of a CDO Send, and a script usually sends with the same From and often
# the same To. The parse depends on the text alone, so it is kept per text (bounded).
@functools.lru_cache(maxsize=512)
def parse_address_list(value: str) -> tuple[tuple[str, str, str], ...]:
    """Each entry of a CDO address list as ``(entry, display name, address)``, parsed once."""
    entries = []
    for item in split_addresses(value):
        parsed = getaddresses([item])
        name, address = parsed[0] if parsed else ("", "")
        entries.append((item, name, address))
    return tuple(entries)


@functools.lru_cache(maxsize=512)
def formatted_addresses(value: str) -> tuple[str, ...]:
    """The entries of an address list as header text (``Name <a@b>``; unparsable ones as given)."""
    return tuple(
        formataddr((name, address)) if address else item
        for item, name, address in parse_address_list(value)
    )


def addr_specs(value: str | None, *, field: str) -> list[str]:
    """The bare addresses (for the SMTP envelope) of a CDO address list.

    Raises:
        InputError: an entry has no usable address, or contains a control character.
    """
    if not value:
        return []
    result = []
    for item, _name, parsed_address in parse_address_list(value):
        if _CONTROL.search(item):
            raise InputError(f"{field} address {item!r} contains a control character", field=field)
        address = parsed_address.strip()
        if not address or " " in address or address.count("<") or address.count(">"):
            raise InputError(f"{field} entry {item!r} is not an e-mail address", field=field)
        result.append(address)
    return result


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "ul", "ol", "blockquote", "pre", "hr", "title"})
    _SKIPPED = frozenset({"script", "style", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("* ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text for an HTML body, as CDO's AutoGenerateTextBody makes it (tags stripped)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [line.strip() for line in "".join(extractor.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text + "\n" if text else ""


# CdoMHTMLFlags bits (type library values): which switch suppresses which kind of resource.
_SUPPRESS_IMAGES = 1
_SUPPRESS_BG_SOUNDS = 2
_SUPPRESS_OBJECTS = 8
_SUPPRESS_STYLE_SHEETS = 16
_SUPPRESS_ALL = 31
# Scripts have no switch of their own; only cdoSuppressAll (every bit) leaves them out.
# Frames (cdoSuppressFrames, 4) are never embedded here, so that switch changes nothing.
_RESOURCE_ATTRIBUTES = {
    "img": ("src", _SUPPRESS_IMAGES),
    "input": ("src", _SUPPRESS_IMAGES),
    "body": ("background", _SUPPRESS_IMAGES),
    "bgsound": ("src", _SUPPRESS_BG_SOUNDS),
    "embed": ("src", _SUPPRESS_OBJECTS),
    "object": ("data", _SUPPRESS_OBJECTS),
    "script": ("src", _SUPPRESS_ALL),
}


class _ResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in _RESOURCE_ATTRIBUTES:
            attribute, switch = _RESOURCE_ATTRIBUTES[tag]
            if values.get(attribute):
                self.found.append((str(values[attribute]), switch))
        if tag == "link" and (values.get("rel") or "").lower() == "stylesheet" and values.get(
            "href"
        ):
            self.found.append((str(values["href"]), _SUPPRESS_STYLE_SHEETS))


def html_resources(html: str, suppress: int = 0) -> list[str]:
    """The embedded resources (images, scripts, style sheets...) an HTML page references.

    *suppress* is CreateMHTMLBody's CdoMHTMLFlags: a resource whose switch is set is left out
    (the page keeps referring to it by URL), as CDO does.
    """
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    inline = ("cid:", "data:", "mailto:")
    wanted = [
        url
        for url, switch in finder.found
        if (suppress & switch) != switch and not url.lower().startswith(inline)
    ]
    return list(dict.fromkeys(wanted))
