"""CDO body parts: the root ``BodyPart``, ``TextBodyPart`` / ``HTMLBodyPart``, attachments.

Only what CDO code actually touches is modelled: ``Charset`` (validated as CDO does, raising
0x8004022B for an unknown character set), ``ContentMediaType``, ``FileName`` and, for related
parts, the reference (Content-ID or Content-Location). Attachment bodies are *not* read here:
each part keeps a lazy chunk source that is opened only while the message is serialised.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from cdomail.cdo._members import CaseInsensitiveMembers
from cdomail.cdo._mime import ChunkSource
from cdomail.cdo.errors import CDO_E_INVALID_CHARSET, CdoError

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


class BodyPart(CaseInsensitiveMembers):
    """A MIME body part as CDO exposes it (``Message.BodyPart``, ``TextBodyPart``...)."""

    ContentMediaType: str

    def __init__(self, content_media_type: str = "text/plain", charset: str = "utf-8") -> None:
        self.ContentMediaType = content_media_type
        self._charset = charset

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
    ContentID: str | None
    ContentLocation: str | None

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
        self.ContentID = content_id
        self.ContentLocation = content_location

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
