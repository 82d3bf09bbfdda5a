"""Explain a CDO configuration: what CDO will do with it, in plain words and as data.

Reads ``key=value`` lines or a snippet in one of four language families -- VB-style (VBScript,
VBA, classic ASP, AutoIt), C-style (JScript, C#), PowerShell, Python (win32com) -- with a real
tokenizer for each, works out which field values are *committed* (``Fields.Update``, or
System.Web.Mail's ``Fields.Add``) on every path through the code, and says what CDO does:
``"encrypted"``, ``"plaintext"``, ``"fails"`` (with the HRESULT ``Message.Send`` raises),
``"pickup"`` or ``"depends"`` (with the parameters, variables and conditions it hinges on).
Field values are read with :mod:`cdomail._cdo_rules`, exactly as ``Message.Send`` reads them.
Secret-looking fields are never echoed. Pure: no I/O, no network.
"""

from __future__ import annotations

import re
from typing import Any

from cdomail.cdo import constants as c
from cdomail.cdo.configuration import field_warning
from cdomail.cdo.errors import CDO_E_INVALID_SEND_OPTION

from ._analysis import Event, Problem, Program, analyse
from ._evaluate import Unknown
from ._model import STRING, Statement, Token
from ._report import REDACTED, Explanation, FieldSetting, looks_secret
from ._scenarios import Executor, analyse_outcome, leaf
from ._tokens_c import parse_c
from ._tokens_ps import parse_ps, parse_py
from ._tokens_vb import tokenize_vb
from ._verdict import hex_name

__all__ = ["Explanation", "FieldSetting", "Problem", "detect_language", "explain_text",
           "looks_secret"]

_SNIPPET = re.compile(r"\bFields\b|\.Item\s*\(|\bFlds\b|CreateObject|ObjCreate|Dispatch\s*\("
                      r"|ActiveXObject|-ComObject|CDO\.", re.I)
_AUTOIT = re.compile(r"\bObjCreate\s*\(|^\s*EndFunc\b|^\s*Func\s+\w+\s*\(|#include\s*<|@CRLF",
                     re.I | re.M)
_POWERSHELL = re.compile(r"^\s*\$\w+(?:\.\w+)*\s*=|New-Object\b|\$true\b|\$false\b|^\s*param\s*\(",
                         re.I | re.M)
_PYTHON = re.compile(r"^\s*(?:import win32com|from win32com)|^\s*def \w+\(.*\)\s*:", re.M)
_METADATA = re.compile(r"METADATA\s+TYPE\s*=\s*\"typelib\"", re.I)
_C_STYLE = re.compile(r"ActiveXObject|System\.Web\.Mail|\bMailMessage\b|^\s*using System"
                      r"|\bvar \w+\s*=|;\s*(?://.*)?$", re.M)


def detect_language(text: str) -> str:
    """``"key=value"``, ``"autoit"``, ``"powershell"``, ``"python"``, ``"c"`` or ``"vb"``."""
    if not _SNIPPET.search(text):
        return "key=value"
    if _AUTOIT.search(text):
        return "autoit"
    if _POWERSHELL.search(text):
        return "powershell"
    if _PYTHON.search(text):
        return "python"
    if _C_STYLE.search(text) and not re.search(r"^\s*(?:Dim|Set|End With)\b", text, re.I | re.M):
        return "c"
    return "vb"


def _statements(text: str, language: str) -> list[Statement]:
    if language in ("vb", "autoit"):
        return tokenize_vb(text, autoit=language == "autoit")
    if language == "powershell":
        return parse_ps(text)
    if language == "python":
        return parse_py(text)
    return parse_c(text)


def _key_value(text: str) -> list[Statement]:
    """``name=value`` lines as ``Fields(name) = "value"`` statements (committed below)."""
    statements: list[Statement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";", "'")):
            continue
        name, sep, value = line.partition("=")
        if sep and name.strip():
            statements.append(_field_statement(name, value, number))
    return statements


