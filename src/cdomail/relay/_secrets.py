"""Secrets in the relay's configuration: ``env:NAME`` or ``file:PATH``, never inline.

A secret written inline in relay.toml ends up in backups, tickets and screenshots of the file;
only a reference is accepted, resolved when it is needed. The relay runs unattended, so of
:mod:`cdomail.secrets`' sources it takes the two that need nobody: no ``prompt``, and no
``command:`` run by a daemon. Resolving is :func:`cdomail.secrets.resolve_secret`'s job (one
reading of ``env:`` and ``file:`` for the command line and the relay); errors name the field
and the reference, never the secret's value.
"""

from __future__ import annotations

from .. import secrets
from ..secrets import SecretUnavailable

__all__ = ["SecretError", "check_secret_spec", "resolve_secret"]

_SCHEMES = ("env:", "file:")


class SecretError(SecretUnavailable):
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
    """The secret *spec* points to: an environment variable, or a file's text (one trailing
    newline removed, as for the command line's accounts)."""
    check_secret_spec(spec, field=field)
    try:
        return secrets.resolve_secret(spec, field=field)
    except SecretUnavailable as error:
        raise SecretError(str(error), field=field) from None
