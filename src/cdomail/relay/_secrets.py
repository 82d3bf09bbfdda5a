"""Secrets in the relay's configuration: ``env:NAME`` or ``file:PATH``, never inline.

A secret written inline in relay.toml ends up in backups, tickets and screenshots of the file;
only a reference is accepted, resolved when it is needed. Errors name the field and the
reference, never the secret's value.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["SecretError", "check_secret_spec", "resolve_secret"]

_SCHEMES = ("env:", "file:")


class SecretError(ConfigurationError):
    """A secret reference is malformed or cannot be resolved (the value is never shown)."""


def check_secret_spec(spec: object, *, field: str) -> str:
    """Return *spec* when it is a well-formed ``env:NAME``/``file:PATH`` reference, else raise."""
    if not isinstance(spec, str) or not spec.startswith(_SCHEMES) or not spec.split(":", 1)[1]:
        raise SecretError(
            f"{field}: a secret must be a reference, \"env:NAME\" or \"file:PATH\" "
            "(an inline secret is refused: it would leak with the file)",
            field=field,
        )
    return spec


def resolve_secret(spec: str, *, field: str) -> str:
    """The secret *spec* points to: an environment variable, or a file's text (stripped)."""
    check_secret_spec(spec, field=field)
    scheme, _, target = spec.partition(":")
    if scheme == "env":
        value = os.environ.get(target)
        if value is None:
            raise SecretError(f"{field}: environment variable {target} is not set", field=field)
        if not value:
            raise SecretError(f"{field}: environment variable {target} is empty", field=field)
        return value
    try:
        value = Path(target).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SecretError(
            f"{field}: cannot read secret file {target}: {error.strerror}", field=field
        ) from None
    if not value:
        raise SecretError(f"{field}: secret file {target} is empty", field=field)
    return value
