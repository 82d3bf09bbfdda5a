"""CDO body parts: the root ``BodyPart``, ``TextBodyPart`` / ``HTMLBodyPart``, attachments.

Only what CDO code actually touches is modelled: ``Charset`` (validated as CDO does, raising
0x8004022B for an unknown character set), ``ContentMediaType``, ``FileName``, ``Fields`` (the
part's own headers as ``urn:schemas:mailheader:<name>``, committed with ``Fields.Update``) and,
for related parts, the reference (Content-ID or Content-Location, which live in ``Fields`` as in
CDO). Attachment bodies are *not* read here: each part keeps a lazy chunk source that is opened
only while the message is serialised.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterator
from typing import Any

from cdomail.cdo import constants as c
from cdomail.cdo import fields as _fields
from cdomail.cdo._members import CaseInsensitiveMembers, caller_stacklevel
from cdomail.cdo._mime import ChunkSource
from cdomail.cdo.errors import CDO_E_INVALID_CHARSET, CdoCompatibilityWarning, CdoError
from cdomail.errors import InputError

__all__ = ["Attachment", "Attachments", "BodyPart", "validate_charset"]


def validate_charset(charset: str) -> str:
    """Return the charset's canonical MIME name, or raise CdoError 0x8004022B."""
    try:
        if not isinstance(charset, str) or not charset.strip():
            raise LookupError(charset)
        codecs.lookup(charset.strip())
    except LookupError:
        raise CdoError(
            CDO_E_INVALID_CHARSET, detail=f"unknown character set {charset!r}"
        ) from None
    return charset.strip().lower()


_CONTENT_ID = c.MAILHEADER_NAMESPACE + "content-id"
_CONTENT_LOCATION = c.MAILHEADER_NAMESPACE + "content-location"


def check_part_field(name: str, value: Any) -> None:
    """Validator of a body part's Fields: header values on one line; other namespaces warned."""
    if isinstance(value, str) and any(ch in value for ch in "\r\n\0"):
        raise InputError(f"{name} must not contain CR, LF or NUL", field=name)
    if not name.lower().startswith(c.MAILHEADER_NAMESPACE):
        warnings.warn(
            f"{name!r} does not change a body part: only {c.MAILHEADER_NAMESPACE}<header> "
            "fields become the part's headers. It is stored and does nothing.",
            CdoCompatibilityWarning,
            stacklevel=caller_stacklevel(),
        )


class BodyPart(CaseInsensitiveMembers):
    """A MIME body part as CDO exposes it (``Message.BodyPart``, ``TextBodyPart``...).

    ``Fields`` holds the part's own headers (``urn:schemas:mailheader:content-id`` ...); they
    take effect after ``Fields.Update()``, as in CDO.
    """

    ContentMediaType: str

    def __init__(
        self,
        content_media_type: str = "text/plain",
        charset: str = "utf-8",
        *,
        fields: _fields.Fields | None = None,
    ) -> None:
        self.ContentMediaType = content_media_type
        self._charset = charset
        self._fields = fields  # created on first use: most parts never have fields

    @property
    def Fields(self) -> _fields.Fields:
        """The part's header fields (``urn:schemas:mailheader:<name>``), staged until Update."""
        if self._fields is None:
            self._fields = _fields.Fields(validator=check_part_field)
        return self._fields

    @property
    def has_fields(self) -> bool:
        """True once the part's ``Fields`` collection exists (it is created on first use)."""
        return self._fields is not None

    @property
    def Charset(self) -> str:
        """The character set (``"utf-8"`` unless set); unknown names raise 0x8004022B."""
        return self._charset

    @Charset.setter
    def Charset(self, value: str) -> None:
        self._charset = validate_charset(value)

    charset = Charset

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ContentMediaType!r}, charset={self._charset!r})"


class Attachment(BodyPart):
    """An attached (or related) file: where its bytes come from, and how it is labelled.

    ``source`` is opened only when the message is serialised, so a large file is streamed
    from disk (or from the URL) and never held in memory.
    """

    source: ChunkSource
    FileName: str
    Location: str

    def __init__(
        self,
        source: ChunkSource,
        *,
        file_name: str,
        content_media_type: str,
        location: str,
        content_id: str | None = None,
        content_location: str | None = None,
    ) -> None:
        super().__init__(content_media_type, charset="")
        self.source = source
        self.FileName = file_name
        self.Location = location
        if content_id:
            self.ContentID = content_id
        if content_location:
            self.ContentLocation = content_location

    @property
    def ContentID(self) -> str | None:
        """The Content-ID without angle brackets (the ``content-id`` field), or ``None``."""
        value = self.Fields.committed(_CONTENT_ID)
        return str(value).strip().strip("<>") if value else None

    @ContentID.setter
    def ContentID(self, value: str | None) -> None:
        self.Fields.set_committed(_CONTENT_ID, f"<{value.strip('<>')}>" if value else None)

    @property
    def ContentLocation(self) -> str | None:
        """The Content-Location (the ``content-location`` field), or ``None``."""
        value = self.Fields.committed(_CONTENT_LOCATION)
        return str(value) if value else None

    @ContentLocation.setter
    def ContentLocation(self, value: str | None) -> None:
        self.Fields.set_committed(_CONTENT_LOCATION, value or None)

    def iter_bytes(self) -> Iterator[bytes]:
        """The raw (decoded) content, read chunk by chunk."""
        return self.source()

    def SaveToFile(self, path: str) -> None:
        """Write the raw content to *path* (CDO's ``IBodyPart.SaveToFile``)."""
        with open(path, "wb") as handle:
            for chunk in self.source():
                handle.write(chunk)

    file_name = property(lambda self: self.FileName)
    save_to_file = SaveToFile

    def __repr__(self) -> str:
        return f"Attachment({self.FileName!r}, {self.ContentMediaType!r})"


class Attachments(CaseInsensitiveMembers):
    """CDO's ``IBodyParts`` collection of attachments (1-based ``Item``, as in VBA)."""

    def __init__(self) -> None:
        self._items: list[Attachment] = []

    def _append(self, part: Attachment) -> None:
        self._items.append(part)

    @property
    def Count(self) -> int:
        """How many attachments there are."""
        return len(self._items)

    def Item(self, index: int) -> Attachment:
        """The attachment at 1-based *index*."""
        if not 1 <= index <= len(self._items):
            raise IndexError(f"attachment index {index} is out of range 1..{len(self._items)}")
        return self._items[index - 1]

    def Delete(self, index: int) -> None:
        """Remove the attachment at 1-based *index*."""
        self.Item(index)
        del self._items[index - 1]

    def DeleteAll(self) -> None:
        """Remove every attachment."""
        self._items.clear()

    count = Count
    item = Item
    delete = Delete
    delete_all = DeleteAll

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Attachment]:
        return iter(list(self._items))

    def __getitem__(self, index: int) -> Attachment:
        return self._items[index]

    def __repr__(self) -> str:
        return f"Attachments({self._items!r})"
