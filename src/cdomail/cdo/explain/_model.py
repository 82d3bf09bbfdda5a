"""The shapes every tokenizer produces and the analysis consumes: tokens, blocks, statements.

A tokenizer turns source text into :class:`Statement` objects: the tokens of one statement
(comments removed, continuations joined, separators split) and the stack of blocks it sits in
(``If`` branches, function bodies with their parameters, ``With`` targets, loops).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

#: Token kinds.
NAME = "name"
STRING = "str"
NUMBER = "num"
OP = "op"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Token:
    """One token. ``text`` is the decoded value for strings, the spelling otherwise."""

    kind: str
    text: str
    line: int
    #: PowerShell double-quoted strings expand ``$variables``.
    interpolate: bool = False

    def is_name(self, *words: str) -> bool:
        """Whether this is a name spelled as one of *words* (case-insensitive)."""
        return self.kind == NAME and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        """Whether this is one of the operators *ops*."""
        return self.kind == OP and self.text in ops


@dataclass(frozen=True)
class Parameter:
    """A function parameter and, when the signature gives one, its default value's tokens."""

    name: str
    default: tuple[Token, ...] | None


@dataclass(frozen=True)
class Frame:
    """A block a statement sits in."""

    kind: str  # "if", "function", "with", "loop", "block"
    #: "if": the condition's tokens (None: an opaque branch such as ElseIf or Case).
    condition: tuple[Token, ...] | None = None
    negated: bool = False
    #: "if": identifies the If statement (its Else branch shares it).
    branch_of: int = 0
    #: "function": its parameters, by lower-case name.
    params: dict[str, Parameter] = field(default_factory=dict)
    name: str = ""
    #: "with": the object the leading-dot members refer to.
    target: tuple[Token, ...] = ()

    @staticmethod
    def new_if(condition: tuple[Token, ...] | None) -> Frame:
        """A fresh If branch with its own identity."""
        return Frame("if", condition=condition, branch_of=next(_ids))

    def else_branch(self) -> Frame:
        """The Else of this If: the same condition, negated."""
        return Frame("if", condition=self.condition, negated=not self.negated,
                     branch_of=self.branch_of)


@dataclass(frozen=True)
class Statement:
    """One statement's tokens, where it starts, and the blocks around it."""

    tokens: tuple[Token, ...]
    line: int
    frames: tuple[Frame, ...] = ()

    @property
    def conditional(self) -> bool:
        """Whether the statement runs only on some paths (under an If or in a loop)."""
        return any(f.kind in ("if", "loop") for f in self.frames)

    def params(self) -> dict[str, Parameter]:
        """The parameters of the functions around this statement, innermost last."""
        found: dict[str, Parameter] = {}
        for frame in self.frames:
            found.update(frame.params)
        return found

    def with_target(self) -> tuple[Token, ...]:
        """The innermost ``With`` object, or ``()``."""
        for frame in reversed(self.frames):
            if frame.kind == "with":
                return frame.target
        return ()


def split_params(tokens: list[Token], *, strip: frozenset[str]) -> dict[str, Parameter]:
    """Parameters from the tokens between a signature's parentheses.

    *strip* holds words that are not names (``Optional``, ``ByVal``, ``ref``, type names ...);
    ``As Type`` and PowerShell ``[type]`` annotations are dropped; ``= value`` is the default.
    """
    params: dict[str, Parameter] = {}
    for part in _split_top_level(tokens, ","):
        default: tuple[Token, ...] | None = None
        depth = 0
        for index, token in enumerate(part):
            depth += token.is_op("(", "[") - token.is_op(")", "]")
            if depth == 0 and token.is_op("="):  # not Mandatory=$true inside [Parameter(...)]
                default = tuple(part[index + 1 :])
                part = part[:index]
                break
        names = [t for t in _drop_annotations(part) if t.kind == NAME
                 and t.text.lower() not in strip]
        if default is None and any(t.is_name("switch") for t in part):
            default = (Token(NAME, "$false", part[0].line),)  # a PowerShell [switch] is off
        if names:
            name = names[-1].text
            params[name.lower()] = Parameter(name, default)
    return params


def _drop_annotations(part: list[Token]) -> list[Token]:
    kept: list[Token] = []
    depth = 0
    skip_type = False
    for token in part:
        if token.is_op("["):
            depth += 1
        elif token.is_op("]"):
            depth -= 1
        elif depth:
            continue
        elif token.is_name("as"):
            skip_type = True
        elif skip_type:
            continue
        else:
            kept.append(token)
    return kept


def _split_top_level(tokens: list[Token], separator: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.is_op("(", "[", "{"):
            depth += 1
        elif token.is_op(")", "]", "}"):
            depth -= 1
        if depth == 0 and token.is_op(separator):
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def split_arguments(tokens: list[Token]) -> list[list[Token]]:
    """Comma-separated arguments at the top level of *tokens*."""
    return _split_top_level(tokens, ",")