def _field_statement(name: str, value: str, line: int) -> Statement:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Statement((Token("key", _full_name(name), line), Token(STRING, value, line)), line)


def _full_name(name: str) -> str:
    name = name.strip().strip('"').strip("'")
    if ":" in name or "/" in name:
        return name
    return c.CDO_CONFIGURATION_NAMESPACE + name


def _program_from_pairs(statements: list[Statement]) -> Program:
    program = Program()
    for statement in statements:
        name, value = statement.tokens
        program.events.append(Event("field", statement, (Token(STRING, name.text, name.line),),
                                    (value,), direct=True))
    return program


def type_library_defined(text: str, language: str, filename: str | None) -> bool:
    """Whether CDO's type-library constant names exist where this code runs.

    VBA with a reference to "Microsoft CDO for Windows 2000 Library", an ASP page with a
    ``METADATA TYPE="typelib"`` line and a ``.wsf`` job with ``<reference>`` have them; a plain
    ``.vbs`` file (or an ASP page without the line) does not: there ``cdoSMTPServer`` is an
    undeclared variable holding Empty. Unknown hosts (standard input) are assumed to have them.
    """
    if language not in ("vb", "autoit") or _METADATA.search(text):
        return True
    suffix = "" if filename is None else filename.rsplit(".", 1)[-1].lower()
    if suffix == "wsf":
        return "<reference" in text.lower()
    return suffix not in ("vbs", "vbe", "asp", "hta")


def explain_text(text: str, extra_fields: list[tuple[str, str]] | None = None, *,
                 filename: str | None = None) -> Explanation:
    """Explain *text* (a snippet or ``key=value`` lines) plus ``--field NAME=VALUE`` pairs.

    *filename* (when known) tells a plain ``.vbs`` file, where CDO's type-library names are
    undefined, from VBA or an ASP page that references the library.
    """
    language = detect_language(text) if text.strip() else "key=value"
    if language == "key=value":
        program = _program_from_pairs(_key_value(text))
    else:
        program = analyse(_statements(text, language),
                          type_library=type_library_defined(text, language, filename))
    extras = [_field_statement(name, value, -n) for n, (name, value)
              in enumerate(extra_fields or [], 1)]
    program.events.extend(_program_from_pairs(extras).events)
    report = _explain_program(program)
    report.language = language
    if program.typelib_used and language in ("vb", "autoit"):
        report.problems.append(_type_library_problem(program, filename))
    return report


def _type_library_problem(program: Program, filename: str | None) -> Problem:
    names = ", ".join(sorted(program.typelib_used))
    if not program.type_library:
        return Problem("type-library-missing", f"{names} are CDO type-library names, but "
                       f"{filename or 'this script'} has no reference to the library (a plain "
                       ".vbs file, or an ASP page without a METADATA line): there they are "
                       "undeclared variables holding Empty, so the writes that use them do not "
                       "do what they say. Declare them with Const or use the full field names.")
    return Problem("type-library", f"{names} come from the CDO type library: this assumes VBA "
                   "with a reference to \"Microsoft CDO for Windows 2000 Library\" (or an ASP "
                   "METADATA line). In a plain .vbs file they are Empty unless declared with "
                   "Const, and this verdict would not hold.")


