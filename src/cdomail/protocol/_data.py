"""Message content encoding for DATA and BDAT, chunk by chunk.

A message is a byte stream, so every function here works on one chunk at a time
and carries the little state a line boundary needs across chunks. All the work
is done with C-implemented ``bytes`` operations (``replace``, ``find``,
``split``): no Python loop per line or per byte.

Rules (RFC 5321 §2.3.8, §4.1.1.4, §4.5.2, §4.5.3.1.6; "SMTP smuggling", 2023):
- every line ends in CRLF: a bare CR or bare LF becomes CRLF, so the server can
  never see an end-of-data sequence the client did not mean;
- a line starting with "." gets a second "." (DATA only; BDAT is length-framed);
- the content ends with CRLF before the terminating ".CRLF";
- no line may exceed 998 octets: the caller must encode such content (MIME does).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LocalProtocolError

#: RFC 5321 §4.5.3.1.6: 1000 octets per line including CRLF.
MAX_CONTENT_LINE = 998


class ContentEncoder:
    """Normalises line ends (and dot-stuffs, for DATA) across chunk boundaries.

    ``encode(chunk)`` returns wire bytes for the chunk; ``finish()`` returns what
    must follow the last chunk (a held-back CR, the final CRLF, and for DATA the
    terminating ``.CRLF``).
    """

    def __init__(self, *, dot_stuff: bool, check_line_length: bool = True) -> None:
        self._dot_stuff = dot_stuff
        self._check_length = check_line_length
        self._pending_cr = False
        self._at_line_start = True
        self._line_length = 0  # length of the unfinished last line so far
        self.octets_in = 0

    def encode(self, chunk: bytes) -> bytes:
        """Encode one chunk of the message (any size, any split)."""
        if not chunk:
            return b""
        self.octets_in += len(chunk)
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            # The CR may be the first half of a CRLF split across chunks.
            self._pending_cr = True
            chunk = chunk[:-1]
        return self._normalise(chunk)

    def finish(self) -> bytes:
        """Bytes that end the content; for DATA they include the ``.CRLF`` terminator."""
        tail = b""
        if self._pending_cr:
            self._pending_cr = False
            tail = self._normalise(b"\r")
        if not self._at_line_start:
            tail += b"\r\n"
            self._at_line_start = True
            self._line_length = 0
        if self._dot_stuff:
            tail += b".\r\n"
        return tail

    def _normalise(self, data: bytes) -> bytes:
        if not data:
            return b""
        crlf_lines = _crlf_lines(data)
        if crlf_lines is not None:
            # Already CRLF throughout (the usual case): no copy to normalise, and the
            # lines split here serve the length check too.
            lines = crlf_lines
            newline = b"\r\n"
        else:
            # Work in LF-only form, then expand: CRLF -> LF, lone CR -> LF, LF -> CRLF.
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            newline = b"\n"
            lines = data.split(newline)
        if self._check_length:
            self._check_lines(lines)
        if self._dot_stuff:
            if self._at_line_start and data.startswith(b"."):
                data = b"." + data
            stuffed = newline + b"."
            if stuffed in data:
                data = data.replace(stuffed, stuffed + b".")
        self._at_line_start = data.endswith(b"\n")
        return data if newline == b"\r\n" else data.replace(b"\n", b"\r\n")

    def _check_lines(self, lines: list[bytes]) -> None:
        """``lines``: the chunk split at its line ends (the last one may be unfinished)."""
        # The first piece continues the unfinished line of the previous chunk.
        if self._line_length + len(lines[0]) > MAX_CONTENT_LINE:
            self._too_long()
        if len(lines) == 1:
            self._line_length += len(lines[0])
            return
        if max(map(len, lines)) > MAX_CONTENT_LINE:
            self._too_long()
        self._line_length = len(lines[-1])

    @staticmethod
    def _too_long() -> None:
        raise LocalProtocolError(
            f"message has a line longer than {MAX_CONTENT_LINE} octets (RFC 5321 §4.5.3.1.6);"
            " encode it (quoted-printable or base64) before sending"
        )


@dataclass(frozen=True, slots=True)
class CheckedContent:
    """A whole message this module has checked: CRLF line ends only, no line over 998
    octets. Made only by :func:`check_content`; ``ClientConnection.send_checked_content``
    then has only the dot-stuffing and the terminator left to do (no second scan)."""

    data: bytes


def check_content(data: bytes) -> CheckedContent | None:
    """``data`` certified for :meth:`ClientConnection.send_checked_content`, or ``None`` when
    it has a bare CR or LF or a line over 998 octets (then it goes through the encoder,
    which normalises it, or the caller reports the long line)."""
    lines = _crlf_lines(data)
    if lines is None or max(map(len, lines)) > MAX_CONTENT_LINE:
        return None
    return CheckedContent(data)


def _crlf_lines(data: bytes) -> list[bytes] | None:
    """``data`` split at its CRLFs, or ``None`` when it also has a bare CR or LF."""
    lines = data.split(b"\r\n")
    line_ends = len(lines) - 1
    if data.count(b"\n") != line_ends or data.count(b"\r") != line_ends:
        return None
    return lines


def stuff_checked(content: CheckedContent) -> bytes:
    """The DATA wire form of checked content: dot-stuffed, ended by CRLF and ``.CRLF``."""
    data = content.data
    if data.startswith(b"."):
        data = b"." + data
    if b"\r\n." in data:
        data = data.replace(b"\r\n.", b"\r\n..")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def encode_data(content: bytes) -> bytes:
    """Whole-message convenience: DATA wire form of ``content`` including ``.CRLF``."""
    encoder = ContentEncoder(dot_stuff=True)
    return encoder.encode(content) + encoder.finish()
