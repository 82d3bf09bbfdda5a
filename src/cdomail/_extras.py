"""Optional parts and the extra that installs each: one clear line when one is missing.

``pip install cdomail`` installs the core client only (the standard library's ``ssl``,
``email`` and ``asyncio`` are all it needs). Every other part names its extra, and a part
whose extra is missing says so in one line instead of a ``ModuleNotFoundError`` traceback
from deep inside a third-party import::

    require("lab", "aiosmtpd", "trustme", "cryptography")   # first thing in cdomail/lab
    # -> MissingExtra: cdomail's lab needs the extra 'lab' (missing module 'aiosmtpd'):
    #    pip install 'cdomail[lab]'

The extras and what they install are declared in ``pyproject.toml`` (README, "Installing").
"""

from __future__ import annotations

import importlib

from .errors import CdoMailError

__all__ = ["MissingExtra", "require"]


class MissingExtra(CdoMailError, ModuleNotFoundError):
    """A part of cdomail was used without the extra that installs its dependencies.

    A :class:`ModuleNotFoundError` too, so code that probes for an optional part with
    ``except ImportError`` keeps working. ``extra`` names the extra, ``name`` the module
    that is missing; ``str()`` is the one line to show a person.
    """

    def __init__(self, extra: str, module: str, part: str) -> None:
        self.extra = extra
        self.part = part
        super().__init__(
            f"cdomail's {part} needs the extra {extra!r} (missing module {module!r}):"
            f" pip install 'cdomail[{extra}]'",
            name=module,
        )

    def __reduce__(self) -> tuple[type[MissingExtra], tuple[str, str, str]]:
        return type(self), (self.extra, self.name or "", self.part)


def require(extra: str, *modules: str, part: str | None = None) -> None:
    """Import ``modules``; raise :class:`MissingExtra` naming ``extra`` when one is absent.

    ``part`` is what the user was trying to use (default: the extra's name). Only a module
    that is not installed at all becomes :class:`MissingExtra`; a module that is installed
    but fails while importing raises its own error, which is a different problem.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing != module and not module.startswith(missing + "."):
                raise
            raise MissingExtra(extra, module, part or extra) from None