def _explain_program(program: Program) -> Explanation:
    executor = Executor(program)
    report = Explanation(problems=list(program.problems))
    settings, unresolved = _field_settings(program, executor, report)
    if not settings and not unresolved:
        report.problems.append(Problem("nothing-found", "No CDO configuration field assignment "
                                       "was found in the input."))
    _update_problems(program, settings, report)
    typo = any(p.kind == "https-typo" for p in report.problems)
    phantoms = tuple(dict.fromkeys(leaf(s.name) for s in settings
                                   if leaf(s.name) in c.PHANTOM_CONFIGURATION_FIELDS))
    outcome = analyse_outcome(program, https_typo=typo, phantoms=phantoms)
    decision = outcome.decision
    report.depends_on = _redact_depends(outcome.depends_on) + unresolved
    report.possible_verdicts = outcome.verdicts
    # A write whose field name is unknown may set any field (even sendusing): never certain.
    if len(outcome.verdicts) > 1 or unresolved:
        report.verdict = "depends"
        report.encrypted = None
        known = " or ".join(v for v in outcome.verdicts if v != "depends")
        report.outcome = (
            f"{known}, depending on " + ", ".join(str(e["name"]) for e in report.depends_on)
            if len(outcome.verdicts) > 1 else
            f"{known} from the fields that can be read, but writes to field names that cannot "
            "be worked out may change it")
        report.encryption = "unknown"
        report.verdict_with_defaults = outcome.verdict_with_defaults
    else:
        report.verdict = decision.verdict
        report.encrypted = {"encrypted": True, "plaintext": False}.get(decision.verdict)
        report.outcome = decision.outcome
        report.encryption = decision.encryption
        report.hresult = outcome.hresult
    if report.verdict != "depends" or report.verdict_with_defaults is not None:
        # For "depends", the path shown is the one every default from the signature takes.
        report.steps = decision.steps
        report.problems.extend(decision.problems)
        report.fixes = decision.fixes
    report.fields = settings
    return report


def _field_settings(program: Program, executor: Executor,
                    report: Explanation) -> tuple[list[FieldSetting], list[dict[str, Any]]]:
    settings: list[FieldSetting] = []
    unresolved: list[dict[str, Any]] = []
    warned: set[str] = set()
    updates = [i for i, e in enumerate(program.events) if e.kind == "update"]
    for index, event in enumerate(program.events):
        if event.kind != "field":
            continue
        name = executor.field_name(event)
        if name is None:
            text = str(executor.value(event.key, event.statement, None))
            unresolved.append({"name": text, "kind": "field-name"})
            report.problems.append(Problem("unresolved", f"line {event.statement.line}: cannot "
                                           f"work out the field name {text}; what it sets is "
                                           "unknown."))
            continue
        value = executor.value(event.value, event.statement, None)
        shown = REDACTED if looks_secret(name) else (
            f"<{value.text}>" if isinstance(value, Unknown) else value)
        committed = event.direct or any(u > index for u in updates)
        note = field_warning(name)
        if note is not None and name.lower() not in warned:
            warned.add(name.lower())
            report.problems.append(Problem(_warning_kind(name), note))
        settings.append(FieldSetting(name, shown, committed, event.statement.line, note,
                                     conditional=event.statement.conditional))
    return settings, unresolved


def _warning_kind(name: str) -> str:
    if name.lower().startswith("https:"):
        return "https-typo"
    return "phantom" if leaf(name) in c.PHANTOM_CONFIGURATION_FIELDS else "unknown-field"


def _update_problems(program: Program, settings: list[FieldSetting],
                     report: Explanation) -> None:
    staged = [e for e in program.events if e.kind == "field" and not e.direct]
    if not staged:
        return
    if not any(e.kind == "update" for e in program.events):
        report.problems.append(Problem(
            "forgotten-update",
            "Fields.Update is never called: every field assignment above is staged and "
            "discarded, so CDO sends with its defaults (and fails with 0x80040220 because "
            "sendusing is not set).",
            hex_name(CDO_E_INVALID_SEND_OPTION),
        ))
        return
    late = sorted({leaf(s.name) for s in settings if not s.committed})
    if late:
        report.problems.append(Problem(
            "uncommitted",
            f"These fields are set after the last Fields.Update and are ignored: "
            f"{', '.join(late)}.",
        ))


def _redact_depends(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for entry in entries:
        if "default" in entry and looks_secret(str(entry["name"])):
            entry["default"] = REDACTED
    return entries
