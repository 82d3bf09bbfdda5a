"""Library messages re-worded for the command line: flags, not Python parameters.

The library speaks to Python callers (``allow_plaintext_auth=True``, ``tls='implicit'``);
a person at a shell needs the flag that does the same (``--allow-plaintext-auth``,
``--tls implicit``).
"""

from __future__ import annotations

import re

__all__ = ["cli_wording"]

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
