"""Three-valued analysis: run the program under every relevant scenario and compare verdicts.

A scenario binds each unknown the outcome could hinge on -- a function parameter, a variable
assigned more than once or from an expression, an ``If`` condition that cannot be evaluated --
to one representative value for the field it feeds (``smtpusessl`` True/False, a port 25, 465
or 587, ...) or to its default from the function signature. When every scenario gives the same
verdict, that is the answer; otherwise the verdict is "depends", with the names it depends on
and the verdict each default gives.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from cdomail.cdo import constants as c

from ._analysis import Event, Program
from ._evaluate import Unknown, evaluate, truthy
from ._model import NAME, NUMBER, OP, STRING, Frame, Statement, Token
from ._verdict import DEPENDS, Decision, MessageFacts, decide

#: The fields whose values can change CDO's verdict (leaf names).
RELEVANT_FIELDS = frozenset({"sendusing", "smtpserver", "smtpserverport", "smtpusessl",
                             "smtpauthenticate", "sendusername", "smtpserverpickupdirectory",
                             "sendemailaddress", "smtpconnectiontimeout", "tlsmode"})
_SENDER_MEMBERS = frozenset({"from", "sender"})
_RECIPIENT_MEMBERS = frozenset({"to", "cc", "bcc"})
_REPRESENTATIVES: dict[str, list[Any]] = {
    "sendusing": [2, 1, None], "smtpserverport": [25, 465, 587], "smtpusessl": [True, False],
    "smtpauthenticate": [0, 1], "tlsmode": ["starttls", "none"], "bool": [True, False],
    # An unknown timeout is some number of seconds: it decides how long CDO waits, never
    # whether it encrypts, so CDO's default stands in (a "<name>" text would be refused).
    "smtpconnectiontimeout": [30],
}
_MAX_SCENARIOS = 4096


def leaf(name: str) -> str:
    """``smtpusessl`` from a full field name."""
    return name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].strip().lower()


@dataclass
class Run:
    """One scenario's result: committed fields, message facts, the decision."""

    committed: dict[str, Any]
    message: MessageFacts
    decision: Decision | None = None


@dataclass
class Unknowns:
    """The keys the outcome may hinge on, with their roles, spellings and defaults."""

    roles: dict[str, set[str]] = field(default_factory=dict)
    spelling: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Literals a key is compared with in a condition (``If x = "ssl" Then``): worth trying.
    compared: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, value: Any, role: str, statement: Statement, program: Program) -> None:
        if not isinstance(value, Unknown):
            return
        params = statement.params()
        for key in value.keys:
            self.roles.setdefault(key, set()).add(role)
            if key in params:
                self.kinds[key] = "parameter"
                self.spelling[key] = params[key].name
                default_tokens = params[key].default
                if default_tokens is not None:
                    default = evaluate(default_tokens, lambda k, s: program.lookup(k, s))
                    if not isinstance(default, Unknown):
                        self.defaults[key] = default
            else:
                self.kinds.setdefault(key, "variable" if key in program.assignments
                                      else "expression")
                self.spelling.setdefault(key, value.text if len(value.keys) == 1 else key)

    def representatives(self, key: str) -> list[Any]:
        values: list[Any] = []
        if key in self.defaults:
            values.append(self.defaults[key])
        candidates = [*self.compared.get(key, [])]
        for role in sorted(self.roles[key]):
            candidates += _REPRESENTATIVES.get(role, [f"<{self.spelling.get(key, key)}>"])
        for value in candidates:
            if not any(value == v and type(value) is type(v) for v in values):
                values.append(value)
        return values


