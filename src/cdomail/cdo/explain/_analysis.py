"""From statements to what the program does to CDO: field writes, Updates, message members.

The result, :class:`Program`, is still symbolic: values are token lists, evaluated later under
each scenario (see ``_scenarios``). Variables count as known only when assigned exactly once,
unconditionally, to something that evaluates to a literal; function parameters are unknown
(with their default, when the signature gives one).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from cdomail.cdo import constants as c

from ._evaluate import Unknown, evaluate
from ._model import NAME, OP, STRING, Statement, Token, split_arguments

#: Type-library constant names (lower case) -> value.
TYPE_LIBRARY: dict[str, Any] = {
    name.lower(): value for name, value in vars(c).items()
    if name.startswith("cdo") and isinstance(value, int | str)
}
TYPE_LIBRARY_SPELLING: dict[str, str] = {
    name.lower(): name for name in vars(c) if name.startswith("cdo")
}

#: CDO.Message members (IMessage, IDataSource, IBodyPart shortcuts), lower case.
MESSAGE_MEMBERS = frozenset({
    "from", "to", "cc", "bcc", "sender", "replyto", "subject", "textbody", "htmlbody",
    "organization", "keywords", "autogeneratetextbody", "mimeformatted", "dsnoptions",
    "mdnrequested", "fields", "bodypart", "textbodypart", "htmlbodypart", "attachments",
    "configuration", "send", "addattachment", "addrelatedbodypart", "createmhtmlbody",
    "getstream", "reply", "replyall", "forward", "followupto", "newsgroups", "datasource",
    "envelopefields", "getinterface", "post", "postreply", "receivedtime", "senttime",
    "relatedbodyparts",
})
MESSAGE_SPELLING = {m.lower(): m for m in (
    "From", "To", "CC", "BCC", "Sender", "ReplyTo", "Subject", "TextBody", "HTMLBody",
    "Organization", "Keywords", "AutoGenerateTextBody", "MimeFormatted", "DSNOptions",
    "MDNRequested", "Fields", "BodyPart", "TextBodyPart", "HTMLBodyPart", "Attachments",
    "Configuration", "Send", "AddAttachment", "AddRelatedBodyPart", "CreateMHTMLBody",
    "GetStream", "Reply", "ReplyAll", "Forward", "FollowUpTo", "Newsgroups", "DataSource",
    "EnvelopeFields", "GetInterface", "Post", "PostReply", "ReceivedTime", "SentTime",
    "RelatedBodyParts")}

_LEADING_WORDS = frozenset({"set", "let", "dim", "const", "public", "private", "global",
                            "local", "static", "var", "readonly", "redim", "my", "our"})
_CREATORS = ("createobject", "objcreate", "activexobject", "dispatch", "new-object",
             "getobject", "dispatchex", "ensuredispatch")


@dataclass
class Event:
    """Something the program does that CDO cares about, in source order."""

    kind: str  # "field", "update", "member", "send"
    statement: Statement
    key: tuple[Token, ...] = ()
    value: tuple[Token, ...] = ()
    #: "field": committed at once (System.Web.Mail's ``Fields.Add``/``Fields[...]``).
    direct: bool = False
    member: str = ""


@dataclass
class Problem:
    """Something that will go wrong, or does not do what its author thinks."""

    kind: str
    message: str
    hresult: str | None = None


@dataclass
class Program:
    """What a snippet does to CDO, still symbolic."""

    events: list[Event] = field(default_factory=list)
    assignments: dict[str, list[Statement]] = field(default_factory=dict)
    values: dict[str, tuple[Token, ...]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    message_vars: dict[str, str] = field(default_factory=dict)  # name -> "cdo" | "swm"
    #: System.Web.Mail: ``SmtpMail.SmtpServer = ...`` (None: never set).
    swm_server: Event | None = None
    #: Whether CDO's type-library names (cdoSMTPServer ...) are defined for this host: not in
    #: a plain .vbs file, nor in an ASP page without a METADATA line.
    type_library: bool = True
    typelib_used: set[str] = field(default_factory=set)
    _resolving: set[str] = field(default_factory=set)

    @property
    def system_web_mail(self) -> bool:
        """Whether the snippet sends through .NET's System.Web.Mail (which drives CDO)."""
        return "swm" in self.message_vars.values()

    def lookup(self, key: str, spelling: str, params: dict[str, Any] | None = None,
               bindings: dict[str, Any] | None = None) -> Any:
        """A name's value: a scenario binding, a parameter, a once-assigned variable, or a
        type-library constant; else :class:`Unknown`."""
        if bindings is not None and key in bindings:
            return bindings[key]
        if params is not None and key in params:
            return Unknown(frozenset({key}), spelling)
        statements = self.assignments.get(key, [])
        if len(statements) == 1 and not statements[0].conditional and key not in self._resolving:
            self._resolving.add(key)
            try:
                value = evaluate(self.values[key], lambda k, s: self.lookup(k, s))
            finally:
                self._resolving.discard(key)
            return value if not isinstance(value, Unknown) else Unknown(frozenset({key}),
                                                                        spelling)
        if not statements and key in TYPE_LIBRARY:
            self.typelib_used.add(TYPE_LIBRARY_SPELLING[key])
            if self.type_library:
                return TYPE_LIBRARY[key]
        return Unknown(frozenset({key}), spelling)


