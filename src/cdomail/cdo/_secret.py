"""CDO's passwords use the client's :class:`~cdomail.protocol.Secret` (one redacting type).

CDO's ``sendpassword`` / ``postpassword`` and an attachment URL's password travel as a
:class:`Secret` from the moment they are set until the one call that needs the clear text, so a
frame that holds one prints ``Secret('***')``; the client accepts it as it is.
"""

from __future__ import annotations

from cdomail.protocol._secret import Secret

__all__ = ["Secret", "reveal"]


def reveal(value: Secret | str | None) -> str:
    """The clear text of *value* (a Secret or a plain string), ``""`` for ``None``."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Secret) else value
