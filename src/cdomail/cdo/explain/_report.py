"""The explanation as data and as text, with every secret-looking field redacted."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from cdomail.errors import printable

from ._analysis import Problem

#: Substrings that make a field or parameter name look like it holds a secret.
_SECRET_PARTS = ("pass", "pwd", "secret", "token", "credential", "apikey")
_SECRET_FIELDS = ("sendpassword", "postpassword")
REDACTED = "***"


def looks_secret(name: str) -> bool:
    """Whether *name* (a field name, leaf or expression) looks like it holds a password.

    Catches ``sendpassword`` in any case, with trailing spaces, in the wrong namespace,
    near-misses such as ``sendpasword`` or ``sendpassowrd``, and anything naming a pass/pwd/
    secret/token.
    """
    lower = name.lower()
    if any(part in lower for part in _SECRET_PARTS):
        return True
    leaf = re.sub(r"[^a-z0-9]", "", lower.rstrip("/ ").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    return any(difflib.SequenceMatcher(None, leaf, secret).ratio() >= 0.75
               for secret in _SECRET_FIELDS)


@dataclass
class FieldSetting:
    """One field assignment found in the input (value redacted when it looks secret)."""

    name: str
    value: Any
    committed: bool
    line: int
    note: str | None = None
    #: Set only on some paths (under an If, in a loop).
    conditional: bool = False


@dataclass
class Explanation:
    """What CDO will do with a snippet or configuration."""

    verdict: str = "fails"
    encrypted: bool | None = None
    encryption: str = "none"
    outcome: str = ""
    hresult: str | None = None
    depends_on: list[dict[str, Any]] = field(default_factory=list)
    verdict_with_defaults: str | None = None
    possible_verdicts: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    fields: list[FieldSetting] = field(default_factory=list)
    language: str = "key=value"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; secret-looking values are already redacted."""
        return {
            "verdict": self.verdict,
            "encrypted": self.encrypted,
            "encryption": self.encryption,
            "outcome": self.outcome,
            "hresult": self.hresult,
            "depends_on": [{k: _json_value(v) for k, v in entry.items()}
                           for entry in self.depends_on],
            "verdict_with_defaults": self.verdict_with_defaults,
            "possible_verdicts": list(self.possible_verdicts),
            "steps": list(self.steps),
            "problems": [{"kind": p.kind, "message": p.message, "hresult": p.hresult}
                         for p in self.problems],
            "fixes": list(self.fixes),
            "fields": [{"name": f.name, "value": _json_value(f.value), "committed": f.committed,
                        "conditional": f.conditional, "line": f.line, "note": f.note}
                       for f in self.fields],
            "language": self.language,
        }

    def verdict_line(self) -> str:
        """One line saying the verdict in capitals (what a person looks for first)."""
        if self.verdict == "encrypted":
            return f"ENCRYPTED ({self.encryption})"
        if self.verdict == "plaintext":
            return "NOT ENCRYPTED"
        if self.verdict == "pickup":
            return "handed to the local mail service (pickup directory); its settings decide"
        if self.verdict == "depends":
            return "NOT KNOWN TO BE ENCRYPTED (it depends)"
        return f"not sent (fails{' with ' + self.hresult if self.hresult else ''})"

    def to_text(self) -> str:
        """The explanation in plain words; snippet-derived text is escaped."""
        lines = [f"Verdict: {self.verdict}",
                 f"Outcome: {self.outcome}; mail is {self.verdict_line()}."]
        if self.depends_on:
            lines += ["", "It depends on:"]
            lines += [f"  - {_describe(entry)}" for entry in self.depends_on]
            if self.possible_verdicts:
                lines.append(f"  Possible verdicts: {', '.join(self.possible_verdicts)}.")
            if self.verdict_with_defaults:
                lines.append(f"  With every default from the function signature: "
                             f"{self.verdict_with_defaults}.")
        if self.steps:
            lines += ["", "What CDO will do" + (" (with the defaults):" if self.depends_on
                                                else ":")]
            lines += [f"  {n}. {step}" for n, step in enumerate(self.steps, 1)]
        if self.problems:
            lines += ["", "Problems:"]
            for problem in self.problems:
                code = f" [{problem.hresult}]" if problem.hresult else ""
                lines.append(f"  - {problem.message}{code}")
        if self.fixes:
            lines += ["", "Fix:"] + [f"  - {fix}" for fix in self.fixes]
        if self.fields:
            lines += ["", "Fields:"]
            for setting in self.fields:
                state = "committed" if setting.committed else "NOT committed"
                state += ", only on some paths" if setting.conditional else ""
                where = f"line {setting.line}" if setting.line > 0 else "--field"
                lines.append(f"  - {setting.name} = {_show(setting.value)} ({where}, {state})")
        return "\n".join(printable(line, newlines=False) for line in lines) + "\n"


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) and value != REDACTED else str(value)


def _describe(entry: dict[str, Any]) -> str:
    text = f"{entry['name']} ({entry['kind']}"
    if "default" in entry:
        text += f"; default {_show(entry['default'])} -> {entry['verdict_with_default']}"
    return text + ")"