def analyse(statements: list[Statement], *, type_library: bool = True) -> Program:
    """Walk the statements once and collect what they do."""
    program = Program(type_library=type_library)
    for statement in statements:
        _statement(program, statement)
    _check_constants(program)
    return program


def _strip_declaration(tokens: list[Token]) -> list[Token]:
    while tokens and tokens[0].kind == NAME and tokens[0].text.lower() in _LEADING_WORDS:
        tokens = tokens[1:]
    if tokens and tokens[0].is_op("[") and len(tokens) > 3 and tokens[2].is_op("]"):
        tokens = tokens[3:]  # PowerShell [string]$x = ...
    # VB ``Const X As Integer = 2`` names the variable first; strip its type before the C#
    # rule below, which would otherwise take ``Integer`` for the variable.
    if len(tokens) > 3 and tokens[1].is_name("as") and any(t.is_op("=") for t in tokens):
        tokens = [tokens[0], *tokens[3:]]
    # C#/Java ``string x = ...``, ``CDO.Message m = ...``: a (dotted) type before the name.
    split = _split_assignment(tokens)
    if split is not None and len(split[0]) >= 2 and split[0][-1].kind == NAME \
            and split[0][-2].kind == NAME and all(t.kind == NAME or t.is_op(".")
                                                  for t in split[0]):
        tokens = tokens[len(split[0]) - 1 :]
    return tokens


def _split_assignment(tokens: list[Token]) -> tuple[list[Token], list[Token], str] | None:
    depth = 0
    for index, token in enumerate(tokens):
        depth += token.is_op("(", "[", "{") - token.is_op(")", "]", "}")
        if depth == 0 and token.is_op("=", "+=", "&=", "-="):
            return tokens[:index], tokens[index + 1 :], token.text
    return None


def _statement(program: Program, statement: Statement) -> None:
    tokens = _strip_declaration(list(statement.tokens))
    if tokens and tokens[0].is_op("."):
        tokens = [*statement.with_target(), *tokens]
    split = _split_assignment(tokens)
    if split is None:
        if len(tokens) > 3 and tokens[0].kind == NAME and tokens[1].is_name("as") \
                and tokens[2].is_name("new"):
            _variable(program, statement, tokens[0].text, tokens[2:], "=")  # Dim m As New ...
            return
        _call(program, statement, tokens)
        return
    target, value, operator = split
    if len(target) == 1 and target[0].kind == NAME:
        _variable(program, statement, target[0].text, value, operator)
        return
    if target and target[-1].is_name("value") and len(target) > 2 and target[-2].is_op("."):
        target, value_suffix = target[:-2], True
    else:
        value_suffix = False
    if target and target[-1].is_op(")", "]"):
        _field_assignment(program, statement, target, value, value_suffix)
    elif len(target) >= 3 and target[-2].is_op(".") and target[-1].kind == NAME:
        _member(program, statement, target[:-2], target[-1].text, value)


def _variable(program: Program, statement: Statement, name: str, value: list[Token],
              operator: str) -> None:
    key = name.lower()
    if operator != "=":
        value = [Token(NAME, name, statement.line), Token(OP, "+", statement.line), *value]
    program.assignments.setdefault(key, []).append(statement)
    program.values[key] = tuple(value)
    created = _created_object(value)
    if created == "cdo.message":
        program.message_vars[key] = "cdo"
    elif created in ("mailmessage", "system.web.mail.mailmessage"):
        program.message_vars[key] = "swm"


def _created_object(value: list[Token]) -> str | None:
    words = [t.text.lower() for t in value if t.kind == NAME]
    strings = [t.text.lower() for t in value if t.kind == STRING]
    if any(w in _CREATORS or w.endswith(".dispatch") for w in words) or "-comobject" in (
            t.text.lower() for t in value):
        for text in strings:
            return text.strip()
        # New-Object -ComObject CDO.Message (unquoted)
        joined = ".".join(w for w in words if w not in _CREATORS)
        if "cdo.message" in joined:
            return "cdo.message"
    if words[:1] == ["new"]:
        dotted = ".".join(words[1:]).replace("..", ".")
        if dotted.startswith(("cdo.message", "message")) and "mail" not in dotted:
            return "cdo.message"
        if "mailmessage" in dotted and "net" not in dotted:
            return "mailmessage"
    return None


