"""Evaluate an expression's tokens to a value, or to :class:`Unknown` naming what it needs.

Covers what CDO snippets put on the right of ``=``: literals of every family (``True``,
``$true``, ``true``, ``Nothing``, ``None``), ``&``/``+`` concatenation, arithmetic, unary minus,
comparisons (``=``, ``<>``, ``==``, ``-eq`` ...), ``Not``/``!``/``And``/``Or``, the C ternary,
conversion calls (``CInt``, ``CStr``, ``int()``, ``[int]``), PowerShell ``"$var"`` expansion
and dotted type-library paths (``CDO.CdoSendUsing.cdoSendUsingPort``). Anything else -- a call,
an indexer, an unknown name -- is :class:`Unknown`, keyed so a scenario can bind it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._model import NAME, NUMBER, OP, STRING, Token


@dataclass(frozen=True)
class Unknown:
    """A value the source does not fix; *keys* are the names it depends on."""

    keys: frozenset[str]
    text: str

    def __str__(self) -> str:
        return self.text


Lookup = Callable[[str, str], Any]
"""``lookup(key, spelling)`` -> a value or :class:`Unknown`."""

_LITERALS: dict[str, Any] = {
    "true": True, "$true": True, "false": False, "$false": False, "nothing": None,
    "null": None, "$null": None, "none": None, "empty": None, "vbnullstring": "",
    "vbcrlf": "\r\n", "vblf": "\n", "vbcr": "\r", "vbtab": "\t", "@crlf": "\r\n", "@lf": "\n",
    "string.empty": "",
}
_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "cint": lambda v: v, "clng": lambda v: v, "cdbl": lambda v: v, "int": lambda v: v,
    "number": lambda v: v, "parseint": lambda v: v, "convert.toint32": lambda v: v,
    "cbool": lambda v: v, "bool": lambda v: v, "cstr": str, "str": str, "string": str,
    "trim": lambda v: str(v).strip(), "lcase": lambda v: str(v).lower(),
    "ucase": lambda v: str(v).upper(), "tostring": str,
}
#: C#/JScript conversion methods called on a value: ``port.ToString()``, ``s.toLowerCase()``.
_METHOD_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "tostring": lambda v: _vb_text(v), "tolower": lambda v: _vb_text(v).lower(),
    "tolowercase": lambda v: _vb_text(v).lower(), "toupper": lambda v: _vb_text(v).upper(),
    "trim": lambda v: _vb_text(v).strip(),
}
_COMPARE = {"=": "eq", "==": "eq", "===": "eq", "-eq": "eq", "<>": "ne", "!=": "ne",
            "!==": "ne", "-ne": "ne", "<": "lt", "-lt": "lt", ">": "gt", "-gt": "gt",
            "<=": "le", "-le": "le", ">=": "ge", "-ge": "ge"}
_OR = frozenset({"or", "||", "-or", "orelse"})
_AND = frozenset({"and", "&&", "-and", "andalso"})
_NOT = frozenset({"not", "!", "-not"})


def truthy(value: Any) -> bool:
    """A condition's truth, as scripting languages read it."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false")
    return bool(value)


def evaluate(tokens: tuple[Token, ...] | list[Token], lookup: Lookup) -> Any:
    """The value of *tokens*, or :class:`Unknown`."""
    if not tokens:
        return Unknown(frozenset(), "")
    parser = _Parser(list(tokens), lookup)
    value = parser.ternary()
    if parser.pos < len(parser.tokens):
        return _opaque(tokens, lookup)
    return value


def _text(tokens: list[Token] | tuple[Token, ...]) -> str:
    out = ""
    for token in tokens:
        piece = f'"{token.text}"' if token.kind == STRING else token.text
        tight = token.is_op(".", "(", ")", "[", "]", ",", "::") or out.endswith(
            (".", "(", "[", "::"))
        out += piece if not out or tight else " " + piece
    return out


