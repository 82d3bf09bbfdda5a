"""Explain a CDO configuration: what CDO will do with it, in plain words and as data.

Reads ``key=value`` lines or a VBA / VBScript / PowerShell / C# snippet (spec §6 and its
variants: a schema-prefix string, hand-declared constants, ``.Item(...) = v``,
``Fields("...") = v``, ``Fields.Item(...).Value = v``, ``Fields.Add(...)``, ``Fields[...] = v``),
works out which values are *committed* (``.Update`` called after them), then states the connection
steps CDO will take, whether the mail is encrypted and how, the fields that do nothing, the
errors it will raise and the fix. Pure: no I/O, no network.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from cdomail.cdo import constants as c
from cdomail.cdo.configuration import ENCRYPTION_RULE, field_warning
from cdomail.cdo.errors import (
    CDO_E_FAILED_TO_CONNECT,
    CDO_E_INVALID_SEND_OPTION,
    CDO_E_LOGON_FAILURE,
    CDO_E_NO_PICKUP_DIR,
    CDO_E_SENDER_REJECTED,
    CDO_E_SMTP_SERVER_REQUIRED,
    ErrorCode,
)

__all__ = ["Explanation", "FieldSetting", "Problem", "explain", "explain_text", "parse_snippet"]

_SECRET_LEAVES = frozenset({"sendpassword", "postpassword"})
_TYPE_LIBRARY = {name.lower(): value for name, value in vars(c).items()
                 if name.startswith("cdo") and isinstance(value, int | str)}


@dataclass
class FieldSetting:
    """One field assignment found in the input."""

    name: str
    value: Any
    committed: bool
    line: int
    note: str | None = None


@dataclass
class Problem:
    """Something that will go wrong, or does not do what its author thinks."""

    kind: str
    message: str
    hresult: str | None = None


@dataclass
class Explanation:
    """What CDO will do with a configuration."""

    steps: list[str] = field(default_factory=list)
    encrypted: bool | None = None
    encryption: str = "none"
    outcome: str = "sends"
    problems: list[Problem] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    fields: list[FieldSetting] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; passwords are already redacted."""
        return asdict(self)

    def to_text(self) -> str:
        """The explanation in plain words."""
        verdict = {True: f"ENCRYPTED ({self.encryption})", False: "NOT ENCRYPTED",
                   None: "not sent"}[self.encrypted]
        lines = [f"Outcome: {self.outcome}; mail is {verdict}.", "", "What CDO will do:"]
        lines += [f"  {n}. {step}" for n, step in enumerate(self.steps, 1)]
        if self.problems:
            lines += ["", "Problems:"]
            for problem in self.problems:
                code = f" [{problem.hresult}]" if problem.hresult else ""
                lines.append(f"  - {problem.message}{code}")
        if self.fixes:
            lines += ["", "Fix:"] + [f"  - {fix}" for fix in self.fixes]
        return "\n".join(lines) + "\n"


# --- parsing ---------------------------------------------------------------------------------
_STRING = r'"(?:[^"]|"")*"|\'[^\']*\''
_ASSIGN_TARGETS = [
    # .Item(EXPR).Value = V   /  Fields.Item(EXPR) = V  /  .Item(EXPR) = V
    re.compile(r"\.Item\s*\((?P<expr>[^)]*)\)\s*(?:\.Value\s*)?=\s*(?P<value>.+)$", re.I),
    # Fields(EXPR) = V   /  Fields(EXPR).Value = V
    re.compile(r"\bFields\s*\((?P<expr>[^)]*)\)\s*(?:\.Value\s*)?=\s*(?P<value>.+)$", re.I),
    # C#: Fields[EXPR] = V;
    re.compile(r"\bFields\s*\[(?P<expr>[^\]]*)\]\s*=\s*(?P<value>.+?);?$", re.I),
]
_ADD_CALL = re.compile(r"\bFields\.Add\s*\((?P<expr>.+?),\s*(?P<value>.+)\)\s*;?$", re.I)
_DECLARATION = re.compile(
    r"^(?:(?:Public|Private|Dim|Const|string|var|const|static|readonly|int|\[string\])\s+)*"
    r"(?P<name>\$?[A-Za-z_]\w*)\s*(?:As\s+\w+\s*)?=\s*(?P<value>.+?);?$",
    re.I,
)
_UPDATE = re.compile(r"(?:^|[.\s])Update\s*(?:\(\s*\))?\s*;?\s*$", re.I)


def _strip_comment(line: str) -> str:
    out: list[str] = []
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'" and not (char == "'" and _vb_comment_start(line, index)):
            quote = char
        elif char == "'" or (char == "#" and not "".join(out).strip()) or (
            line.startswith("//", index) and (index == 0 or line[index - 1].isspace())
        ):
            break
        out.append(char)
    return "".join(out).strip()


