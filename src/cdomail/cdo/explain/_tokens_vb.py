"""VB-style source: VBScript, VBA, classic ASP and AutoIt.

Lexing: ``'`` and ``Rem`` comments (``;`` and ``#cs``/``#ce`` in AutoIt), ``_`` line
continuations, ``:`` statement separators, ``""`` inside strings, ``<% %>`` in ASP pages.
Structure: ``If``/``ElseIf``/``Else``/``End If`` (and the one-line ``If c Then s``),
``Select Case``, loops, ``Sub``/``Function``/``Func`` with their parameters (``Optional x = 25``,
AutoIt ``$x = 25``), ``With``. Names are case-insensitive, as in VB.
"""

from __future__ import annotations

import re

from ._model import NAME, NUMBER, OP, STRING, Frame, Statement, Token, split_params

_TWO_CHAR_OPS = ("<>", "<=", ">=", "&=", "+=", "-=", "==")
_PARAM_WORDS = frozenset({"optional", "byval", "byref", "paramarray", "const"})
_MODIFIERS = frozenset({"public", "private", "friend", "static", "global", "local"})
_ASP_BLOCK = re.compile(r"<%=?(.*?)%>", re.S)


def _asp_code(text: str) -> str:
    """Keep only the script inside ``<% %>``, with every newline kept (line numbers hold)."""
    out: list[str] = []
    position = 0
    for match in _ASP_BLOCK.finditer(text):
        out.append(re.sub(r"[^\n]", " ", text[position : match.start()]))
        out.append("\n" if match.group(0).startswith("<%=") else " ")
        out.append(match.group(1))
        out.append("\n")
        position = match.end()
    out.append(re.sub(r"[^\n]", " ", text[position:]))
    return "".join(out)


