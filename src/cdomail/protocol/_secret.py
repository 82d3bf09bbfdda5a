"""A password or token that never shows itself by accident.

Held from the client's configuration down to the SASL step that puts it on the wire (RFC 4954
§4: only inside the AUTH exchange). Its ``repr()`` and ``str()`` are ``Secret('***')``, so a
traceback printed with its local variables (``traceback.TracebackException(capture_locals=
True)``, pytest's ``--showlocals``, rich's ``show_locals``), a dataclass repr, a log record or
an f-string shows no secret; :meth:`reveal` is the one explicit way to the value. It refuses
to be pickled (a pickle is a dump).
"""

from __future__ import annotations

import hmac
from typing import NoReturn

__all__ = ["Secret"]


class Secret:
    """``Secret("hunter2")``: ``repr()`` is ``Secret('***')``; ``.reveal()`` gives the value."""

    __slots__ = ("__value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            # Never echo the value: it may be the password itself.
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        self.__value = value

    @classmethod
    def wrap(cls, value: str | Secret | None) -> Secret | None:
        """``value`` as a Secret (``None`` stays ``None``; a Secret is returned as it is)."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value)

    def reveal(self) -> str:
        """The value, for the one place that must send it."""
        return self.__value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self.__value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash((Secret, self.__value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