def _vb_comment_start(line: str, index: int) -> bool:
    # In VB a ' outside a string starts a comment; in PowerShell/C# it quotes. A ' followed
    # by a space or at the start of the code is a comment in every real snippet we have seen.
    rest = line[index + 1 :]
    return index == 0 or rest[:1] in (" ", "") or "'" not in rest


def _literal(token: str, symbols: dict[str, Any]) -> tuple[bool, Any]:
    token = token.strip().rstrip(";").strip()
    if not token:
        return False, None
    if token[0] == '"' and token.endswith('"') and len(token) >= 2:
        text = token[1:-1].replace('""', '"')
        # PowerShell expands $variables inside double quotes.
        text = re.sub(r"\$\{?(\w+)\}?", lambda m: str(symbols.get("$" + m.group(1).lower(),
                                                                   m.group(0))), text)
        return True, text
    if token[0] == "'" and token.endswith("'") and len(token) >= 2:
        return True, token[1:-1]
    lowered = token.lower()
    if lowered in ("true", "$true"):
        return True, True
    if lowered in ("false", "$false"):
        return True, False
    if re.fullmatch(r"-?\d+", token):
        return True, int(token)
    if lowered.startswith("cint(") or lowered.startswith("clng("):
        return _literal(token[5:-1], symbols)
    if lowered in symbols:
        return True, symbols[lowered]
    if lowered in _TYPE_LIBRARY:
        return True, _TYPE_LIBRARY[lowered]
    return False, token


def _evaluate(expr: str, symbols: dict[str, Any]) -> tuple[bool, Any]:
    parts = re.findall(rf"{_STRING}|[^&+]+", expr)
    values = []
    for part in parts:
        if not part.strip():
            continue
        ok, value = _literal(part, symbols)
        if not ok:
            return False, expr.strip()
        values.append(value)
    if len(values) == 1:
        return True, values[0]
    return True, "".join(str(v) for v in values)


def _normalise_key_value_name(name: str) -> str:
    name = name.strip().strip('"').strip("'")
    if ":" in name or "/" in name:
        return name
    return c.CDO_CONFIGURATION_NAMESPACE + name


def parse_snippet(text: str) -> tuple[list[FieldSetting], list[Problem]]:
    """Find every field assignment in *text* and whether an Update committed it."""
    symbols: dict[str, Any] = {}
    settings: list[FieldSetting] = []
    problems: list[Problem] = []
    needs_update = False
    lines = [_strip_comment(raw) for raw in text.splitlines()]
    if not re.search(r"\bFields\b|\.Item\s*\(", text, re.I):
        # Plain key=value lines (an exported configuration, or --field pairs).
        for number, line in enumerate(lines, 1):
            name, sep, value = line.partition("=")
            if sep and name.strip():
                _, parsed = _literal(value, {})
                settings.append(FieldSetting(_normalise_key_value_name(name), parsed, True,
                                             number, "key=value"))
        lines = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        for statement in (s.strip() for s in re.split(r"\s:\s", line)):
            _parse_statement(statement, number, symbols, settings, problems)
            if _UPDATE.search(statement) and not statement.lower().startswith("set "):
                for setting in settings:
                    setting.committed = True
    key_value = [s for s in settings if s.note == "key=value"]
    if len(key_value) < len(settings):
        # A real snippet: "x = y" lines are variables or message properties, not fields.
        settings = [s for s in settings if s.note != "key=value"]
        key_value = []
    needs_update = any(s.note is None for s in settings)
    for setting in settings:
        if setting.note in ("key=value", "no-update-needed"):
            setting.committed = True
            setting.note = None
    if not settings:
        problems.append(Problem("nothing-found", "No CDO configuration field assignment was "
                                "found in the input."))
    elif needs_update and not any(s.committed for s in settings) and not key_value:
        problems.append(Problem(
            "forgotten-update",
            "Fields.Update is never called: every field assignment above is staged and "
            "discarded, so CDO sends with its defaults (and fails with 0x80040220 because "
            "sendusing is not set).",
            _hex(CDO_E_INVALID_SEND_OPTION),
        ))
    elif needs_update and not all(s.committed for s in settings):
        late = ", ".join(sorted({_leaf(s.name) for s in settings if not s.committed}))
        problems.append(Problem(
            "uncommitted",
            f"These fields are set after the last Fields.Update and are ignored: {late}.",
        ))
    return settings, problems