def _field_assignment(program: Program, statement: Statement, target: list[Token],
                      value: list[Token], value_suffix: bool) -> None:
    close = target[-1]
    opening = _matching_open(target)
    if opening <= 0:
        return
    callee = target[:opening]
    key = tuple(target[opening + 1 : -1])
    if not _is_fields_target(program, callee, key):
        return
    direct = close.is_op("]") and not value_suffix and program.system_web_mail
    program.events.append(Event("field", statement, key, tuple(value), direct=direct))


def _matching_open(target: list[Token]) -> int:
    depth = 0
    for index in range(len(target) - 1, -1, -1):
        depth += target[index].is_op(")", "]") - target[index].is_op("(", "[")
        if depth == 0:
            return index
    return -1


def _is_fields_target(program: Program, callee: list[Token], key: tuple[Token, ...]) -> bool:
    last = callee[-1] if callee else None
    fields_member = last is not None and last.kind == NAME and last.text.lower() in (
        "item", "fields")
    name = evaluate(key, lambda k, s: program.lookup(k, s))
    if isinstance(name, str):
        # Message header fields (urn:schemas:mailheader:...) are not configuration.
        return _looks_like_field(name) or (fields_member and not name.lower().startswith(
            ("urn:schemas:", "urn:schemas-microsoft-com:")))
    if fields_member:
        return True
    # cfg(x) = v / flds(x) = v where flds holds a Fields collection or a Configuration.
    if last is not None and len(callee) == 1:
        values = program.values.get(last.text.lower(), ())
        return bool(values) and (values[-1].is_name("fields") or any(
            t.kind == STRING and "configuration" in t.text.lower() for t in values))
    return False


def _looks_like_field(name: str) -> bool:
    lower = name.strip().lower()
    return "schemas.microsoft.com/cdo/configuration" in lower or lower.startswith(
        "urn:cdomail:") or "/cdo/configuration/" in lower


def _member(program: Program, statement: Statement, obj: list[Token], member: str,
            value: list[Token]) -> None:
    if [t.text.lower() for t in obj if t.kind == NAME][-1:] == ["smtpmail"] \
            and member.lower() == "smtpserver":
        program.swm_server = Event("member", statement, value=tuple(value), member="smtpserver")
        return
    if len(obj) == 1 and obj[0].kind == NAME and obj[0].text.lower() in program.message_vars:
        kind = program.message_vars[obj[0].text.lower()]
        program.events.append(Event("member", statement, value=tuple(value),
                                    member=member.lower()))
        if kind == "cdo" and member.lower() not in MESSAGE_MEMBERS:
            close = difflib.get_close_matches(member.lower(), sorted(MESSAGE_MEMBERS), n=1,
                                              cutoff=0.6)
            hint = f"; did you mean {MESSAGE_SPELLING.get(close[0], close[0])}?" if close else ""
            program.problems.append(Problem(
                "unknown-member",
                f"line {statement.line}: CDO.Message has no member {member!r}{hint} (member "
                "names are case-insensitive, but this one does not exist: VBScript and VBA "
                "stop here with run-time error 438 unless On Error Resume Next is on).",
            ))


def _call(program: Program, statement: Statement, tokens: list[Token]) -> None:
    names = [t.text.lower() for t in tokens if t.kind == NAME]
    if not names:
        return
    for index, token in enumerate(tokens):
        if token.is_name("add") and index > 0 and tokens[index - 1].is_op(".") \
                and index > 1 and tokens[index - 2].is_name("fields"):
            _fields_add(program, statement, tokens[index + 1 :])
            return
    dotted = [t for t in tokens if not t.is_op("(", ")", ";")]
    if len(dotted) >= 2 and dotted[-1].is_name("update") and dotted[-2].is_op("."):
        program.events.append(Event("update", statement))
    elif "send" in names and any(t.is_op(".") for t in tokens):
        program.events.append(Event("send", statement))


def _fields_add(program: Program, statement: Statement, rest: list[Token]) -> None:
    inner = rest[1:-1] if rest and rest[0].is_op("(") and rest[-1].is_op(")") else rest
    arguments = split_arguments(inner)
    if len(arguments) == 2:
        program.events.append(Event("field", statement, tuple(arguments[0]),
                                    tuple(arguments[1]), direct=True))


def _check_constants(program: Program) -> None:
    for key, statements in program.assignments.items():
        official = TYPE_LIBRARY.get(key)
        if official is None or len(statements) != 1:
            continue
        value = evaluate(program.values[key], lambda k, s: program.lookup(k, s))
        if isinstance(value, Unknown) or value == official:
            continue
        spelling = TYPE_LIBRARY_SPELLING[key]
        program.problems.append(Problem(
            "wrong-constant",
            f"line {statements[0].line}: {spelling} is declared as {value!r}, but CDO's "
            f"{spelling} is {official!r}; the code uses {value!r}.",
        ))