class _Lexer:
    """Characters to logical lines, each a list of statements (lists of tokens)."""

    def __init__(self, text: str, autoit: bool) -> None:
        self.text = text
        self.autoit = autoit
        self.pos = 0
        self.line = 1
        self.lines: list[list[list[Token]]] = [[[]]]

    def _emit(self, kind: str, value: str) -> None:
        self.lines[-1][-1].append(Token(kind, value, self.line))

    def _end_statement(self) -> None:
        if self.lines[-1][-1]:
            self.lines[-1].append([])

    def _end_line(self) -> None:
        self.line += 1
        if any(self.lines[-1]):
            self.lines.append([[]])
        else:
            self.lines[-1] = [[]]

    def _skip_to_eol(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def run(self) -> list[list[list[Token]]]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\n":
                self._end_line()
                self.pos += 1
            elif char in " \t\r\f\v":
                self.pos += 1
            elif self._comment_here(char):
                self._skip_to_eol()
            elif char == "_" and self._continuation_here():
                self._skip_to_eol()
                self.pos += 1
                self.line += 1
            elif char == '"' or (char == "'" and self.autoit):
                self._string(char)
            elif char == ":" and not self.autoit:
                self._end_statement()
                self.pos += 1
            elif char.isdigit() or (char == "." and text[self.pos + 1 : self.pos + 2].isdigit()):
                self._number()
            elif char == "&" and text[self.pos + 1 : self.pos + 2] in ("H", "h"):
                self._hex()
            elif char.isalpha() or char in "_$@":
                self._name()
            else:
                self._operator()
        return [[s for s in line if s] for line in self.lines if any(line)]

    def _comment_here(self, char: str) -> bool:
        if char == "'" and not self.autoit:
            return True
        if char == ";" and self.autoit:
            return True
        at_start = not self.lines[-1][-1]
        if at_start and char == "#":
            if self.autoit and re.match(r"#(cs|comments-start)\b", self.text[self.pos :], re.I):
                end = re.search(r"^\s*#(ce|comments-end)\b.*$", self.text[self.pos :], re.I | re.M)
                stop = len(self.text) if end is None else self.pos + end.end()
                self.line += self.text.count("\n", self.pos, stop)
                self.pos = stop
                return False
            return True  # #include, #NoTrayIcon, VBA #If ... (preprocessor lines)
        return at_start and re.match(r"rem\b", self.text[self.pos :], re.I) is not None

    def _continuation_here(self) -> bool:
        before = self.text[self.pos - 1 : self.pos]
        if before not in ("", " ", "\t"):
            return False
        rest = self.text[self.pos + 1 :]
        end = rest.find("\n")
        return not (rest if end < 0 else rest[:end]).strip()

    def _string(self, quote: str) -> None:
        chars: list[str] = []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == quote:
                if self.text[self.pos + 1 : self.pos + 2] == quote:
                    chars.append(quote)
                    self.pos += 2
                    continue
                self.pos += 1
                break
            if char == "\n":
                break  # unterminated: VB ends the string with the line
            chars.append(char)
            self.pos += 1
        self._emit(STRING, "".join(chars))

    def _number(self) -> None:
        match = re.match(r"\d*\.?\d+(?:[eE][-+]?\d+)?[%&!#@]?", self.text[self.pos :])
        assert match is not None
        self.pos += match.end()
        self._emit(NUMBER, match.group(0).rstrip("%&!#@"))

    def _hex(self) -> None:
        match = re.match(r"&[Hh]([0-9A-Fa-f]+)&?", self.text[self.pos :])
        if match is None:
            self._operator()
            return
        self.pos += match.end()
        self._emit(NUMBER, str(int(match.group(1), 16)))

    def _name(self) -> None:
        match = re.match(r"[A-Za-z_$@][A-Za-z0-9_]*", self.text[self.pos :])
        assert match is not None
        self.pos += match.end()
        self._emit(NAME, match.group(0))

    def _operator(self) -> None:
        pair = self.text[self.pos : self.pos + 2]
        size = 2 if pair in _TWO_CHAR_OPS else 1
        self._emit(OP, self.text[self.pos : self.pos + size])
        self.pos += size


def tokenize_vb(text: str, *, autoit: bool = False) -> list[Statement]:
    """Statements of a VBScript / VBA / ASP / AutoIt source, with their blocks."""
    if "<%" in text:
        text = _asp_code(text)
    lines = _Lexer(text, autoit).run()
    return _Structurer().run(lines)


class _Structurer:
    """Tracks the block stack across logical lines."""

    def __init__(self) -> None:
        self.stack: list[Frame] = []
        self.out: list[Statement] = []

    def run(self, lines: list[list[list[Token]]]) -> list[Statement]:
        for statements in lines:
            line_frames: list[Frame] = []
            for tokens in statements:
                line_frames = self._statement(tokens, line_frames)
        return self.out

    def _emit(self, tokens: list[Token], extra: list[Frame]) -> None:
        if tokens:
            self.out.append(Statement(tuple(tokens), tokens[0].line,
                                      tuple(self.stack + extra)))

    def _pop(self, *kinds: str) -> None:
        while self.stack:
            frame = self.stack.pop()
            if frame.kind in kinds:
                return

    def _statement(self, tokens: list[Token], extra: list[Frame]) -> list[Frame]:
        words = [t.text.lower() for t in tokens[:3] if t.kind == NAME]
        while words and words[0] in _MODIFIERS and len(tokens) > 1 and tokens[1].kind == NAME \
                and tokens[1].text.lower() in ("sub", "function", "func", "property", "const",
                                              "dim", "class", "enum"):
            tokens = tokens[1:]
            words = words[1:]
        first = words[0] if words and tokens[0].kind == NAME else ""
        second = words[1] if len(words) > 1 else ""
        if first == "if":
            return self._if(tokens, extra)
        if first == "elseif":
            self._pop("if")
            self.stack.append(Frame.new_if(tuple(_until_then(tokens[1:]))))
            return extra
        if first == "else" and len(tokens) == 1:
            self._else()
            return extra
        if first in ("endif", "wend", "next", "loop", "endfunc", "endwith", "endswitch",
                     "endselect", "until") or (first == "end" and second):
            self._close(first, second)
            return extra
        if first in ("select", "switch"):
            self.stack.append(Frame.new_if(None))
        elif first == "case":
            self._pop("if")
            self.stack.append(Frame.new_if(None))
        elif first in ("for", "do", "while"):
            self.stack.append(Frame("loop"))
        elif first in ("sub", "function", "func") or (first == "property" and second):
            self.stack.append(_function_frame(tokens))
        elif first == "with":
            self.stack.append(Frame("with", target=_qualify(tokens[1:], self.stack)))
        elif first in ("class", "enum", "type") and len(tokens) == 2:
            self.stack.append(Frame("block"))
        elif first == "call":
            self._emit(tokens[1:], extra)
        else:
            self._emit(tokens, extra)
        return extra

    def _if(self, tokens: list[Token], extra: list[Frame]) -> list[Frame]:
        condition = _until_then(tokens[1:])
        rest = tokens[1 + len(condition) + 1 :]
        frame = Frame.new_if(tuple(condition))
        if not rest:
            self.stack.append(frame)
            return extra
        # One-line If: the rest of the line (and any ':' statements after it) is conditional.
        split = next((i for i, t in enumerate(rest) if t.is_name("else")), None)
        then_part, else_part = (rest, []) if split is None else (rest[:split], rest[split + 1 :])
        self._statement(then_part, [*extra, frame])
        if else_part:
            self._statement(else_part, [*extra, frame.else_branch()])
        return [*extra, frame]

    def _else(self) -> None:
        if self.stack and self.stack[-1].kind == "if":
            self.stack.append(self.stack.pop().else_branch())

    def _close(self, first: str, second: str) -> None:
        word = second if first == "end" else first
        kinds = {"if": ("if",), "endif": ("if",), "select": ("if",), "endswitch": ("if",),
                 "endselect": ("if",), "wend": ("loop",), "next": ("loop",), "loop": ("loop",),
                 "until": ("loop",), "with": ("with",), "endwith": ("with",),
                 "sub": ("function",), "function": ("function",), "property": ("function",),
                 "endfunc": ("function",), "class": ("block",), "enum": ("block",),
                 "type": ("block",)}.get(word)
        if kinds:
            self._pop(*kinds)


def _until_then(tokens: list[Token]) -> list[Token]:
    for index, token in enumerate(tokens):
        if token.is_name("then"):
            return tokens[:index]
    return tokens


def _function_frame(tokens: list[Token]) -> Frame:
    start = 2 if tokens[0].is_name("property") else 1
    name = tokens[start].text if len(tokens) > start else ""
    inside: list[Token] = []
    depth = 0
    for token in tokens[start + 1 :]:
        if token.is_op("("):
            depth += 1
            if depth == 1:
                continue
        elif token.is_op(")"):
            depth -= 1
            if depth == 0:
                break
        if depth >= 1:
            inside.append(token)
    return Frame("function", name=name, params=split_params(inside, strip=_PARAM_WORDS))


def _qualify(target: list[Token], stack: list[Frame]) -> tuple[Token, ...]:
    """``With .Fields`` inside ``With m.Configuration`` is ``m.Configuration.Fields``."""
    if target and target[0].is_op("."):
        for frame in reversed(stack):
            if frame.kind == "with":
                return frame.target + tuple(target)
    return tuple(target)