def _parse_statement(statement: str, number: int, symbols: dict[str, Any],
                     settings: list[FieldSetting], problems: list[Problem]) -> None:
    match = _ADD_CALL.search(statement)
    style = "no-update-needed"
    if match is None:
        for pattern in _ASSIGN_TARGETS:
            match = pattern.search(statement)
            if match:
                style = "no-update-needed" if pattern.pattern.startswith(r"\bFields\s*\[") \
                    else ""
                break
    if match is not None:
        ok_name, name = _evaluate(match.group("expr"), symbols)
        _, value = _evaluate(match.group("value"), symbols)
        if not ok_name:
            problems.append(Problem("unresolved", f"line {number}: cannot work out the field "
                                    f"name {name!r}; it is left out."))
            return
        settings.append(FieldSetting(str(name), value, False, number, style or None))
        return
    declaration = _DECLARATION.match(statement)
    if declaration and not statement.lower().startswith("set "):
        name = declaration.group("name").lower()
        ok, value = _evaluate(declaration.group("value"), symbols)
        if ok:
            official = _TYPE_LIBRARY.get(name)
            if official is not None and official != value:
                problems.append(Problem(
                    "wrong-constant",
                    f"line {number}: {declaration.group('name')} is declared as {value!r}, but "
                    f"CDO's {declaration.group('name')} is {official!r}; the code uses "
                    f"{value!r}.",
                ))
            symbols[name] = value
        return


# --- analysis -----------------------------------------------------------------------------
def _hex(code: ErrorCode) -> str:
    return f"0x{code.hresult:08X} {code.name}"


