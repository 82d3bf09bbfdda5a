"""ADO-like ``Fields`` collections, as CDO exposes on Configuration and Message.

CDO's ``Fields`` follows ADO semantics: assigning a value *stages* it, and only
``Fields.Update()`` commits it. Code that forgets ``.Update`` sets nothing at all, which is the
commonest CDO bug, so the collection remembers staged changes and lets ``Send`` warn about them.

Names are case-insensitive. Unknown names are accepted and stored, as CDO does; the owner of
the collection may pass a *validator* that warns about (or rejects) a name or a value.

Write-only fields (``sendpassword``) are held as :class:`~cdomail.cdo._secret.Secret` from the
moment they are set: every view of the collection (``Value``, iteration, ``repr``,
:meth:`Fields.committed_items`) reads them back as ``""``, as CDO does, and only
:meth:`Fields.committed` hands out the ``Secret`` for the transport to reveal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cdomail.cdo._members import CaseInsensitiveMembers
from cdomail.cdo._secret import Secret

__all__ = ["Field", "FieldValidator", "Fields"]

#: Called as ``validator(name, value)`` before a value is staged; may warn or raise.
FieldValidator = Callable[[str, Any], None]


class Field(CaseInsensitiveMembers):
    """One entry of a :class:`Fields` collection (``Fields.Item(name)``).

    ``Value`` reads the staged value when there is one, else the committed one (ADO);
    ``UnderlyingValue`` always reads the committed one. Write-only fields read back empty.
    """

    __slots__ = ("_fields", "_given", "_key")

    def __init__(self, fields: Fields, key: str, given: str | None = None) -> None:
        self._fields = fields
        self._key = key
        self._given = given or key

    @property
    def Name(self) -> str:
        """The field name, as first spelled by whoever set it."""
        return self._fields._names.get(self._key, self._given)

    @property
    def Value(self) -> Any:
        """The value (staged if a change is pending); ``None`` when never set."""
        return self._fields._read(self._key, staged=True)

    @Value.setter
    def Value(self, value: Any) -> None:
        self._fields._stage(self.Name, value)

    @property
    def UnderlyingValue(self) -> Any:
        """The committed value, ignoring pending changes."""
        return self._fields._read(self._key, staged=False)

    @property
    def OriginalValue(self) -> Any:
        """Same as :attr:`UnderlyingValue` (ADO name)."""
        return self.UnderlyingValue

    # snake_case aliases
    name = Name
    value = Value
    underlying_value = UnderlyingValue

    # ``Value`` is the default member (VBA reads ``Flds(name)`` as ``Flds(name).Value``): where
    # Python needs a value -- a comparison, ``str``, ``int``, ``if`` -- a Field acts as it.
    def __eq__(self, other: object) -> bool:
        value = other.Value if isinstance(other, Field) else other
        return bool(self.Value == value)

    __hash__ = None  # type: ignore[assignment]  # equal to its value, so not hashable

    def __bool__(self) -> bool:
        return bool(self.Value)

    def __str__(self) -> str:
        value = self.Value
        return "" if value is None else str(value)

    def __int__(self) -> int:
        return int(self.Value)

    def __float__(self) -> float:
        return float(self.Value)

    def __repr__(self) -> str:
        return f"Field({self.Name!r})"


class Fields(CaseInsensitiveMembers):
    """A case-insensitive, ADO-like collection of named values with staged changes.

    ``f[name] = v``, ``f.Item(name).Value = v`` and ``f.Item(name, v)`` all stage a value;
    ``f[name]`` and ``f.Item(name)`` return a :class:`Field`; ``f.Update()`` commits;
    ``f.Resync()`` / ``f.CancelUpdate()`` discard pending changes.
    """

    def __init__(
        self,
        *,
        validator: FieldValidator | None = None,
        write_only: frozenset[str] = frozenset(),
        defaults: dict[str, Any] | None = None,
        key: Callable[[str], str] = str.lower,
    ) -> None:
        self._names: dict[str, str] = {}
        self._committed: dict[str, Any] = {}
        self._staged: dict[str, Any] = {}
        self._validator = validator
        self._key = key
        self._write_only = frozenset(key(name) for name in write_only)
        self._commits = 0
        for name, value in (defaults or {}).items():
            self._names[key(name)] = name
            self._committed[key(name)] = value

    # --- internal ---------------------------------------------------------------------
    def _read(self, key: str, *, staged: bool) -> Any:
        if key in self._write_only:
            return "" if key in self._committed or key in self._staged else None
        if staged and key in self._staged:
            return self._staged[key]
        return self._committed.get(key)

    def _stage(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("a field name must be a non-empty string")
        if self._validator is not None:
            self._validator(name, value)
        key = self._key(name)
        self._names.setdefault(key, name)
        self._staged[key] = self._protect(key, value)

    def _protect(self, key: str, value: Any) -> Any:
        if key in self._write_only and value is not None and not isinstance(value, Secret):
            return Secret(str(value))
        return value

    def set_committed(self, name: str, value: Any) -> None:
        """Set and commit at once: for owner properties that apply immediately (msg.Subject)."""
        if self._validator is not None:
            self._validator(name, value)
        key = self._key(name)
        self._names.setdefault(key, name)
        self._staged.pop(key, None)
        if value is None:
            self._committed.pop(key, None)
        else:
            self._committed[key] = self._protect(key, value)
        self._commits += 1

    # --- ADO / CDO API ------------------------------------------------------------------
    def Item(self, name: str, value: Any = ..., /) -> Field:
        """Return the field called *name* (case-insensitive); with *value*, stage it first.

        As in CDO, asking for an unknown name gives a field whose ``Value`` is ``None``.
        """
        if value is not ...:
            self._stage(name, value)
        return Field(self, self._key(name), name)

    def Update(self) -> None:
        """Commit every staged change (ADO ``Fields.Update``)."""
        self._committed.update(self._staged)
        self._staged.clear()
        self._commits += 1

    def Resync(self, *_args: Any) -> None:
        """Discard pending changes, keeping the committed values."""
        self._staged.clear()

    CancelUpdate = Resync

    def Delete(self, name: str) -> None:
        """Remove *name* (committed and staged)."""
        key = self._key(name)
        self._committed.pop(key, None)
        self._staged.pop(key, None)
        self._names.pop(key, None)
        self._commits += 1

    @property
    def Count(self) -> int:
        """How many fields have a value (committed or staged)."""
        return len(self._committed.keys() | self._staged.keys())

    # snake_case aliases
    item = Item
    update = Update
    resync = Resync
    cancel_update = CancelUpdate
    delete = Delete
    count = Count

    # --- Python conveniences --------------------------------------------------------------
    def __getitem__(self, name: str) -> Field:
        return self.Item(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self._stage(name, value)

    def __call__(self, name: str) -> Field:
        """``Fields("name")``, the VBA default-member spelling."""
        return self.Item(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = self._key(name)
        return key in self._committed or key in self._staged

    def __len__(self) -> int:
        return self.Count

    def __iter__(self) -> Iterator[Field]:
        keys = list(self._committed) + [k for k in self._staged if k not in self._committed]
        return iter([Field(self, key) for key in keys])

    def committed(self, name: str, default: Any = None) -> Any:
        """The committed value of *name*, or *default*.

        A write-only field gives its :class:`~cdomail.cdo._secret.Secret` (never the clear
        text; ``.reveal()`` is for the transport).
        """
        return self._committed.get(self._key(name), default)

    def committed_items(self) -> dict[str, Any]:
        """Every committed ``{name: value}``; the keys keep the caller's first spelling.

        Write-only fields read ``""`` here too (set, but not readable), as through ``Value``.
        """
        return {
            self._names.get(k, k): "" if k in self._write_only else v
            for k, v in self._committed.items()
        }

    def committed_by_key(self) -> dict[str, Any]:
        """Every committed value under its key (the collection's key function of the name).

        For readers that match keys, not spellings (no Field object per entry); write-only
        fields read ``""``, as everywhere else.
        """
        return {k: "" if k in self._write_only else v for k, v in self._committed.items()}

    @property
    def commit_count(self) -> int:
        """Changes with each commit (``Update``, a property set, ``Delete``): a reader may keep
        what it derived from the committed values while this stays the same."""
        return self._commits

    def pending_names(self) -> list[str]:
        """Names with staged changes that ``Update`` has not committed yet."""
        return [self._names.get(k, k) for k in self._staged]

    @property
    def has_pending_changes(self) -> bool:
        """True when some staged change was never committed by ``Update``."""
        return bool(self._staged)

    def __repr__(self) -> str:
        names = ", ".join(self._names.get(k, k) for k in self._committed)
        pending = f", pending={self.pending_names()!r}" if self._staged else ""
        return f"Fields([{names}]{pending})"
