"""An ADO-Stream-like view of a serialised message (what ``Message.GetStream`` returns)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cdomail.cdo._members import CaseInsensitiveMembers

__all__ = ["MessageStream"]


class MessageStream(CaseInsensitiveMembers):
    """Lazy, read-once-per-position access to a message's RFC 5322 bytes.

    ``Read(n)`` returns bytes, ``ReadText(n)`` text (ASCII: the message is 7-bit),
    ``SaveToFile(path)`` streams to disk; ``bytes(stream)`` and iteration also work.
    The underlying chunks are produced (and attachments read) only as you read.
    """

    def __init__(self, produce: Callable[[], Iterator[bytes]]) -> None:
        self._produce = produce
        self._chunks: Iterator[bytes] | None = None
        self._buffer = b""

    def _iterator(self) -> Iterator[bytes]:
        if self._chunks is None:
            self._chunks = self._produce()
        return self._chunks

    def Read(self, size: int = -1) -> bytes:
        """Up to *size* bytes (all the rest when negative)."""
        chunks = self._iterator()
        while size < 0 or len(self._buffer) < size:
            chunk = next(chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def ReadText(self, size: int = -1) -> str:
        """Up to *size* characters as text (all the rest when negative)."""
        return self.Read(size).decode("ascii", "replace")

    def SaveToFile(self, path: str, options: int = 1) -> None:
        """Write the rest of the stream to *path* (ADO's adSaveCreateNotExist is the default)."""
        mode = "wb" if options == 2 else "xb"  # 2 = adSaveCreateOverWrite
        with open(path, mode) as handle:
            handle.write(self._buffer)
            self._buffer = b""
            for chunk in self._iterator():
                handle.write(chunk)

    read = Read
    read_text = ReadText
    save_to_file = SaveToFile

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._iterator()

    def __bytes__(self) -> bytes:
        return self.Read()