class Executor:
    """Runs a :class:`Program` under bindings."""

    def __init__(self, program: Program) -> None:
        self.program = program

    def value(self, tokens: tuple[Any, ...], statement: Statement,
              bindings: dict[str, Any] | None) -> Any:
        params = statement.params()
        return evaluate(tokens, lambda k, s: self.program.lookup(k, s, params, bindings))

    def field_name(self, event: Event) -> str | None:
        name = self.value(event.key, event.statement, None)
        return None if isinstance(name, Unknown) else str(name)

    def active(self, statement: Statement, bindings: dict[str, Any]) -> bool:
        """Whether every ``If`` around *statement* takes its branch under *bindings*."""
        for frame in statement.frames:
            if frame.kind == "if" and self._condition(frame, statement, bindings) == frame.negated:
                return False
        return True

    def _condition_value(self, frame: Frame, statement: Statement,
                         bindings: dict[str, Any]) -> Any:
        if frame.condition is None:
            return Unknown(frozenset({f"branch@{frame.branch_of}"}),
                           f"a branch taken at line {statement.line}")
        return self.value(frame.condition, statement, bindings)

    def _condition(self, frame: Frame, statement: Statement, bindings: dict[str, Any]) -> bool:
        value = self._condition_value(frame, statement, bindings)
        if isinstance(value, Unknown):
            return bool(bindings.get(f"branch@{frame.branch_of}", True))
        return truthy(value)

    def register_conditions(self, statement: Statement, unknowns: Unknowns) -> None:
        """Note the unknowns of every condition around *statement* (role: a boolean)."""
        for frame in statement.frames:
            if frame.kind != "if":
                continue
            value = self._condition_value(frame, statement, {})
            if not isinstance(value, Unknown):
                continue
            if frame.condition is None:
                key = f"branch@{frame.branch_of}"
                unknowns.roles.setdefault(key, set()).add("bool")
                unknowns.kinds[key] = "condition"
                unknowns.spelling[key] = value.text
            else:
                unknowns.add(value, "bool", statement, self.program)
                _note_comparisons(frame.condition, unknowns)
                if not value.keys:
                    key = f"branch@{frame.branch_of}"
                    unknowns.roles.setdefault(key, set()).add("bool")
                    unknowns.kinds[key] = "condition"
                    unknowns.spelling[key] = f"the condition at line {statement.line}"

    def relevant(self, event: Event) -> bool:
        """Whether *event* can change the verdict."""
        if event.kind == "field":
            name = self.field_name(event)
            return name is not None and leaf(name) in RELEVANT_FIELDS
        if event.kind == "member":
            return event.member in _SENDER_MEMBERS | _RECIPIENT_MEMBERS
        return True

    def run(self, bindings: dict[str, Any], unknowns: Unknowns | None = None) -> Run:
        committed = dict(self._system_web_mail_base(bindings))
        staged: dict[str, Any] = {}
        sender = recipient = False
        sends = False
        for event in self.program.events:
            statement = event.statement
            if unknowns is not None:
                if self.relevant(event):
                    self.register_conditions(statement, unknowns)
            elif not self.active(statement, bindings):
                continue
            if event.kind == "field":
                name = self.field_name(event)
                if name is None:
                    continue
                value = self.value(event.value, statement, bindings)
                if unknowns is not None and leaf(name) in RELEVANT_FIELDS:
                    unknowns.add(value, leaf(name), statement, self.program)
                (committed if event.direct else staged)[name.strip().lower()] = value
            elif event.kind == "update":
                committed.update(staged)
                staged = {}
            elif event.kind == "member":
                value = self.value(event.value, statement, bindings)
                if unknowns is not None and event.member in _SENDER_MEMBERS | _RECIPIENT_MEMBERS:
                    unknowns.add(value, "text", statement, self.program)
                present = isinstance(value, Unknown) or value not in ("", None)
                sender |= event.member in _SENDER_MEMBERS and present
                recipient |= event.member in _RECIPIENT_MEMBERS and present
            elif event.kind == "send":
                sends = True
        facts = MessageFacts(sender if sends else None, recipient if sends else None)
        return Run(committed, facts)

    def _system_web_mail_base(self, bindings: dict[str, Any]) -> dict[str, Any]:
        """System.Web.Mail fills sendusing/smtpserver from ``SmtpMail.SmtpServer`` before it
        copies ``MailMessage.Fields``: a server means port, none means the IIS pickup folder."""
        if not self.program.system_web_mail:
            return {}
        server_event = self.program.swm_server
        if server_event is None:
            return {c.cdoSendUsingMethod: c.cdoSendUsingPickup,
                    c.cdoSMTPServerPickupDirectory: "the IIS pickup folder"}
        server = self.value(server_event.value, server_event.statement, bindings)
        return {c.cdoSendUsingMethod: c.cdoSendUsingPort, c.cdoSMTPServer: server}


@dataclass
class Outcome:
    """The three-valued result over all scenarios."""

    verdicts: list[str]
    decision: Decision
    run: Run
    depends_on: list[dict[str, Any]] = field(default_factory=list)
    hresult: str | None = None
    #: The verdict when every parameter that has a default takes it (None: no defaults).
    verdict_with_defaults: str | None = None


