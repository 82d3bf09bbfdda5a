"""A password held so that no ``repr()``, ``str()``, log line or traceback-with-locals shows it.

CDO's ``sendpassword`` / ``postpassword`` and an attachment URL's password travel through
:class:`Secret` from the moment they are set until the one call that needs the clear text
(:meth:`Secret.reveal`), so a frame that holds one prints ``Secret('***')``.
"""

from __future__ import annotations

__all__ = ["Secret", "reveal"]


class Secret:
    """A string that never shows itself: ``repr``/``str``/``format`` print ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The clear text, for the one call that must send it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def reveal(value: Secret | str | None) -> str:
    """The clear text of *value* (a Secret or a plain string), ``""`` for ``None``."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Secret) else value
