"""Saying what happened to a message: the sentences, the JSON, the exit status.

Never more than is known: a lost connection after the final dot is "may have been
delivered" (RFC 5321 §4.5.3.2.6 - the server may have queued it), never "nothing was
delivered".
"""

from __future__ import annotations

from ..errors import CdoMailError, StatusUnknown, printable
from ..result import SendResult
from ._exit import ExitCode, exit_code_for
from ._wording import cli_wording

__all__ = ["describe_encryption", "error_document", "failure_lines", "result_document",
           "result_exit_code", "result_lines"]


def describe_encryption(result: SendResult) -> str:
    """One plain sentence about encryption."""
    if result.tls is None:
        return "NOT ENCRYPTED: the message travelled in plaintext."
    verified = {"ca": "certificate verified", "fingerprint": "certificate matched the pinned "
                "fingerprint", "none": "certificate NOT verified (--insecure)"}[
        result.tls.verified_by]
    return (f"ENCRYPTED ({result.tls.mode}, {result.tls.version}, {result.tls.cipher},"
            f" {verified}).")


def result_exit_code(result: SendResult) -> ExitCode:
    """0 when every recipient has it; 80 when some were refused; the error's code otherwise."""
    if result.error is not None:
        return exit_code_for(result.error)
    if not result.ok:
        return ExitCode.NO_USER if result.refused and not result.accepted else ExitCode.PROTOCOL
    return ExitCode.PARTIAL if result.refused else ExitCode.OK


def result_lines(result: SendResult) -> list[str]:
    """What a person reads after a send that reached the message content."""
    lines = []
    if result.ok:
        lines.append(f"Accepted for {', '.join(sorted(result.accepted))}:"
                     f" {printable(str(result.reply))}")
    for address, reply in result.refused.items():
        lines.append(f"Refused {address}: {printable(str(reply))}")
    if result.error is not None:
        lines.append(f"FAILED ({type(result.error).__name__})")
    elif not result.ok:
        final = printable(str(result.reply)) if result.reply else "none"
        lines.append(f"FAILED: the server broke the SMTP protocol: no 250 reply to the message"
                     f" content (RFC 5321 §4.3.2; final reply: {final})")
    lines.append(describe_encryption(result))
    return lines


def failure_lines(error: CdoMailError) -> list[str]:
    """The failure and what it means for delivery."""
    lines = [f"FAILED ({type(error).__name__}): {printable(cli_wording(str(error)))}"]
    if exit_code_for(error) is ExitCode.NO_HOST:
        lines.append("DNS failure: the server's name does not resolve (not a timeout).")
    if isinstance(error, StatusUnknown):
        lines.append("The message MAY HAVE BEEN DELIVERED: the server did not confirm it."
                     " Check before sending it again.")
    return lines


def error_document(error: CdoMailError) -> dict[str, object]:
    """The JSON form of an error."""
    document: dict[str, object] = {"type": type(error).__name__,
                                   "message": cli_wording(str(error)),
                                   "exit_code": int(exit_code_for(error))}
    if isinstance(error, StatusUnknown):
        document["may_have_been_delivered"] = True
    return document


def result_document(result: SendResult | None, error: CdoMailError | None) -> dict[str, object]:
    """The JSON form of a send: the same keys whether it worked or not."""
    failure = error or (result.error if result else None)
    return {
        "ok": result is not None and result.ok,
        "encrypted": result.encrypted if result else False,
        "tls": result.tls.to_dict() if result and result.tls else None,
        "accepted": sorted(result.accepted) if result else [],
        "refused": {a: str(r) for a, r in result.refused.items()} if result else {},
        "reply": str(result.reply) if result and result.reply else None,
        "error": error_document(failure) if failure else None,
    }
