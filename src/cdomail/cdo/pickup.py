"""sendusing=1: drop the message into a pickup directory, atomically.

A mail service (IIS SMTP, or anything watching the folder) must never see a half-written file,
so the message is written under a temporary dot-name in the same directory and then renamed
with ``os.replace`` (atomic on one file system). ``X-Sender:`` / ``X-Receiver:`` lines at the
top carry the envelope, which is how IIS keeps BCC recipients that appear in no header.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence

from cdomail.errors import InputError

__all__ = ["write_pickup_file"]

_SAFE_ADDRESS = re.compile(r"^[^\x00-\x20\x7f<>]+$")


def _envelope_line(name: str, address: str) -> bytes:
    if not _SAFE_ADDRESS.match(address):
        raise InputError(f"{address!r} cannot be written as a pickup envelope line", field=name)
    return f"{name}: {address}\r\n".encode()


def write_pickup_file(
    directory: str,
    sender: str,
    recipients: Sequence[str],
    content: Iterable[bytes],
    *,
    flush: bool = False,
) -> str:
    """Write one message into *directory* and return the final path.

    Args:
        directory: the pickup folder (must exist, as CDO requires).
        sender: the envelope sender, written as ``X-Sender:``.
        recipients: every envelope recipient (BCC included), one ``X-Receiver:`` line each.
        content: the RFC 5322 message bytes, in chunks.
        flush: ``flushbuffersonwrite``: fsync the file (and the folder) before returning.

    Raises:
        InputError: an address cannot be written as an envelope line.
        OSError: the folder does not exist or is not writable.
    """
    header = _envelope_line("X-Sender", sender) + b"".join(
        _envelope_line("X-Receiver", rcpt) for rcpt in recipients
    )
    name = f"{uuid.uuid4().hex}.eml"
    final_path = os.path.join(directory, name)
    temp_path = os.path.join(directory, f".{name}.tmp")
    try:
        with open(temp_path, "xb") as handle:
            handle.write(header)
            for chunk in content:
                handle.write(chunk)
            handle.flush()
            if flush:
                os.fsync(handle.fileno())
        os.replace(temp_path, final_path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise
    if flush and hasattr(os, "O_DIRECTORY"):
        # The rename itself is durable only once the directory entry is on disk.
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return final_path
