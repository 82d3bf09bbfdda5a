"""PowerShell and Python (win32com) sources.

PowerShell: ``#`` and ``<# #>`` comments, backtick line continuations, ``"..."`` strings that
expand ``$variables``, ``'...'`` strings, here-strings, ``$true``/``$false``, ``-eq``-style
operators, ``[type]`` casts; blocks through the shared brace parser, with ``param(...)``
blocks giving a function's parameters and defaults.

Python: ``#`` comments, quoted and triple-quoted strings, backslash and bracket continuations,
``;`` separators, indentation blocks (``if``/``elif``/``else``, loops, ``def f(port=25):``).
"""

from __future__ import annotations

import re

from ._model import NAME, NUMBER, OP, STRING, Frame, Statement, Token, split_params
from ._tokens_c import NEWLINE, BraceParser

_PS_PARAM_WORDS = frozenset({"parameter", "mandatory", "switch"})
_PS_NAME = re.compile(r"\$\{([^}]+)\}|\$(?:[A-Za-z]+:)?[A-Za-z_0-9?]+|[A-Za-z_][A-Za-z0-9_]*"
                      r"(?:-[A-Za-z][A-Za-z0-9]*)*")
_PS_OPS = ("::", "==", "!=", "+=", "-=", "++", "--")


def tokenize_ps(text: str) -> list[Token]:
    """Tokens of a PowerShell source; newlines kept for the brace parser."""
    tokens: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        char = text[pos]
        if char == "\n":
            tokens.append(Token(NEWLINE, "\n", line))
            line, pos = line + 1, pos + 1
        elif char == "`" and text[pos + 1 : pos + 3].lstrip("\r")[:1] == "\n":
            pos = text.index("\n", pos) + 1
            line += 1
        elif char.isspace():
            pos += 1
        elif text.startswith("<#", pos):
            stop = text.find("#>", pos)
            stop = len(text) if stop < 0 else stop + 2
            line += text.count("\n", pos, stop)
            pos = stop
        elif char == "#":
            stop = text.find("\n", pos)
            pos = len(text) if stop < 0 else stop
        elif text.startswith(('@"', "@'"), pos):
            quote = text[pos + 1]
            stop = text.find("\n" + quote + "@", pos)
            stop = len(text) if stop < 0 else stop
            body = text[text.find("\n", pos) + 1 : stop]
            tokens.append(Token(STRING, body, line, interpolate=quote == '"'))
            line += text.count("\n", pos, stop + 1)
            pos = stop + 3
        elif char in "\"'":
            value, pos = _ps_string(text, pos + 1, char)
            tokens.append(Token(STRING, value, line, interpolate=char == '"'))
        elif char.isdigit():
            match = re.match(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)?", text[pos:])
            assert match is not None
            raw = match.group(0)
            tokens.append(Token(NUMBER, str(int(raw, 16)) if raw.startswith("0x") else raw,
                                line))
            pos += match.end()
        elif char == "-" and re.match(r"-[A-Za-z]+", text[pos:]) and _after_value(tokens):
            match = re.match(r"-[A-Za-z]+", text[pos:])
            assert match is not None
            tokens.append(Token(OP, match.group(0).lower(), line))
            pos += match.end()
        elif (match := _PS_NAME.match(text, pos)) is not None:
            name = (match.group(1) and "$" + match.group(1)) or match.group(0)
            tokens.append(Token(NAME, name, line))
            pos = match.end()
        else:
            size = next((len(op) for op in _PS_OPS if text.startswith(op, pos)), 1)
            tokens.append(Token(OP, text[pos : pos + size], line))
            pos += size
    return tokens


def _after_value(tokens: list[Token]) -> bool:
    """``-eq`` after a value is an operator (``-ComObject`` after a command is read as one too)."""
    return bool(tokens) and tokens[-1].kind != NEWLINE


def _ps_string(text: str, pos: int, quote: str) -> tuple[str, int]:
    chars: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == quote:
            if text[pos + 1 : pos + 2] == quote:
                chars.append(quote)
                pos += 2
                continue
            return "".join(chars), pos + 1
        if char == "`" and quote == '"' and pos + 1 < len(text):
            chars.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(text[pos + 1],
                                                                          text[pos + 1]))
            pos += 2
            continue
        chars.append(char)
        pos += 1
    return "".join(chars), pos


def parse_ps(text: str) -> list[Statement]:
    """Statements of a PowerShell source, with their blocks."""
    return BraceParser(tokenize_ps(text), param_words=_PS_PARAM_WORDS, powershell=True).run()


