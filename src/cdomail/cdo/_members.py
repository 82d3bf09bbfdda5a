"""Case-insensitive member names for the CDO object classes (VBScript, VBA and AutoIt ignore case).

Ported code writes ``msg.HtmlBody``, ``msg.Textbody``, ``msg.Cc``, ``cfg.fields``, ``msg.send()``.
Without help, Python would store ``HtmlBody`` as a brand-new attribute and the mail would go out
without its body. :class:`CaseInsensitiveMembers` resolves any spelling to the real member for
get, set and call, and rejects a name that matches no member with an ``AttributeError`` naming
the nearest real one -- so nothing is ever stored silently under a misspelled name.

The map from lower-case spelling to real name is computed once per class (in
``__init_subclass__``) from the class attributes of the whole MRO and the names annotated at
class level (instance data such as ``Message.Configuration``). Names starting with ``_`` are
Python's business and pass straight through.
"""

from __future__ import annotations

import difflib
import inspect
import os
import sys
from typing import Any, ClassVar

__all__ = ["CaseInsensitiveMembers", "caller_stacklevel", "nearest_member", "unknown_member"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The ``warnings.warn`` stacklevel of the first frame outside this package (the user's line).

    Counted rather than fixed because a property set may pass through
    :meth:`CaseInsensitiveMembers.__setattr__` or not, depending on the spelling used.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _public_names(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        names.update(vars(klass))
        names.update(vars(klass).get("__annotations__", {}))
    return {name for name in names if not name.startswith("_")}


def _preferred(current: str | None, candidate: str) -> str:
    """Between two spellings of one member, keep CDO's (mixed case) over a snake_case alias."""
    if current is None:
        return candidate
    current_cdo = current != current.lower()
    candidate_cdo = candidate != candidate.lower()
    if candidate_cdo and not current_cdo:
        return candidate
    if candidate_cdo == current_cdo and candidate < current:
        return candidate  # deterministic, whatever the order of vars()
    return current


def nearest_member(name: str, members: dict[str, str]) -> str | None:
    """The real member whose name is closest to *name* (difflib), or ``None``."""
    close = difflib.get_close_matches(name.lower(), list(members), n=1, cutoff=0.6)
    return members[close[0]] if close else None


def unknown_member(owner: str, name: str, members: dict[str, str]) -> AttributeError:
    """The error for a name that is no member: says which real member was probably meant."""
    nearest = nearest_member(name, members)
    hint = f"; did you mean {nearest!r}?" if nearest else ""
    return AttributeError(
        f"{owner} has no member {name!r}{hint} (CDO member names are case-insensitive, "
        f"but a misspelled one is an error, not a new attribute)"
    )


class CaseInsensitiveMembers:
    """Mixin: members found in any letter case; unknown names raise instead of being stored."""

    __slots__ = ()
    #: lower-case spelling -> the real member name (computed per class).
    _members: ClassVar[dict[str, str]] = {}
    #: real member names that are methods: assigning to one is an error, not an override.
    _methods: ClassVar[frozenset[str]] = frozenset()
    #: spelling -> attribute an assignment goes to (real names, then each spelling seen).
    _assign_to: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        members: dict[str, str] = {}
        for name in _public_names(cls):
            members[name.lower()] = _preferred(members.get(name.lower()), name)
        cls._members = members
        cls._methods = frozenset(
            name
            for name in _public_names(cls)
            if inspect.isfunction(inspect.getattr_static(cls, name, None))
        )
        cls._assign_to = {name: name for name in _public_names(cls) if name not in cls._methods}

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup failed: a case variant, or a real mistake.
        if name.startswith("_"):
            raise AttributeError(name)
        real = type(self)._members.get(name.lower())
        if real is None or real == name:
            raise unknown_member(type(self).__name__, name, type(self)._members)
        return getattr(self, real)

    def __setattr__(self, name: str, value: Any) -> None:
        # Hot path (every attribute set in every __init__): one dict lookup.
        real = type(self)._assign_to.get(name)
        if real is None:
            real = type(self)._assignment_target(name)
        object.__setattr__(self, real, value)

    @classmethod
    def _assignment_target(cls, name: str) -> str:
        if name.startswith("_"):
            real = name
        else:
            found = cls._members.get(name.lower())
            if found is None:
                raise unknown_member(cls.__name__, name, cls._members)
            if found in cls._methods:
                raise AttributeError(f"{cls.__name__}.{found} is a method; it cannot be assigned")
            real = found
        cls._assign_to[name] = real  # spellings seen are few: the names in the code
        return real

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        real = type(self)._members.get(name.lower(), name)
        object.__delattr__(self, real)