def analyse_outcome(program: Program, *, https_typo: bool,
                    phantoms: tuple[str, ...]) -> Outcome:
    """Run every scenario and combine the verdicts."""
    executor = Executor(program)
    unknowns = Unknowns()
    executor.run({}, unknowns)
    keys = sorted(unknowns.roles)
    choices = [unknowns.representatives(k) for k in keys]
    results: list[tuple[dict[str, Any], Run]] = []
    for combo in itertools.islice(itertools.product(*choices), _MAX_SCENARIOS):
        bindings = dict(zip(keys, combo, strict=True))
        run = executor.run(bindings)
        run.decision = decide(_concrete(run.committed), run.message, https_typo=https_typo,
                              phantoms=phantoms)
        results.append((bindings, run))
    verdicts = list(dict.fromkeys(r.decision.verdict for _, r in results if r.decision))
    defaults = {k: v for k, v in unknowns.defaults.items()}
    chosen = next((r for b, r in results if all(b.get(k) == v and type(b.get(k)) is type(v)
                                                for k, v in defaults.items())), results[0][1])
    assert chosen.decision is not None
    outcome = Outcome(verdicts, chosen.decision, chosen)
    encryptions = list(dict.fromkeys(r.decision.encryption for _, r in results if r.decision))
    if verdicts == ["encrypted"] and len(encryptions) > 1:
        # Encrypted on every path, but not the same way on each.
        chosen.decision.encryption = " or ".join(encryptions)
    hresults = {r.decision.hresult for _, r in results if r.decision}
    if verdicts == ["fails"] and len(hresults) == 1:
        outcome.hresult = next(iter(hresults))
    if math.prod(len(choice) for choice in choices) > _MAX_SCENARIOS and len(verdicts) == 1:
        # Not every combination was tried: never claim a verdict that was not checked.
        outcome.verdicts = [*verdicts, DEPENDS]
        outcome.depends_on = [{"name": f"more than {_MAX_SCENARIOS} combinations of "
                               f"{len(keys)} unknowns", "kind": "limit"}]
    elif len(verdicts) > 1:
        outcome.depends_on = _depends_on(keys, unknowns, results)
        if defaults:
            with_defaults = {r.decision.verdict for b, r in results if r.decision
                             and all(b.get(k) == v and type(b.get(k)) is type(v)
                                     for k, v in defaults.items())}
            outcome.verdict_with_defaults = next(iter(with_defaults)) \
                if len(with_defaults) == 1 else DEPENDS
    return outcome


def _concrete(committed: dict[str, Any]) -> dict[str, Any]:
    # An unknown left after binding (a field we do not enumerate) counts as "set to something".
    return {k: (f"<{v.text}>" if isinstance(v, Unknown) else v) for k, v in committed.items()}


def _depends_on(keys: list[str], unknowns: Unknowns,
                results: list[tuple[dict[str, Any], Run]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for key in keys:
        by_value: dict[str, set[str]] = {}
        for bindings, run in results:
            assert run.decision is not None
            by_value.setdefault(_value_key(bindings[key]), set()).add(run.decision.verdict)
        if len({frozenset(v) for v in by_value.values()}) <= 1:
            continue
        entry: dict[str, Any] = {"name": unknowns.spelling.get(key, key),
                                 "kind": unknowns.kinds.get(key, "expression")}
        if key in unknowns.defaults:
            default = unknowns.defaults[key]
            verdicts = by_value.get(_value_key(default), set())
            entry["default"] = default
            entry["verdict_with_default"] = next(iter(verdicts)) if len(verdicts) == 1 \
                else DEPENDS
        entries.append(entry)
    return entries


def _value_key(value: Any) -> str:
    # True and 1 are different inputs here (``smtpusessl`` vs a port), so the type counts.
    return f"{type(value).__name__}:{value!r}"


_COMPARISONS = frozenset({"=", "==", "===", "<>", "!=", "!==", "-eq", "-ne"})


def _note_comparisons(tokens: tuple[Token, ...], unknowns: Unknowns) -> None:
    """``x = "literal"`` in a condition: the literal is a value worth trying for ``x``."""
    for index, token in enumerate(tokens[1:-1], 1):
        if token.kind != OP or token.text.lower() not in _COMPARISONS:
            continue
        for name, literal in ((tokens[index - 1], tokens[index + 1]),
                              (tokens[index + 1], tokens[index - 1])):
            if name.kind == NAME and literal.kind in (STRING, NUMBER):
                value: Any = literal.text if literal.kind == STRING else (
                    float(literal.text) if "." in literal.text else int(literal.text))
                unknowns.compared.setdefault(name.text.lower(), []).append(value)