def _opaque(tokens: list[Token] | tuple[Token, ...], lookup: Lookup) -> Any:
    text = _text(tokens)
    return lookup(text.lower(), text)


def _merge(*values: Any, text: str) -> Unknown:
    keys: frozenset[str] = frozenset()
    for value in values:
        if isinstance(value, Unknown):
            keys |= value.keys
    return Unknown(keys, text)


class _Parser:
    def __init__(self, tokens: list[Token], lookup: Lookup) -> None:
        self.tokens = tokens
        self.pos = 0
        self.lookup = lookup

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take_word(self, words: frozenset[str]) -> bool:
        token = self._peek()
        if token is not None and token.text.lower() in words and token.kind in (NAME, OP):
            self.pos += 1
            return True
        return False

    def ternary(self) -> Any:
        start = self.pos
        condition = self.logic()
        token = self._peek()
        if token is None or not token.is_op("?"):
            return condition
        self.pos += 1
        first = self.ternary()
        if self._peek() is not None and self._peek().is_op(":"):  # type: ignore[union-attr]
            self.pos += 1
        second = self.ternary()
        text = _text(self.tokens[start : self.pos])
        if isinstance(condition, Unknown):
            return _merge(condition, first, second, text=text)
        return first if truthy(condition) else second

    def logic(self) -> Any:
        start = self.pos
        left = self.negation()
        while True:
            if self._take_word(_OR):
                right, is_or = self.negation(), True
            elif self._take_word(_AND):
                right, is_or = self.negation(), False
            else:
                return left
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                left = _merge(left, right, text=_text(self.tokens[start : self.pos]))
            else:
                left = (truthy(left) or truthy(right)) if is_or else (truthy(left)
                                                                       and truthy(right))

    def negation(self) -> Any:
        if self._take_word(_NOT):
            value = self.negation()
            return value if isinstance(value, Unknown) else not truthy(value)
        return self.comparison()

    def comparison(self) -> Any:
        start = self.pos
        left = self.concat()
        token = self._peek()
        while token is not None and token.kind == OP and token.text.lower() in _COMPARE:
            self.pos += 1
            right = self.concat()
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                left = _merge(left, right, text=_text(self.tokens[start : self.pos]))
            else:
                left = _compare(_COMPARE[token.text.lower()], left, right)
            token = self._peek()
        return left

    def concat(self) -> Any:
        start = self.pos
        left = self.additive()
        while self._peek() is not None and self._peek().is_op("&"):  # type: ignore[union-attr]
            self.pos += 1
            right = self.additive()
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                left = _merge(left, right, text=_text(self.tokens[start : self.pos]))
            else:
                left = _vb_text(left) + _vb_text(right)
        return left

    def additive(self) -> Any:
        start = self.pos
        left = self.unary()
        while (token := self._peek()) is not None and token.is_op("+", "-", "*", "/"):
            self.pos += 1
            right = self.unary()
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                left = _merge(left, right, text=_text(self.tokens[start : self.pos]))
            else:
                left = _arithmetic(token.text, left, right)
        return left

    def unary(self) -> Any:
        token = self._peek()
        if token is not None and token.is_op("-", "+"):
            self.pos += 1
            value = self.unary()
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and token.text == "-":
                return -value
            return value
        return self.primary()

    def primary(self) -> Any:
        token = self._peek()
        if token is None:
            return Unknown(frozenset(), "")
        if token.kind == STRING:
            self.pos += 1
            return self._string(token)
        if token.kind == NUMBER:
            self.pos += 1
            return float(token.text) if "." in token.text or "e" in token.text.lower() \
                else int(token.text)
        if token.is_op("("):
            self.pos += 1
            value = self.ternary()
            if self._peek() is not None and self._peek().is_op(")"):  # type: ignore[union-attr]
                self.pos += 1
            return value
        if token.is_op("[") and self._cast_ahead():
            self.pos += 3
            return self.unary()
        if token.kind == NAME:
            return self._path()
        self.pos = len(self.tokens)  # something we do not read: the whole is opaque
        return _opaque(self.tokens, self.lookup)

    def _cast_ahead(self) -> bool:
        ahead = self.tokens[self.pos : self.pos + 3]
        return len(ahead) == 3 and ahead[1].kind == NAME and ahead[2].is_op("]") \
            and self.pos + 3 < len(self.tokens)

    def _string(self, token: Token) -> Any:
        if not token.interpolate or "$" not in token.text:
            return token.text
        parts: list[Any] = []
        for piece in re.split(r"(\$\{[^}]+\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*)",
                              token.text):
            if piece.startswith("${"):
                parts.append(self.lookup("$" + piece[2:-1].lower(), "$" + piece[2:-1]))
            elif piece.startswith("$(") or (piece.startswith("$") and len(piece) > 1):
                parts.append(self.lookup(piece.lower(), piece) if not piece.startswith("$(")
                             else Unknown(frozenset({piece.lower()}), piece))
            else:
                parts.append(piece)
        if any(isinstance(p, Unknown) for p in parts):
            return _merge(*parts, text=f'"{token.text}"')
        return "".join(_vb_text(p) for p in parts)

    def _path(self) -> Any:
        start = self.pos
        names = [self.tokens[self.pos].text]
        self.pos += 1
        while (token := self._peek()) is not None:
            nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if token.is_op(".", "::") and nxt is not None and nxt.kind == NAME:
                names.append(nxt.text)
                self.pos += 2
            elif token.is_op("(", "["):
                return self._call(start, names)
            else:
                break
        dotted = ".".join(names).lower()
        if dotted in _LITERALS:
            return _LITERALS[dotted]
        if len(names) == 1:
            return self.lookup(names[0].lower(), names[0])
        last = self.lookup(names[-1].lower(), names[-1])
        if not isinstance(last, Unknown) and names[-1].lower().startswith("cdo"):
            return last  # CDO.CdoSendUsing.cdoSendUsingPort, constants.cdoBasic
        text = _text(self.tokens[start : self.pos])
        return self.lookup(text.lower(), text)

    def _call(self, start: int, names: list[str]) -> Any:
        opening = self.pos
        depth = 0
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            depth += token.is_op("(", "[") - token.is_op(")", "]")
            self.pos += 1
            if depth == 0:
                break
        inner = self.tokens[opening + 1 : self.pos - 1]
        function = ".".join(names).lower().lstrip("$")
        if not inner and len(names) > 1 and names[-1].lower() in _METHOD_CONVERSIONS:
            # ``nPort.ToString()``: a conversion method on a value the source fixes.
            receiver = ".".join(names[:-1])
            value = self.lookup(receiver.lower(), receiver)
            if not isinstance(value, Unknown):
                return _METHOD_CONVERSIONS[names[-1].lower()](value)
        if function in _CONVERSIONS and inner:
            value = evaluate(inner, self.lookup)
            if isinstance(value, Unknown):
                return value
            try:
                return _CONVERSIONS[function](value)
            except (TypeError, ValueError):
                pass
        text = _text(self.tokens[start : self.pos])
        return self.lookup(text.lower(), text)


def _vb_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if op == "+" and not numeric:
        return _vb_text(left) + _vb_text(right)
    if not numeric:
        return Unknown(frozenset(), f"{left!r} {op} {right!r}")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right if right else Unknown(frozenset(), "division by zero")


def _compare(how: str, left: Any, right: Any) -> bool:
    def norm(value: Any) -> Any:
        if isinstance(value, bool):
            return -1 if value else 0
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value.lower()
        return value if value is not None else ""

    a, b = norm(left), norm(right)
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        a, b = str(a), str(b)
    outcomes: dict[str, bool] = {"eq": a == b, "ne": a != b, "lt": a < b, "gt": a > b,
                                 "le": a <= b, "ge": a >= b}
    return outcomes[how]
