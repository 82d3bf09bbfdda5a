"""From what the caller gives to an envelope and a stream of content chunks.

Accepted inputs: an ``email.message.EmailMessage``, ``bytes``, a binary
file-like object, or an iterable of ``bytes`` chunks. Only the header block is
read up front (to find the envelope and check it); the body is streamed.

Everything here runs before the first byte of a transaction is written, so bad
input fails with an :class:`InputError` naming the field:
- CR, LF or other controls in an address (command injection into RFC 5321 §4.1.2 paths);
- a header block that would smuggle a line that is not a header (RFC 5322 §2.2,
  CVE-2024-6923), or a header line over 998 octets;
- malformed address headers (RFC 5322 §3.4, CVE-2023-27043): parsed strictly.
``Bcc:`` is removed from the header block in every case: blind recipients
belong in the envelope only.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.errors import NonASCIILocalPartDefect, ObsoleteHeaderDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import HeaderParser
from typing import BinaryIO, Protocol

from ._escape import printable
from ._serialise import Serialised, serialise_fast, serialise_stdlib
from .errors import InputError
from .protocol import MAX_CONTENT_LINE, CheckedContent, check_content, is_esmtp_parameter

#: Defects that do not make an address ambiguous: UTF-8 local parts (RFC 6532) and
#: obsolete-but-unambiguous syntax such as an unquoted "J. Doe". Anything else, e.g.
#: "alice@example.org)<bob@example.org>" (CVE-2023-27043), is refused.
_TOLERATED_DEFECTS = (NonASCIILocalPartDefect, ObsoleteHeaderDefect)

CHUNK_SIZE = 64 * 1024
MAX_HEADER_BLOCK = 1024 * 1024

_HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_ADDRESS = re.compile(
    r"""(?:[^\s<>()\[\]\\,;:@"\x00-\x1f\x7f]+|"(?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*")"""
    r"""@(?:[^\s<>()\[\]\\,;:@"\x00-\x1f\x7f]+|\[[0-9A-Fa-f:.]+\])"""
)


class Readable(Protocol):
    """A binary file-like object."""

    def read(self, size: int = -1, /) -> bytes: ...


MessageInput = EmailMessage | bytes | bytearray | memoryview | BinaryIO | Readable | Iterable[bytes]


#: Addresses already found valid. Bulk sends repeat the same few addresses; the cache is
#: bounded and holds only addresses that passed every check below.
_VALID_ADDRESSES: set[str] = set()
_VALID_ADDRESSES_MAX = 4096


def check_address(address: str, field_name: str, *, allow_empty: bool = False) -> str:
    """Validate one envelope address strictly; return it unchanged."""
    if address in _VALID_ADDRESSES and type(address) is str:
        return address
    if not isinstance(address, str):
        raise InputError(f"{field_name} must be a string, not {type(address).__name__}",
                         field=field_name)
    if address == "" and allow_empty:
        return address  # the null reverse-path <> (RFC 5321 §4.5.5)
    if re.search(r"[\x00-\x1f\x7f]", address):
        raise InputError(f"{field_name} contains a control character (CR, LF, NUL …): "
                         f"{address!r}", field=field_name)
    if not _ADDRESS.fullmatch(address):
        raise InputError(f"{field_name} is not a valid address: {address!r}", field=field_name)
    if len(address.encode()) > 254:
        raise InputError(f"{field_name} is longer than 254 octets", field=field_name)
    if len(_VALID_ADDRESSES) >= _VALID_ADDRESSES_MAX:
        _VALID_ADDRESSES.clear()
    _VALID_ADDRESSES.add(address)
    return address


def check_options(options: Iterable[str], field_name: str) -> tuple[str, ...]:
    """ESMTP parameters (``SIZE=10``, ``NOTIFY=FAILURE``) checked like every other input."""
    if isinstance(options, str):
        raise InputError(f"{field_name} must be a list of parameters, not one string",
                         field=field_name)
    checked = tuple(options)
    for option in checked:
        if not isinstance(option, str) or not is_esmtp_parameter(option):
            raise InputError(f"{field_name} has an invalid ESMTP parameter {option!r}"
                             " (control characters and spaces are not allowed)",
                             field=field_name)
    return checked


def needs_smtputf8(address: str) -> bool:
    """Non-ASCII envelope addresses need the SMTPUTF8 extension (RFC 6531)."""
    return not address.isascii()


@dataclass(slots=True)
class PreparedMessage:
    """A message ready to go: envelope, header block, and the rest as chunks."""

    sender: str
    recipients: list[str]
    header_block: bytes
    body_chunks: Iterator[bytes]
    #: Known size in octets when the whole message was given at once.
    size: int | None = None
    #: True / False when known; None when the body streams and was not scanned.
    eight_bit: bool | None = None
    smtputf8: bool = False
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[str, ...] = ()
    #: The whole message (cleaned header block and body) when it was given at once:
    #: sent as one chunk, and can be sent again.
    content: bytes | None = None
    #: ``content`` as the protocol core certified it (CRLF only, no long line), if it is.
    checked: CheckedContent | None = None

    def chunks(self) -> Iterator[bytes]:
        """The whole message: header block, then the body."""
        if self.content is not None:
            return iter((self.content,))
        return self._streamed()

    def _streamed(self) -> Iterator[bytes]:
        yield self.header_block
        yield from self.body_chunks


def _split_header_block(first: bytes) -> tuple[bytes, bytes] | None:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = first.find(separator)
        if index >= 0:
            end = index + len(separator)
            return first[:end], first[end:]
    return None


def _read_header_block(chunks: Iterator[bytes]) -> tuple[bytes, bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        split = _split_header_block(buffer)
        if split is not None:
            return split
        if len(buffer) > MAX_HEADER_BLOCK:
            raise InputError("header block is larger than 1 MiB, or the message has no body "
                             "separator", field="headers")
    # A message with headers only (no blank line) is legal.
    return buffer, b""


def _check_line_lengths(whole: bytes) -> None:
    # RFC 5321 §4.5.3.1.6: 998 octets + CRLF. Found here, the message is refused before any
    # byte is written; a streamed message is checked as it goes (the connection then closes).
    if not whole:
        return
    # Common case first: split at LF only (a CR counts towards its line, so this can only
    # overestimate); the exact measure runs only when that estimate is over the limit.
    if max(map(len, whole.split(b"\n"))) <= MAX_CONTENT_LINE:
        return
    longest = max(map(len, whole.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")))
    if longest > MAX_CONTENT_LINE:
        raise InputError(f"the message has a line of {longest} octets; at most "
                         f"{MAX_CONTENT_LINE} are allowed: encode the body (quoted-printable or "
                         "base64)", field="body")


#: A header block that needs no change: header lines (with continuations), CRLF line ends
#: throughout, ending in the empty line. Anything else takes the line-by-line path below,
#: which is the one that names the problem.
_PLAIN_HEADER_BLOCK = re.compile(
    rb"(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)+\r\n"
)


def _clean_header_block(block: bytes) -> bytes:
    """Drop Bcc, and refuse anything in the header block that is not a header line."""
    if (
        _PLAIN_HEADER_BLOCK.fullmatch(block)
        and b"bcc:" not in block.lower()  # even in a value: then the careful path decides
        and max(map(len, block.split(b"\n"))) <= MAX_CONTENT_LINE
    ):
        return block
    # A lone CR or LF among CRLF line ends is a line break smuggled inside a header value
    # (RFC 5322 §2.2 allows CRLF only as a line end): on the wire it would end the header or
    # the header block.
    stray = block.replace(b"\r\n", b"") if b"\r\n" in block else block.replace(b"\n", b"")
    if b"\r" in stray or b"\n" in stray:
        raise InputError("a header value contains a bare CR or LF", field="headers")
    lines = block.splitlines(keepends=True)
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        bare = line.rstrip(b"\r\n")
        if not bare:
            kept.append(b"\r\n")
            continue
        if len(bare) > MAX_CONTENT_LINE:
            raise InputError(f"a header line is longer than {MAX_CONTENT_LINE} octets",
                             field="headers")
        if bare[:1] in (b" ", b"\t"):
            if not kept and not skipping:
                raise InputError("message starts with a continuation line", field="headers")
            if not skipping:
                kept.append(line)
            continue
        if not _HEADER_NAME.match(bare):
            shown = bare[:60].decode("ascii", "backslashreplace")
            raise InputError(f"header block contains a line that is not a header: {shown!r}",
                             field="headers")
        skipping = bare[:4].lower() == b"bcc:"
        if not skipping:
            kept.append(line)
    return b"".join(kept)


def _header_addresses(parsed: EmailMessage, name: str) -> list[str]:
    result: list[str] = []
    try:
        values = parsed.get_all(name) or []
    except Exception:
        # The stdlib's address parser fails on some malformed text ("alice@" raises
        # IndexError): a malformed header all the same, named like the others.
        raw = [str(value) for key, value in parsed.raw_items() if key.lower() == name.lower()]
        shown = printable(", ".join(raw))
        raise InputError(f"{name} header is malformed: {shown}", field=name.lower()) from None
    for value in values:
        if any(not isinstance(d, _TOLERATED_DEFECTS) for d in value.defects):
            raise InputError(f"{name} header is malformed: {value!s}", field=name.lower())
        for address in getattr(value, "addresses", ()):
            if not isinstance(address, Address) or not address.addr_spec:
                continue
            result.append(address.addr_spec)
    return result


_SIMPLE_MAILBOX = re.compile(
    r"\s*(?:[^<>\"(),;:@\\\[\]]*<(?P<bracketed>[^\s<>()\[\]\\,;:@\"]+@[^\s<>()\[\]\\,;:@\"]+)>"
    r"|(?P<bare>[^\s<>()\[\]\\,;:@\"]+@[^\s<>()\[\]\\,;:@\"]+))\s*"
)
#: An address header with its continuation lines (unfolded by the caller).
_ENVELOPE_HEADER = re.compile(rb"\n(from|sender|to|cc|bcc):([^\n]*(?:\n[ \t][^\n]*)*)")


def _fast_envelope(block: bytes) -> tuple[str | None, list[str]] | None:
    """The envelope for the common case (plain ``addr`` or ``Name <addr>`` lists), cheaply.

    ``None`` when any address header is less simple (quotes, comments, groups, encoded
    words): then the strict ``email.policy.default`` parser decides. Parsing every
    message with it costs about a millisecond, which dominated a pipelined batch.
    """
    addresses: dict[bytes, list[str]] = {}
    # Matched in a lower-cased copy that starts with LF (so the pattern starts with a
    # literal, which the regex engine finds fast); values are cut from the original.
    for found in _ENVELOPE_HEADER.finditer(b"\n" + block.lower()):
        key = found[1]
        value = block[found.start(2) - 1 : found.end(2) - 1]
        try:
            text = b" ".join(value.split()).decode("ascii")
        except UnicodeDecodeError:
            return None
        if "=?" in text:
            return None
        for item in text.split(","):
            if not item.strip():
                continue
            match = _SIMPLE_MAILBOX.fullmatch(item)
            if match is None:
                return None
            addresses.setdefault(key, []).append(match["bracketed"] or match["bare"])
    senders = addresses.get(b"sender") or addresses.get(b"from") or []
    recipients = [a for key in (b"to", b"cc", b"bcc") for a in addresses.get(key, [])]
    return (senders[0] if senders else None), list(dict.fromkeys(recipients))


def _envelope_from_headers(block: bytes) -> tuple[str | None, list[str]]:
    fast = _fast_envelope(block)
    if fast is not None:
        return fast
    # Decode as UTF-8 so SMTPUTF8 addresses (RFC 6532) parse as text, not as undecodable bytes.
    text = block.decode("utf-8", "surrogateescape")
    parsed = HeaderParser(policy=policy.default).parsestr(text)
    assert isinstance(parsed, EmailMessage)
    senders = _header_addresses(parsed, "Sender") or _header_addresses(parsed, "From")
    recipients: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        recipients.extend(_header_addresses(parsed, name))
    return (senders[0] if senders else None), list(dict.fromkeys(recipients))


def _iter_readable(stream: Readable) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


_BYTES_TYPES = (bytes, bytearray, memoryview)
#: The body chunks of a message given whole (all of it is in ``content``): one exhausted
#: iterator serves every such message.
_NO_CHUNKS: Iterator[bytes] = iter(())


def prepare(
    message: MessageInput,
    *,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
) -> PreparedMessage:
    """Check the input and work out the envelope; stream nothing yet."""
    if isinstance(message, _BYTES_TYPES):
        whole = bytes(message)
    elif isinstance(message, EmailMessage):
        fast = serialise_fast(message)
        if fast is not None:
            return _prepare_serialised(fast, sender, recipients)
        whole = serialise_stdlib(message)
    else:
        return _prepare_stream(message, sender, recipients)
    # The whole message is here: check all of it now, and send it as one chunk.
    split = _split_header_block(whole)
    if split is None and len(whole) > MAX_HEADER_BLOCK:
        raise InputError("header block is larger than 1 MiB, or the message has no body "
                         "separator", field="headers")
    header_block, rest = split if split is not None else (whole, b"")  # headers only: legal
    header_block, envelope_sender, envelope_recipients = _envelope(header_block, sender,
                                                                   recipients)
    # SIZE (RFC 1870) of what is sent: the cleaned header block (Bcc gone) and the body.
    content = header_block + rest
    # The core's check (CRLF only, every line within 998 octets) serves twice: here, so a
    # long line is refused before any byte is sent, and when sending (no second scan).
    checked = check_content(content)
    if checked is None:
        _check_line_lengths(rest)  # names a long line; bare CR/LF are normalised when sent
    return PreparedMessage(
        checked=checked,
        sender=envelope_sender,
        recipients=envelope_recipients,
        header_block=header_block,
        body_chunks=_NO_CHUNKS,
        size=len(content),
        eight_bit=not whole.isascii(),
        smtputf8=_needs_smtputf8(envelope_sender, envelope_recipients),
        content=content,
    )


def _prepare_serialised(
    serialised: Serialised, sender: str | None, recipients: Sequence[str] | None
) -> PreparedMessage:
    """A message the fast serialiser wrote: the checks of ``prepare``, minus what it knows
    already (a header block of its own lines is clean)."""
    header_sender: str | None
    header_recipients: list[str]
    if sender is not None and recipients is not None:
        header_sender, header_recipients = sender, []
    else:
        # From the bytes written, as for the stdlib's bytes: see _serialise's docstring.
        header_sender, header_recipients = _envelope_from_headers(serialised.full_header_block)
    header_block = serialised.header_block
    if header_block is None:
        header_block = _clean_header_block(serialised.full_header_block)
    envelope_sender, envelope_recipients = _check_envelope(
        header_sender, header_recipients, sender, recipients
    )
    content = header_block + serialised.body
    checked = check_content(content)
    if checked is None:
        _check_line_lengths(serialised.body)
    return PreparedMessage(
        checked=checked,
        sender=envelope_sender,
        recipients=envelope_recipients,
        header_block=header_block,
        body_chunks=_NO_CHUNKS,
        size=len(content),
        eight_bit=not (serialised.body.isascii() and serialised.full_header_block.isascii()),
        smtputf8=_needs_smtputf8(envelope_sender, envelope_recipients),
        content=content,
    )


def _prepare_stream(
    message: MessageInput, sender: str | None, recipients: Sequence[str] | None
) -> PreparedMessage:
    """A message given as a file or chunks: read the header block, stream the body."""
    if isinstance(message, str):
        raise InputError("message must be bytes or an EmailMessage, not str (encode it first)",
                         field="message")
    if hasattr(message, "read"):
        chunks: Iterator[bytes] = _iter_readable(message)  # type: ignore[arg-type]
    elif isinstance(message, Iterable):
        chunks = iter(message)  # type: ignore[arg-type]
    else:
        raise InputError(f"cannot send a {type(message).__name__}: give an EmailMessage, "
                         "bytes, a binary file or an iterable of bytes", field="message")
    header_block, rest = _read_header_block(chunks)
    if isinstance(rest, str):
        raise InputError("message chunks must be bytes", field="message")
    header_block, envelope_sender, envelope_recipients = _envelope(header_block, sender,
                                                                   recipients)

    def body() -> Iterator[bytes]:
        if rest:
            yield rest
        for chunk in chunks:
            if not isinstance(chunk, _BYTES_TYPES):
                raise InputError("message chunks must be bytes", field="message")
            yield bytes(chunk)

    return PreparedMessage(
        sender=envelope_sender,
        recipients=envelope_recipients,
        header_block=header_block,
        body_chunks=body(),
        smtputf8=_needs_smtputf8(envelope_sender, envelope_recipients),
    )


def _envelope(
    header_block: bytes, sender: str | None, recipients: Sequence[str] | None
) -> tuple[bytes, str, list[str]]:
    """The cleaned header block, and the checked envelope (given, or from the headers)."""
    header_sender: str | None
    header_recipients: list[str]
    if sender is not None and recipients is not None:
        header_sender, header_recipients = sender, []  # the caller's envelope: no parse needed
    else:
        header_sender, header_recipients = _envelope_from_headers(header_block)
    header_block = _clean_header_block(header_block)
    envelope_sender, envelope_recipients = _check_envelope(
        header_sender, header_recipients, sender, recipients
    )
    return header_block, envelope_sender, envelope_recipients


def _check_envelope(
    header_sender: str | None,
    header_recipients: list[str],
    sender: str | None,
    recipients: Sequence[str] | None,
) -> tuple[str, list[str]]:
    """The envelope given, else the one from the headers; every address checked."""
    envelope_sender = sender if sender is not None else header_sender
    if envelope_sender is None:
        raise InputError("no sender: pass sender= or put a From: header in the message",
                         field="sender")
    check_address(envelope_sender, "sender", allow_empty=True)
    if isinstance(recipients, str):
        raise InputError("recipients must be a list of addresses, not one string",
                         field="recipients")
    given = recipients if recipients is not None else header_recipients
    envelope_recipients = list(dict.fromkeys(given))
    if not envelope_recipients:
        raise InputError("no recipients: pass recipients= or put To/Cc/Bcc headers in the "
                         "message", field="recipients")
    for address in envelope_recipients:
        check_address(address, "recipient")
    return envelope_sender, envelope_recipients


def _needs_smtputf8(sender: str, recipients: list[str]) -> bool:
    return needs_smtputf8(sender) or needs_smtputf8("".join(recipients))


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message together with its own envelope, for ``send_many``.

    ``send_many(messages)`` takes plain messages (the envelope then comes from the
    From/Sender/To/Cc/Bcc headers) or these, which carry what ``send()`` takes as
    keywords: an explicit ``sender`` and ``recipients`` (no header parsing) and ESMTP
    parameters for MAIL and RCPT. Everything is checked before any byte is sent.
    """

    message: MessageInput
    sender: str | None = None
    recipients: Sequence[str] | None = None
    mail_options: Sequence[str] = ()
    rcpt_options: Sequence[str] = ()


def prepare_outgoing(item: MessageInput | OutgoingMessage) -> PreparedMessage:
    """:func:`prepare` for an item of ``send_many``: a message, or an OutgoingMessage."""
    if not isinstance(item, OutgoingMessage):
        return prepare(item)
    prepared = prepare(item.message, sender=item.sender, recipients=item.recipients)
    if item.mail_options:  # () by default: nothing to check
        prepared.mail_options = check_options(item.mail_options, "mail_options")
    if item.rcpt_options:
        prepared.rcpt_options = check_options(item.rcpt_options, "rcpt_options")
    return prepared


def as_stream(data: bytes) -> BinaryIO:
    """Wrap bytes as a binary file (handy for tests and the CLI's stdin path)."""
    return io.BytesIO(data)
