"""C-style source (JScript, C#, JavaScript) and the brace-block parser PowerShell shares.

Lexing: ``//`` and ``/* */`` comments, ``"..."``/``'...'`` strings with backslash escapes,
C# ``@"..."`` verbatim strings. Structure: ``if``/``else``, braceless bodies, loops,
``switch``, ``try``/``catch``, functions and C# methods with their parameters (``int port =
25``). A newline ends a statement only where it cannot continue (JScript without ``;``).
"""

from __future__ import annotations

import re

from ._model import NAME, NUMBER, OP, STRING, Frame, Statement, Token, split_params

NEWLINE = "nl"
_OPS = ("===", "!==", "==", "!=", "&&", "||", "<=", ">=", "+=", "-=", "=>", "??", "?.", "::")
_CONTINUES = frozenset({".", "+", "-", "*", "/", "&", "&&", "||", "?", ":", ",", "(", "[", "=",
                        "==", "!=", "??", "?.", "=>"})
_C_TYPES = frozenset({"string", "int", "bool", "var", "object", "short", "long", "double",
                      "const", "let", "ref", "out", "in", "params", "this", "readonly",
                      "dynamic", "final"})
_LOOPS = frozenset({"for", "foreach", "while"})
_BLOCK_WORDS = frozenset({"class", "namespace", "struct", "interface", "module"})


def tokenize_c(text: str) -> list[Token]:
    """Tokens of a C-style source; newlines kept as :data:`NEWLINE` tokens."""
    tokens: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        char = text[pos]
        if char == "\n":
            tokens.append(Token(NEWLINE, "\n", line))
            line += 1
            pos += 1
        elif char.isspace():
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            stop = len(text) if end < 0 else end + 2
            line += text.count("\n", pos, stop)
            pos = stop
        elif text.startswith('@"', pos):
            value, pos = _verbatim(text, pos + 2)
            tokens.append(Token(STRING, value, line))
        elif char in "\"'":
            value, pos = _escaped(text, pos + 1, char)
            tokens.append(Token(STRING, value, line))
        elif char.isdigit():
            match = re.match(r"0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[lLfFdDmM]?",
                             text[pos:])
            assert match is not None
            raw = match.group(0).rstrip("lLfFdDmM")
            tokens.append(Token(NUMBER, str(int(raw, 16)) if raw[:2].lower() == "0x" else raw,
                                line))
            pos += match.end()
        elif char.isalpha() or char in "_$":
            match = re.match(r"[A-Za-z_$][A-Za-z0-9_$]*", text[pos:])
            assert match is not None
            tokens.append(Token(NAME, match.group(0), line))
            pos += match.end()
        else:
            size = next((len(op) for op in _OPS if text.startswith(op, pos)), 1)
            tokens.append(Token(OP, text[pos : pos + size], line))
            pos += size
    return tokens


def _escaped(text: str, pos: int, quote: str) -> tuple[str, int]:
    chars: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
    while pos < len(text) and text[pos] != quote and text[pos] != "\n":
        if text[pos] == "\\" and pos + 1 < len(text):
            chars.append(escapes.get(text[pos + 1], text[pos + 1]))
            pos += 2
            continue
        chars.append(text[pos])
        pos += 1
    return "".join(chars), pos + 1


def _verbatim(text: str, pos: int) -> tuple[str, int]:
    chars: list[str] = []
    while pos < len(text):
        if text[pos] == '"':
            if text[pos + 1 : pos + 2] == '"':
                chars.append('"')
                pos += 2
                continue
            return "".join(chars), pos + 1
        chars.append(text[pos])
        pos += 1
    return "".join(chars), pos


