"""CDO's decision for one concrete set of committed field values (one path through a snippet).

Reads the values with :mod:`cdomail._cdo_rules` -- the same coercions ``Message.Send`` uses --
and follows ``Message.Send``'s order: ``sendusing`` (0x80040220), ``smtpserver``
(0x8004020A) or the pickup folder (0x80040222), then From/Sender (0x8004020D) and recipients
(0x8004020C), then the encryption rule of cdo.md §1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdomail import _cdo_rules as rules
from cdomail.cdo import constants as c
from cdomail.cdo.configuration import ENCRYPTION_RULE
from cdomail.cdo.errors import (
    CDO_E_FAILED_TO_CONNECT,
    CDO_E_FROM_MISSING,
    CDO_E_INVALID_SEND_OPTION,
    CDO_E_LOGON_FAILURE,
    CDO_E_NO_PICKUP_DIR,
    CDO_E_RECIPIENT_MISSING,
    CDO_E_SENDER_REJECTED,
    CDO_E_SMTP_SERVER_REQUIRED,
    ErrorCode,
)
from cdomail.errors import ConfigurationError

from ._analysis import Problem

ENCRYPTED, PLAINTEXT, FAILS, DEPENDS, PICKUP = "encrypted", "plaintext", "fails", "depends", \
    "pickup"


@dataclass
class MessageFacts:
    """What the snippet does to the message; ``None`` when it never calls Send."""

    has_sender: bool | None = None
    has_recipient: bool | None = None


@dataclass
class Decision:
    """CDO's outcome on one path."""

    verdict: str = PLAINTEXT
    outcome: str = "sends"
    encryption: str = "none"
    hresult: str | None = None
    steps: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def fail(self, code: ErrorCode | None, message: str, *fixes: str) -> Decision:
        self.verdict = FAILS
        self.hresult = None if code is None else f"0x{code.hresult:08X}"
        self.outcome = f"fails with {hex_name(code)}" if code else "fails before connecting"
        self.encryption = "none"
        self.problems.append(Problem("error", message, None if code is None else hex_name(code)))
        self.fixes.extend(fixes)
        return self


def hex_name(code: ErrorCode) -> str:
    """``0x80040220 CDO_E_INVALID_SEND_OPTION``."""
    return f"0x{code.hresult:08X} {code.name}"


def _leaf(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].strip().lower()


def decide(committed: dict[str, Any], message: MessageFacts, *, https_typo: bool = False,
           phantoms: tuple[str, ...] = ()) -> Decision:
    """CDO's outcome for *committed* (lower-case full field name -> raw value)."""
    report = Decision()

    def get(constant: str) -> Any:
        return committed.get(constant.lower())

    try:
        send_using = rules.read_send_using(get(c.cdoSendUsingMethod))
        port = rules.read_port(get(c.cdoSMTPServerPort))
        use_ssl = rules.read_use_ssl(get(c.cdoSMTPUseSSL))
        authenticate = rules.read_authenticate(get(c.cdoSMTPAuthenticate))
        timeout = rules.read_timeout(get(c.cdoSMTPConnectionTimeout))
    except ConfigurationError as exc:
        return report.fail(None, f"{exc} -- Message.Send refuses it before connecting.",
                           "Use the documented value type for this field.")
    if send_using not in (rules.SEND_USING_PICKUP, rules.SEND_USING_PORT):
        cause = (" The https:// field names are unknown to CDO, so sendusing was never set."
                 if https_typo else "")
        return report.fail(CDO_E_INVALID_SEND_OPTION,
                           f"sendusing is not 1 or 2, so Send raises 0x80040220.{cause}",
                           "Set http://schemas.microsoft.com/cdo/configuration/sendusing = 2 "
                           "(network) and call Fields.Update.")
    server = get(c.cdoSMTPServer)
    folder = get(c.cdoSMTPServerPickupDirectory)
    if send_using == rules.SEND_USING_PORT and rules.is_unset(server):
        return report.fail(CDO_E_SMTP_SERVER_REQUIRED, "sendusing=2 needs smtpserver.",
                           "Set http://schemas.microsoft.com/cdo/configuration/smtpserver.")
    if send_using == rules.SEND_USING_PICKUP and rules.is_unset(folder):
        return report.fail(CDO_E_NO_PICKUP_DIR, "sendusing=1 needs smtpserverpickupdirectory.",
                           "Set smtpserverpickupdirectory to the folder the mail service "
                           "watches.")
    sender = message.has_sender or not rules.is_unset(get(c.cdoSendEmailAddress))
    if message.has_sender is not None and not sender:
        return report.fail(CDO_E_FROM_MISSING, "Neither From nor Sender is set (nor "
                           "sendemailaddress): Send raises 0x8004020D before connecting.",
                           "Set .From (or .Sender) before calling Send.")
    if message.has_recipient is False:
        return report.fail(CDO_E_RECIPIENT_MISSING, "No To, CC or BCC is set: Send raises "
                           "0x8004020C before connecting.", "Set .To before calling Send.")
    if send_using == rules.SEND_USING_PICKUP:
        report.verdict, report.outcome = PICKUP, "writes a pickup file"
        report.encryption = "decided by the local mail service"
        report.steps = [f"Write the message as a file into {folder} (no network); the local "
                        "mail service sends it on with its own settings."]
        return report
    # Only basic needs a user name: cdoNTLM without one logs on as the account running the
    # script (CDOSYS smtpauthenticate: "the current process security context is used").
    if authenticate == c.cdoBasic and rules.is_unset(get(c.cdoSendUserName)):
        report.problems.append(Problem("error", "smtpauthenticate is set but sendusername is "
                                       "empty: the logon fails.", hex_name(CDO_E_LOGON_FAILURE)))
    tls_mode = get(c.cdomailTLSMode)
    if not rules.is_unset(tls_mode):
        return _cdomail_mode(report, str(tls_mode).strip().lower(), f"{server}:{port}")
    return _network(report, f"{server}:{port}", port, use_ssl, authenticate, timeout, phantoms)


