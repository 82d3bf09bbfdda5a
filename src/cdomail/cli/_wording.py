"""Library messages re-worded for the command line: flags, not Python parameters.

The library speaks to Python callers (``allow_plaintext_auth=True``, ``tls='implicit'``);
a person at a shell needs the flag that does the same (``--allow-plaintext-auth``,
``--tls implicit``).
"""

from __future__ import annotations

import re

from ..errors import CdoMailError, InputError

__all__ = ["FLAG_FOR_FIELD", "cli_wording", "flagged"]

# Library parameter -> the flag that sets it, for messages shown to a person.
FLAG_FOR_FIELD = {
    "cafile": "--cafile", "client_cert": "--client-cert", "client_key": "--client-key",
    "fingerprint": "--fingerprint", "host": "--server", "port": "--server",
    "username": "--user", "password": "--password-env/--password-file",
    "connect_timeout": "--timeout", "command_timeout": "--command-timeout",
    "deadline": "--deadline", "local_hostname": "--ehlo", "tls": "--tls",
}

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement) for pattern, replacement in (
        (r"\busername given without password or oauth2_token\b",
         "--user needs --password-env or --password-file"),
        (r"\ballow_plaintext_auth=True\b", "--allow-plaintext-auth"),
        (r"\btls=['\"]?([a-z-]+)['\"]?", r"--tls \1"),
        (r"\bcafile=\.\.\.", "--cafile FILE"),
        (r"\bfingerprint=\.\.\.", "--fingerprint SHA256"),
        (r"\bverify=False\b", "--insecure"),
        (r"\bconnect_timeout\b", "--timeout"),
        (r"\bcommand_timeout\b", "--command-timeout"),
        (r"\bdeadline\b(?= must)", "--deadline"),
        (r"\boauth2_token\b", "the OAuth2 token (token_source)"),
        (r"\bclient_key given without client_cert\b", "--client-key needs --client-cert"),
        (r"\bpassword given without username\b", "a password needs --user"),
    )
)


def cli_wording(message: str) -> str:
    """``message`` with every Python parameter spelling replaced by its CLI flag."""
    for pattern, replacement in _REWRITES:
        message = pattern.sub(replacement, message)
    return message


def flagged(error: CdoMailError) -> str:
    """The error's message in CLI words, led by the flag it is about when it does not say."""
    message = cli_wording(str(error))
    field = error.field if isinstance(error, InputError) else ""
    flag = FLAG_FOR_FIELD.get(field)
    if flag and flag not in message:
        return f"{flag}: {message}"
    return message
