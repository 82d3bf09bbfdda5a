"""Secret specs: ``env:NAME`` or ``file:PATH``, resolved when needed, never shown."""

from __future__ import annotations

import os
from pathlib import Path

from cdomail.errors import ConfigurationError

__all__ = ["resolve_secret"]


def resolve_secret(spec: str, *, field: str) -> str:
    """The secret ``spec`` points to; the value never appears in an error."""
    kind, _, where = spec.partition(":")
    if kind == "env" and where:
        value = os.environ.get(where)
        if value is None:
            raise ConfigurationError(f"{field}: environment variable {where} is not set",
                                     field=field)
        return value
    if kind == "file" and where:
        try:
            return Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{field}: cannot read {where}: {exc.strerror}",
                                     field=field) from None
    raise ConfigurationError(f"{field} must be env:NAME or file:PATH (never the secret itself)",
                             field=field)