class BraceParser:
    """Statements and their blocks from a token list of a brace language."""

    def __init__(self, tokens: list[Token], *, param_words: frozenset[str] = _C_TYPES,
                 powershell: bool = False) -> None:
        self.tokens = tokens
        self.pos = 0
        self.out: list[Statement] = []
        self.param_words = param_words
        self.powershell = powershell

    def run(self) -> list[Statement]:
        while self._skip_newlines() < len(self.tokens):
            if self._peek_op("}"):
                self.pos += 1  # an unbalanced brace: skip it
                continue
            self._statement([])
        return self.out

    # --- helpers ----------------------------------------------------------------------------
    def _skip_newlines(self) -> int:
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == NEWLINE:
            self.pos += 1
        return self.pos

    def _peek(self) -> Token | None:
        self._skip_newlines()
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _peek_op(self, op: str) -> bool:
        token = self._peek()
        return token is not None and token.is_op(op)

    def _group(self) -> list[Token]:
        """The tokens inside the parenthesised group at the cursor (consumed)."""
        if not self._peek_op("("):
            return []
        depth, inside = 0, []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token.is_op("(", "[", "{"):
                depth += 1
                if depth == 1:
                    continue
            elif token.is_op(")", "]", "}"):
                depth -= 1
                if depth == 0:
                    break
            if token.kind != NEWLINE:
                inside.append(token)
        return inside

    # --- statements ---------------------------------------------------------------------------
    def _block(self, frames: list[Frame]) -> None:
        """A ``{ ... }`` body (the cursor is on ``{``)."""
        self.pos += 1
        while True:
            token = self._peek()
            if token is None:
                return
            if token.is_op("}"):
                self.pos += 1
                return
            self._statement(frames)

    def _statement(self, frames: list[Frame]) -> None:
        token = self._peek()
        if token is None:
            return
        word = token.text.lower() if token.kind == NAME else ""
        if token.is_op("{"):
            self._block([*frames, Frame("block")])
        elif token.is_op(";"):
            self.pos += 1
        elif word == "if":
            self._if(frames)
        elif word in _LOOPS or word in ("switch", "catch", "using", "lock", "do", "try",
                                        "finally", "else", "elseif", "trap"):
            self._compound(word, frames)
        elif word == "function" and self.pos + 1 < len(self.tokens) \
                and self.tokens[self.pos + 1].kind == NAME:
            self._function(frames)
        elif word in _BLOCK_WORDS:
            self._skip_to_brace()
            if self._peek_op("{"):
                self._block([*frames, Frame("block")])
        elif word and (method := self._method_header()) is not None:
            self._skip_to_brace()
            self._block([*frames, method])
        else:
            self._simple(frames)

    def _if(self, frames: list[Frame]) -> None:
        self.pos += 1
        frame = Frame.new_if(tuple(self._group()))
        self._body([*frames, frame])
        token = self._peek()
        if token is not None and token.is_name("elseif"):
            self._if_after_else(frames, frame)
        elif token is not None and token.is_name("else"):
            self.pos += 1
            self._body([*frames, frame.else_branch()])

    def _if_after_else(self, frames: list[Frame], first: Frame) -> None:
        # ``elseif (c)`` (PowerShell) runs only when the first condition was false.
        self.pos += 1
        inner = Frame.new_if(tuple(self._group()))
        self._body([*frames, first.else_branch(), inner])
        token = self._peek()
        if token is not None and token.is_name("elseif"):
            self._if_after_else([*frames, first.else_branch()], inner)
        elif token is not None and token.is_name("else"):
            self.pos += 1
            self._body([*frames, first.else_branch(), inner.else_branch()])

    def _compound(self, word: str, frames: list[Frame]) -> None:
        self.pos += 1
        if word in ("else", "elseif"):
            frame = Frame.new_if(None)  # an else without its if: opaque
        elif word in _LOOPS or word == "do":
            frame = Frame("loop")
        elif word in ("switch", "catch", "trap"):
            frame = Frame.new_if(None)
        else:
            frame = Frame("block")
        if word not in ("do", "try", "finally", "else"):
            self._group()
        self._body([*frames, frame])
        following = self._peek()
        if word == "do" and following is not None and following.is_name("while"):
            self.pos += 1
            self._group()

    def _body(self, frames: list[Frame]) -> None:
        if self._peek_op("{"):
            self._block(frames)
        else:
            self._statement(frames)

    def _function(self, frames: list[Frame]) -> None:
        self.pos += 1
        name = self.tokens[self.pos].text
        self.pos += 1
        params = split_params(self._group(), strip=self.param_words)
        if not self._peek_op("{"):
            return
        frame = Frame("function", name=name, params=params)
        self.pos += 1
        if self.powershell:
            self._skip_attributes()  # [CmdletBinding()] before param(...)
        token = self._peek()
        if self.powershell and token is not None and token.is_name("param"):
            self.pos += 1
            frame = Frame("function", name=name,
                          params=split_params(self._group(), strip=self.param_words))
        self._rest_of_block([*frames, frame])

    def _skip_attributes(self) -> None:
        while self._peek_op("["):
            depth = 0
            while self.pos < len(self.tokens):
                token = self.tokens[self.pos]
                self.pos += 1
                depth += token.is_op("[") - token.is_op("]")
                if depth == 0:
                    break

    def _rest_of_block(self, frames: list[Frame]) -> None:
        while True:
            token = self._peek()
            if token is None:
                return
            if token.is_op("}"):
                self.pos += 1
                return
            self._statement(frames)

    def _method_header(self) -> Frame | None:
        """``public static void Send(int port = 25) {``: a C# method, with its parameters."""
        header: list[Token] = []
        depth = 0
        for token in self.tokens[self.pos :]:
            if token.kind == NEWLINE:
                continue
            if token.is_op("{") and depth == 0:
                break
            if depth == 0 and (token.is_op("=", ";", "}", ".") or token.kind == STRING):
                return None
            depth += token.is_op("(") - token.is_op(")")
            header.append(token)
        else:
            return None
        opening = next((i for i, t in enumerate(header) if t.is_op("(")), None)
        if opening is None or opening == 0 or header[opening - 1].kind != NAME \
                or not header[-1].is_op(")"):
            return None
        return Frame("function", name=header[opening - 1].text,
                     params=split_params(header[opening + 1 : -1], strip=self.param_words))

    def _skip_to_brace(self) -> None:
        while self.pos < len(self.tokens) and not self.tokens[self.pos].is_op("{", ";"):
            self.pos += 1

    def _simple(self, frames: list[Frame]) -> None:
        statement: list[Token] = []
        depth = 0
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if depth == 0 and (token.is_op(";") or token.is_op("}")):
                if token.is_op(";"):
                    self.pos += 1
                break
            if token.kind == NEWLINE:
                self.pos += 1
                if depth == 0 and statement and self._ends_here(statement):
                    break
                continue
            if token.is_name("function") and self._anonymous_function(frames):
                statement.append(token)  # the function's value stands in the expression
                continue
            if token.is_op("(", "[", "{"):
                depth += 1
            elif token.is_op(")", "]", "}"):
                depth -= 1
            statement.append(token)
            self.pos += 1
        if statement:
            self.out.append(Statement(tuple(statement), statement[0].line, tuple(frames)))

    def _anonymous_function(self, frames: list[Frame]) -> bool:
        """``function (a, b) { ... }`` inside an expression -- an IIFE wrapper, a callback, a
        method in an object literal: its body is parsed as a function whose parameters are
        unknown, instead of vanishing into the enclosing statement."""
        following = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if following is None or not following.is_op("("):
            return False
        self.pos += 1
        params = split_params(self._group(), strip=self.param_words)
        if self._peek_op("{"):
            self.pos += 1
            self._rest_of_block([*frames, Frame("function", name="function", params=params)])
        return True

    def _ends_here(self, statement: list[Token]) -> bool:
        last = statement[-1]
        if last.kind == OP and last.text in _CONTINUES:
            return False
        following = self._peek()
        return following is None or not (following.kind == OP and following.text in _CONTINUES
                                         and following.text not in ("(", "["))


def parse_c(text: str) -> list[Statement]:
    """Statements of a JScript / C# source, with their blocks."""
    return BraceParser(tokenize_c(text)).run()