# --- Python -------------------------------------------------------------------------------
_PY_TOKEN = re.compile(
    r"(?P<string>[rRbBuUfF]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'"
    r"|\"(?:\\.|[^\"\\\n])*\"))"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|\*\*|//|\+=|-=|->|:=|[^\s\w])"
)
_PY_BLOCKS = frozenset({"if", "elif", "else", "for", "while", "def", "with", "try", "except",
                        "finally", "class", "async"})


def _py_literal(raw: str) -> str:
    prefix = re.match(r"[rRbBuUfF]*", raw)
    assert prefix is not None
    body = raw[prefix.end() :]
    quote = 3 if body[:3] in ("'''", '"""') else 1
    body = body[quote:-quote]
    if "r" in prefix.group(0).lower():
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _py_lines(text: str) -> list[tuple[int, list[Token]]]:
    """Logical lines: (indent, tokens); brackets and backslashes join physical lines."""
    lines: list[tuple[int, list[Token]]] = []
    current: list[Token] = []
    indent, depth, line, pos = 0, 0, 1, 0
    at_start = True
    while pos < len(text):
        char = text[pos]
        if at_start:
            stripped = len(text[pos:]) - len(text[pos:].lstrip(" \t"))
            indent, pos, at_start = stripped, pos + stripped, False
            continue
        if char == "\n" or char == "#":
            if char == "#":
                stop = text.find("\n", pos)
                pos = len(text) if stop < 0 else stop
                continue
            line, pos = line + 1, pos + 1
            if depth == 0:
                if current:
                    lines.append((indent, current))
                current, at_start = [], True
            continue
        if char == "\\" and text[pos + 1 : pos + 2] == "\n":
            line, pos = line + 1, pos + 2
            continue
        if char in " \t\r":
            pos += 1
            continue
        match = _PY_TOKEN.match(text, pos)
        if match is None:
            pos += 1
            continue
        kind = match.lastgroup
        value = match.group(0)
        if kind == "string":
            current.append(Token(STRING, _py_literal(value), line))
            line += value.count("\n")
        elif kind == "op":
            depth += value in "([{"
            depth -= value in ")]}"
            if value == ";" and depth == 0:
                if current:
                    lines.append((indent, current))
                current = []
            else:
                current.append(Token(OP, value, line))
        else:
            current.append(Token(NUMBER if kind == "number" else NAME, value, line))
        pos = match.end()
    if current:
        lines.append((indent, current))
    return lines


def parse_py(text: str) -> list[Statement]:
    """Statements of a Python (win32com) source, with their blocks."""
    stack: list[tuple[int, Frame]] = []
    out: list[Statement] = []
    last_if: dict[int, Frame] = {}
    for indent, tokens in _py_lines(text):
        while stack and stack[-1][0] >= indent:
            stack.pop()
        word = tokens[0].text if tokens[0].kind == NAME else ""
        colon = _block_colon(tokens) if word in _PY_BLOCKS else None
        if colon is None:
            out.append(Statement(tuple(tokens), tokens[0].line, tuple(f for _, f in stack)))
            continue
        frame = _py_frame(word, tokens[1:colon], last_if.get(indent))
        if word in ("if", "elif"):
            last_if[indent] = frame
        body = tokens[colon + 1 :]
        if body:  # one-line block: ``if x: stmt``
            out.append(Statement(tuple(body), body[0].line,
                                 (*tuple(f for _, f in stack), frame)))
        else:
            stack.append((indent, frame))
    return out


def _block_colon(tokens: list[Token]) -> int | None:
    depth = 0
    for index, token in enumerate(tokens):
        depth += token.is_op("(", "[", "{") - token.is_op(")", "]", "}")
        if depth == 0 and token.is_op(":"):
            return index
    return None


def _py_frame(word: str, header: list[Token], previous_if: Frame | None) -> Frame:
    if word == "if":
        return Frame.new_if(tuple(header))
    if word == "elif":
        return Frame.new_if(None)
    if word == "else" and previous_if is not None:
        return previous_if.else_branch()
    if word in ("for", "while"):
        return Frame("loop")
    if word == "except" or word == "else":
        return Frame.new_if(None)
    if word == "def" and header:
        inside = header[2:-1] if len(header) > 2 and header[-1].is_op(")") else header[2:]
        if header and any(t.is_op("->") for t in header):
            arrow = next(i for i, t in enumerate(header) if t.is_op("->"))
            inside = header[2 : arrow - 1]
        return Frame("function", name=header[0].text,
                     params=split_params(inside, strip=frozenset({"self"})))
    return Frame("block")