def _leaf(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "-1", "yes")
    return bool(value)


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def explain(settings: list[FieldSetting], problems: list[Problem] | None = None) -> Explanation:
    """Work out what CDO does with these field settings (committed ones count)."""
    report = Explanation(problems=list(problems or []))
    committed: dict[str, Any] = {}
    for setting in settings:
        note = field_warning(setting.name)
        if note:
            setting.note = note
            kind = "https-typo" if setting.name.lower().startswith("https:") else (
                "phantom" if _leaf(setting.name) in c.PHANTOM_CONFIGURATION_FIELDS
                else "unknown-field")
            report.problems.append(Problem(kind, note))
        if _leaf(setting.name) in _SECRET_LEAVES:
            setting.value = "***"
        if setting.committed and note is None:
            committed[setting.name.lower()] = setting.value
    report.fields = settings

    def get(constant: str) -> Any:
        return committed.get(constant.lower())

    send_using = _as_int(get(c.cdoSendUsingMethod), 0)
    server = get(c.cdoSMTPServer)
    port = _as_int(get(c.cdoSMTPServerPort), 25)
    use_ssl = _as_bool(get(c.cdoSMTPUseSSL))
    authenticate = _as_int(get(c.cdoSMTPAuthenticate), 0)
    timeout = _as_int(get(c.cdoSMTPConnectionTimeout), 30)
    tls_mode = get(c.cdomailTLSMode)
    phantoms = [s for s in settings if _leaf(s.name) in c.PHANTOM_CONFIGURATION_FIELDS]

    def fail(code: ErrorCode, message: str, *fixes: str) -> Explanation:
        report.outcome = f"fails with {_hex(code)}"
        report.encrypted = None
        report.problems.append(Problem("error", message, _hex(code)))
        report.fixes.extend(fixes)
        return report

    if send_using not in (c.cdoSendUsingPickup, c.cdoSendUsingPort):
        typo = any(p.kind == "https-typo" for p in report.problems)
        cause = (" The https:// field names are unknown to CDO, so sendusing was never set."
                 if typo else "")
        return fail(CDO_E_INVALID_SEND_OPTION,
                    f"sendusing is not 1 or 2, so Send raises 0x80040220.{cause}",
                    "Set http://schemas.microsoft.com/cdo/configuration/sendusing = 2 (network) "
                    "and call Fields.Update.")
    if send_using == c.cdoSendUsingPickup:
        folder = get(c.cdoSMTPServerPickupDirectory)
        if not folder:
            return fail(CDO_E_NO_PICKUP_DIR, "sendusing=1 needs smtpserverpickupdirectory.",
                        "Set smtpserverpickupdirectory to the folder the mail service watches.")
        report.steps = [f"Write the message as a file into {folder} (no network); the local "
                        "mail service sends it on with its own settings."]
        report.encrypted = None
        report.encryption = "decided by the local mail service"
        report.outcome = "writes a pickup file"
        return report
    if not server:
        return fail(CDO_E_SMTP_SERVER_REQUIRED, "sendusing=2 needs smtpserver.",
                    "Set http://schemas.microsoft.com/cdo/configuration/smtpserver.")
    if authenticate in (c.cdoBasic, c.cdoNTLM) and not get(c.cdoSendUserName):
        report.problems.append(Problem("error", "smtpauthenticate is set but sendusername is "
                                       "empty: the logon fails.", _hex(CDO_E_LOGON_FAILURE)))
    where = f"{server}:{port}"
    auth_step = {c.cdoBasic: "AUTH LOGIN with sendusername/sendpassword (PLAIN if only PLAIN "
                 "is offered)", c.cdoNTLM: "AUTH NTLM with sendusername/sendpassword"}.get(
                     authenticate)
    if tls_mode:
        report.steps.append(f"cdomail only: urn:cdomail:configuration:tlsmode={tls_mode} "
                            "replaces CDO's rule (real CDO ignores this field).")
        report.encryption = str(tls_mode)
        report.encrypted = str(tls_mode) in ("starttls", "implicit", "cdo")
        report.steps.append(f"Connect to {where} and use TLS mode {tls_mode}.")
        return report
    if not use_ssl:
        report.encrypted = False
        report.steps += [f"Connect to {where} in plaintext (smtpusessl is False).",
                         "Wait for the 220 greeting, send EHLO. STARTTLS is never sent, even "
                         "when the server offers it."]
        if auth_step:
            report.steps.append(auth_step + " -- over the UNENCRYPTED connection.")
            report.problems.append(Problem("plaintext-credentials", "The user name and "
                                           "password cross the network unencrypted."))
        report.steps.append("MAIL FROM, RCPT TO, DATA: the message travels unencrypted.")
        if phantoms:
            report.problems.append(Problem("myth", "The STARTTLS-looking field(s) "
                                           f"{', '.join(_leaf(p.name) for p in phantoms)} do "
                                           "nothing: this mail is NOT encrypted. "
                                           + ENCRYPTION_RULE + "."))
        if port == 465:
            return fail(CDO_E_FAILED_TO_CONNECT,
                        f"Port 465 speaks TLS from the first byte: CDO waits for a greeting "
                        f"that never comes and fails after smtpconnectiontimeout ({timeout} s).",
                        "Set smtpusessl=True to use implicit TLS on 465.")
        report.problems.append(Problem(
            "if-starttls-required", "If the server requires STARTTLS it refuses MAIL (e.g. "
            "530 5.7.0 Must issue a STARTTLS command first).", _hex(CDO_E_SENDER_REJECTED)))
        report.fixes.append("To encrypt: smtpusessl=True with port 465 (implicit TLS) or "
                            "port 25 (STARTTLS).")
        report.outcome = "sends unencrypted (or 0x8004020E if the server requires STARTTLS)"
        return report
    if port == 25:
        report.encrypted, report.encryption = True, "STARTTLS"
        report.steps += [f"Connect to {where} in plaintext, read the greeting, send EHLO.",
                         "Send STARTTLS (smtpusessl=True on configured port 25), do the TLS "
                         "handshake, send EHLO again."]
        if auth_step:
            report.steps.append(auth_step + ", inside TLS.")
        report.steps.append("MAIL FROM, RCPT TO, DATA inside TLS.")
        report.problems.append(Problem(
            "if-no-starttls", "If the server does not offer STARTTLS, CDO gives up with "
            "0x80040213 (\"failed to connect\", although it did connect).",
            _hex(CDO_E_FAILED_TO_CONNECT)))
        report.outcome = "sends encrypted with STARTTLS"
        return report
    report.encrypted, report.encryption = True, "implicit TLS"
    report.steps += [f"Connect to {where} and start a TLS handshake at once (implicit TLS: "
                     f"smtpusessl=True on a port other than 25)."]
    if auth_step:
        report.steps.append(auth_step + ", inside TLS.")
    if port in (587, 2525):
        report.steps.append("The server answers in plaintext (it waits for STARTTLS), so the "
                            "handshake fails at once and nothing is sent.")
        return fail(
            CDO_E_FAILED_TO_CONNECT,
            f"Port {port} servers expect plaintext then STARTTLS; CDO starts TLS at once, the "
            f"handshake fails immediately (0x80040213).",
            f"{port} with smtpusessl=True fails: use 465, or 25, or set "
            "urn:cdomail:configuration:tlsmode=starttls in cdomail.",
        )
    report.steps.append("MAIL FROM, RCPT TO, DATA inside TLS.")
    report.outcome = "sends encrypted with implicit TLS (if the server speaks TLS on this port)"
    return report


def explain_text(text: str, extra_fields: list[tuple[str, str]] | None = None) -> Explanation:
    """Parse *text* (snippet or key=value lines), add ``--field`` pairs, and explain."""
    settings, problems = parse_snippet(text) if text.strip() else ([], [])
    if not text.strip():
        problems = []
    for number, (name, value) in enumerate(extra_fields or [], 1):
        _, parsed = _literal(value, {})
        if not isinstance(parsed, bool | int) and not value.startswith(("\"", "'")):
            parsed = value
        settings.append(FieldSetting(_normalise_key_value_name(name), parsed, True, -number))
    if extra_fields:
        problems = [p for p in problems if p.kind != "nothing-found"]
    return explain(settings, problems)
