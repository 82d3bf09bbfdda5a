"""EHLO capability parsing (RFC 5321 §4.1.1.1 and the extension RFCs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Extensions:
    """What the server said it supports in its last EHLO reply.

    Keywords are upper-cased; ``params`` keeps each keyword's parameters.
    AUTH mechanisms come from both ``AUTH x y`` and the obsolete ``AUTH=x y``
    form that some servers still send alongside it.
    """

    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domain: str = ""

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Extensions:
        """Parse the lines of a 250 reply to EHLO; the first line is the greeting domain."""
        lines = list(lines)
        params: dict[str, tuple[str, ...]] = {}
        auth: list[str] = []
        for line in lines[1:]:
            words = line.split()
            if not words:
                continue
            keyword = words[0].upper()
            if keyword.startswith("AUTH="):
                # Obsolete form (pre-RFC 4954 Microsoft/Netscape clients): "AUTH=LOGIN PLAIN".
                auth.extend([keyword[5:], *(w.upper() for w in words[1:])])
                continue
            if keyword == "AUTH":
                auth.extend(w.upper() for w in words[1:])
                continue
            params[keyword] = tuple(words[1:])
        if auth:
            params["AUTH"] = tuple(dict.fromkeys(m for m in auth if m))
        domain = lines[0].split()[0] if lines and lines[0].split() else ""
        return cls(params=params, domain=domain)

    def has(self, keyword: str) -> bool:
        """Whether the keyword (case-insensitive) was advertised."""
        return keyword.upper() in self.params

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        """Advertised SASL mechanisms, upper-case, in the server's order."""
        return self.params.get("AUTH", ())

    @property
    def max_size(self) -> int | None:
        """RFC 1870 SIZE limit; ``None`` when absent or 0 (no fixed limit)."""
        values = self.params.get("SIZE")
        if values is None or not values or not values[0].isdigit():
            return None
        return int(values[0]) or None

    @property
    def names(self) -> tuple[str, ...]:
        """Every advertised keyword, sorted."""
        return tuple(sorted(self.params))