def _cdomail_mode(report: Decision, mode: str, where: str) -> Decision:
    report.steps.append(f"cdomail only: urn:cdomail:configuration:tlsmode={mode} replaces "
                        "CDO's rule (real CDO ignores this field).")
    report.steps.append(f"Connect to {where} and use TLS mode {mode}.")
    report.encryption = mode
    if mode in ("starttls", "implicit", "cdo", "auto"):
        report.verdict, report.outcome = ENCRYPTED, f"sends encrypted ({mode}, cdomail only)"
    elif mode == "none":
        report.verdict, report.outcome = PLAINTEXT, "sends unencrypted"
    else:
        report.verdict = DEPENDS
        report.outcome = f"{mode}: encrypted only if the server offers STARTTLS"
    return report


def _auth_step(authenticate: int) -> str | None:
    return {c.cdoBasic: "AUTH LOGIN with sendusername/sendpassword (PLAIN if only PLAIN is "
            "offered)", c.cdoNTLM: "AUTH NTLM with sendusername/sendpassword (without them, as the "
            "Windows account running the script)"}.get(authenticate)


def _network(report: Decision, where: str, port: int, use_ssl: bool, authenticate: int,
             timeout: int, phantoms: tuple[str, ...]) -> Decision:
    auth_step = _auth_step(authenticate)
    how = rules.cdo_encryption(use_ssl, port)
    if how == "none":
        return _plaintext(report, where, port, auth_step, timeout, phantoms)
    if how == "starttls":
        report.verdict, report.encryption = ENCRYPTED, "STARTTLS"
        report.steps += [f"Connect to {where} in plaintext, read the greeting, send EHLO.",
                         f"Send STARTTLS (smtpusessl=True on configured port "
                         f"{rules.CDO_STARTTLS_PORT}), do the TLS handshake, send EHLO again."]
        if auth_step:
            report.steps.append(auth_step + ", inside TLS.")
        report.steps.append("MAIL FROM, RCPT TO, DATA inside TLS.")
        report.problems.append(Problem(
            "if-no-starttls", "If the server does not offer STARTTLS, CDO gives up with "
            "0x80040213 (\"failed to connect\", although it did connect).",
            hex_name(CDO_E_FAILED_TO_CONNECT)))
        report.outcome = "sends encrypted with STARTTLS"
        return report
    report.verdict, report.encryption = ENCRYPTED, "implicit TLS"
    report.steps.append(f"Connect to {where} and start a TLS handshake at once (implicit TLS: "
                        f"smtpusessl=True on a port other than {rules.CDO_STARTTLS_PORT}).")
    if auth_step:
        report.steps.append(auth_step + ", inside TLS.")
    if port in (587, 2525):
        report.steps.append("The server answers in plaintext (it waits for STARTTLS), so the "
                            "handshake fails at once and nothing is sent.")
        report.fail(CDO_E_FAILED_TO_CONNECT,
                    f"Port {port} servers expect plaintext then STARTTLS; CDO starts TLS at "
                    f"once, the handshake fails immediately (0x80040213).",
                    f"{port} with smtpusessl=True fails: use 465, or 25, or set "
                    "urn:cdomail:configuration:tlsmode=starttls in cdomail.")
        return report
    report.steps.append("MAIL FROM, RCPT TO, DATA inside TLS.")
    report.outcome = "sends encrypted with implicit TLS (if the server speaks TLS on this port)"
    return report


def _plaintext(report: Decision, where: str, port: int, auth_step: str | None, timeout: int,
               phantoms: tuple[str, ...]) -> Decision:
    report.verdict = PLAINTEXT
    report.steps += [f"Connect to {where} in plaintext (smtpusessl is False).",
                     "Wait for the 220 greeting, send EHLO. STARTTLS is never sent, even when "
                     "the server offers it."]
    if auth_step:
        report.steps.append(auth_step + " -- over the UNENCRYPTED connection.")
        report.problems.append(Problem("plaintext-credentials", "The user name and password "
                                       "cross the network unencrypted."))
    report.steps.append("MAIL FROM, RCPT TO, DATA: the message travels unencrypted.")
    if phantoms:
        report.problems.append(Problem("myth", f"The STARTTLS-looking field(s) "
                                       f"{', '.join(phantoms)} do nothing: this mail is NOT "
                                       f"encrypted. {ENCRYPTION_RULE}."))
    if port == 465:
        return report.fail(CDO_E_FAILED_TO_CONNECT,
                           f"Port 465 speaks TLS from the first byte: CDO waits for a greeting "
                           f"that never comes and fails after smtpconnectiontimeout "
                           f"({timeout} s).", "Set smtpusessl=True to use implicit TLS on 465.")
    report.problems.append(Problem(
        "if-starttls-required", "If the server requires STARTTLS it refuses MAIL (e.g. 530 "
        "5.7.0 Must issue a STARTTLS command first).", hex_name(CDO_E_SENDER_REJECTED)))
    report.fixes.append("To encrypt: smtpusessl=True with port 465 (implicit TLS) or port 25 "
                        "(STARTTLS).")
    report.outcome = "sends unencrypted (or 0x8004020E if the server requires STARTTLS)"
    return report
