"""An ``EmailMessage`` as the bytes ``as_bytes(policy=email.policy.SMTP)`` gives, faster.

Why our own writer: on the EmailMessage path the stdlib refolds every header through its
parse tree (``_refold_parse_tree``) even when the header is short ASCII that fits on one line;
profiled, that refolding was 57 % of ``send_many`` (``prepare()`` 81 %, ``as_bytes`` 65 %), and
the send_many of 2000 EmailMessages on one connection reached 4,568 msg/s against smtplib's
``send_message`` loop at 2,938 (1.57×) and aiosmtplib's 2,376 (1.65×), the peers doing the
same refolding (issue 13; both peers call the stdlib generator). The target is 3×.

What is written here is exactly what the stdlib writes for the common shapes:

- every header ASCII, printable, and fitting on one line of 78 characters (``policy.SMTP``'s
  ``max_line_length``): then the stdlib's fold appends the parse tree's text in one piece,
  ``name: value`` (``email._header_value_parser._refold_parse_tree``);
- single-part bodies and multiparts with a boundary, as ``BytesGenerator`` writes them:
  every line end of the payload becomes CRLF, surrogate-escaped bytes go out as they are.

Anything else (a long or non-ASCII header, a multi-line raw header, ``message/*`` parts,
``multipart/signed``, a multipart without a boundary, a payload the generator would refuse)
returns ``None`` and the caller uses the stdlib. ``tests/speed/test_serialise.py`` checks
with generated messages that the output is identical or ``None``, never different.

The envelope is not taken from the header objects: the caller reads it from the bytes
written here, as it reads the stdlib's bytes. The objects' addresses can differ from what
their written text says: an encoded word in a display name or local part (RFC 2047 §5
allows neither in an addr-spec) is written decoded, so ``=?us-ascii?q?a=2Cb?= <x@y>`` goes out
as ``a,b <x@y>``, and the stdlib writes a quoted display name ``":"`` unquoted. Read from
the bytes, the two paths cannot disagree about the envelope or about which field is bad.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from email import policy
from email._header_value_parser import TokenList
from email.headerregistry import (
    BaseHeader,
    ContentTransferEncodingHeader,
    DateHeader,
    MessageIDHeader,
    MIMEVersionHeader,
    ParameterizedMIMEHeader,
    UnstructuredHeader,
)
from email.message import EmailMessage
from typing import Any

from ._escape import printable
from .errors import InputError

#: ``policy.SMTP.max_line_length``: a header longer than this is refolded by the stdlib.
_MAX_LINE = policy.SMTP.max_line_length or 78
_CRLF = "\r\n"
#: RFC 5322 §2.2 field name: printable US-ASCII except colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
#: The generator's own line-end pattern (``email.generator.NLCRE``).
_LINE_END = re.compile(r"\r\n|\r|\n")
#: Header classes whose string value is, by construction, the text of their parse tree
#: (``decoded = str(parse_tree)`` in ``email.headerregistry``): the tree need not be walked.
_TEXT_IS_TREE = (UnstructuredHeader, MessageIDHeader, MIMEVersionHeader,
                 ParameterizedMIMEHeader, ContentTransferEncodingHeader)  # fmt: skip
_TOKEN_LIST_STR: object = TokenList.__str__
_PLAIN_STR: object = str.__str__
#: ``email.generator._width``: the digits of a boundary token.
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))
#: Fields whose addresses ``serialise_stdlib`` looks at to choose the policy.
_ADDRESS_FIELDS = frozenset(("from", "sender", "reply-to", "to", "cc", "bcc"))
#: Field names already found valid (bounded: names repeat across a batch).
_KNOWN_NAMES: set[str] = set()


@dataclass(slots=True)
class Serialised:
    """A message written out: its header block (with and without Bcc) and its body."""

    #: The header block as the stdlib writes it, Bcc included, with the empty line.
    full_header_block: bytes
    #: The same without Bcc when every field was written here (clean by construction:
    #: one printable ASCII line per field); ``None`` when the stdlib folded one, and the
    #: caller must check and clean ``full_header_block`` itself.
    header_block: bytes | None
    body: bytes


def serialise_stdlib(message: EmailMessage) -> bytes:
    """``as_bytes`` with ``policy.SMTP``, or ``policy.SMTPUTF8`` when an address needs it."""
    # UTF-8 addresses cannot be RFC 2047-encoded: they need SMTPUTF8's raw UTF-8 (RFC 6532).
    utf8 = _has_utf8_address(message)
    try:
        return message.as_bytes(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)
    except Exception as exc:
        # UnicodeError, ValueError, TypeError for what it refuses; IndexError and the like
        # where its header parser fails on malformed text: either way, the caller's input.
        raise InputError(f"the message cannot be serialised: {printable(str(exc))}",
                         field="message") from None


def _has_utf8_address(message: EmailMessage) -> bool:
    """Whether an address field reads as non-ASCII (what ``get_all`` gives, decoded)."""
    fields: list[tuple[str, Any]] = message._headers  # type: ignore[attr-defined]
    for name, value in fields:
        if name.lower() not in _ADDRESS_FIELDS:
            continue
        if type(value) is str and value.isascii() and "=?" not in value:
            continue  # raw ASCII text without an encoded word cannot decode to non-ASCII
        try:
            text = str(message.policy.header_fetch_parse(name, value))
        except Exception:
            # The stdlib's header parser fails on some malformed text ("alice@" raises
            # IndexError): judge the text as it is; its writer then decides.
            text = str(value)
        if not text.isascii():
            return True
    return False


def serialise_fast(message: EmailMessage) -> Serialised | None:
    """The message as ``serialise_stdlib`` writes it, or ``None`` when it is not a common shape."""
    # The body first, as the stdlib does: writing a multipart may store a new boundary
    # in its Content-Type.
    body = _body(message)
    if body is None:
        return None
    fields = _Fields()
    if not fields.write(message, top=True):
        return None
    full = "".join(fields.lines).encode("ascii", "surrogateescape") + b"\r\n"
    header_block: bytes | None = None
    if not fields.folded_by_stdlib:
        header_block = full
        if fields.bcc:
            header_block = "".join(fields.kept).encode("ascii") + b"\r\n"
    return Serialised(full, header_block, body)


class _Fields:
    """The header fields of one part as ``BytesGenerator._write_headers`` writes them."""

    __slots__ = ("bcc", "folded_by_stdlib", "kept", "lines")

    def __init__(self) -> None:
        self.lines: list[str] = []
        #: ``lines`` without Bcc (filled only for the top level).
        self.kept: list[str] = []
        self.bcc = False
        self.folded_by_stdlib = False

    def write(self, message: EmailMessage, *, top: bool) -> bool:
        """Add every field of ``message``; False when the whole message must go the stdlib's
        way (an address needing SMTPUTF8, or a field the stdlib refuses)."""
        fields: list[tuple[str, Any]] = message._headers  # type: ignore[attr-defined]
        for name, value in fields:  # what BytesGenerator._write_headers reads
            line = _one_line(name, value)
            if top:
                lowered = name.lower()
                if lowered in _ADDRESS_FIELDS:
                    if not _ascii_address_field(value):
                        return False  # written with policy.SMTPUTF8: see serialise_stdlib
                    if lowered == "bcc":
                        self.bcc = True
            if line is None:
                try:
                    line = policy.SMTP.fold_binary(name, value).decode("ascii", "surrogateescape")
                except Exception:
                    return False
                self.folded_by_stdlib = True
            self.lines.append(line)
            if top and lowered != "bcc":
                self.kept.append(line)  # blind recipients belong in the envelope only
        return True


# How the text a header's fold writes is found, by kind of header (see _kind_of).
_TEXT, _DATE, _TREE = range(3)
#: Kinds by the bases of a header's class. ``email.headerregistry`` makes a new class for
#: every header it creates, from the same two bases: keyed by those, the isinstance checks
#: run once per kind of header, not once per header.
_KINDS: dict[tuple[type, ...], int] = {}
_BASE_FOLD = BaseHeader.fold


def _kind_of(cls: type) -> int:
    bases = cls.__bases__
    kind = _KINDS.get(bases)
    if kind is None:
        if issubclass(cls, _TEXT_IS_TREE):
            kind = _TEXT
        elif issubclass(cls, DateHeader):
            kind = _DATE
        else:
            kind = _TREE  # address headers and anything else: the tree is the source text
        if len(_KINDS) < 256:
            _KINDS[bases] = kind
    return kind


def _one_line(name: str, value: Any) -> str | None:
    """``name: value`` CRLF when the stdlib would write exactly that, else ``None``."""
    cls = type(value)
    if cls is str:
        return _line(name, value)  # a raw value (a parsed message): as it is, if it fits
    if not isinstance(value, BaseHeader) or cls.fold is not _BASE_FOLD:
        return None
    kind = _kind_of(cls)
    if kind == _TEXT:
        text = str.__str__(value)
    elif kind == _DATE:
        # A valid date's tree is parsed from its formatted value (which holds no encoded
        # word); an invalid one has an empty tree, and the stdlib writes "Date:" alone.
        text = str.__str__(value) if value._parse_tree else ""  # type: ignore[attr-defined]
    else:
        # An address header keeps a normalised value (quotes, comments dropped); the fold
        # writes the tree, which is the source text.
        text = _tree_text(value._parse_tree)  # type: ignore[attr-defined]
    # An empty tree is written as "Name:" (no space): rare, left to the stdlib.
    return _line(value.name, text) if text else None  # folded with its own name


def _line(name: str, text: str) -> str | None:
    """``name: text`` CRLF when that is one printable ASCII line that fits."""
    if name not in _KNOWN_NAMES:
        if not _FIELD_NAME.fullmatch(name):
            return None
        if len(_KNOWN_NAMES) < 1024:
            _KNOWN_NAMES.add(name)
    # Control characters (tab, CR, LF) and anything longer than a line: the stdlib folds.
    if len(name) + 2 + len(text) > _MAX_LINE or not (text.isascii() and text.isprintable()):
        return None
    return f"{name}: {text}{_CRLF}"


def _ascii_address_field(value: object) -> bool:
    """Whether an address field's value is ASCII once decoded (``get_all`` gives that)."""
    if isinstance(value, BaseHeader):
        return str.__str__(value).isascii()
    # A raw value: an encoded word may decode to non-ASCII; let the stdlib decide.
    return isinstance(value, str) and value.isascii() and "=?" not in value


def _tree_text(tree: list[Any]) -> str:
    """``str(tree)``, in one walk (``str()`` builds a generator per node: two thirds of the
    time).

    Nodes that render themselves differently (a quoted string re-quotes its content, a
    comment adds parentheses, the space between encoded words vanishes) use their own
    ``__str__``; plain token lists are walked and plain terminals taken as they are.
    """
    pieces: list[str] = []
    append = pieces.append

    def walk(node: list[Any]) -> None:
        for child in node:
            render: object = type(child).__str__
            if render is _TOKEN_LIST_STR:
                walk(child)
            elif render is _PLAIN_STR:
                append(child)
            else:
                append(str(child))

    walk(tree)
    return "".join(pieces)


def _content_type(part: EmailMessage) -> str:
    """``part.get_content_type()``, without the header lookup's detours for a parsed header
    (the same first Content-Type field, the same rule for a malformed value)."""
    fields: list[tuple[str, Any]] = part._headers  # type: ignore[attr-defined]
    for name, value in fields:
        if name.lower() == "content-type":
            if not isinstance(value, BaseHeader):
                return part.get_content_type()  # a raw value: the stdlib parses it
            ctype = str.__str__(value).partition(";")[0].strip().lower()
            return ctype if ctype.count("/") == 1 else "text/plain"
    return part.get_default_type()


def _body(part: EmailMessage) -> bytes | None:
    """The part's body as ``BytesGenerator`` writes it (after the header block)."""
    maintype, _, subtype = _content_type(part).partition("/")
    payload: object = part._payload  # type: ignore[attr-defined]
    if maintype == "multipart":
        if subtype == "signed" or not isinstance(payload, list):
            return None
        return _multipart_body(part, payload)
    if maintype == "message" or not (payload is None or isinstance(payload, str)):
        return None
    if not payload:
        return b""
    # The generator's split at NLCRE, rejoined with CRLF; without a CR, a replace does it.
    payload = _LINE_END.sub(_CRLF, payload) if "\r" in payload else payload.replace("\n", _CRLF)
    try:
        # Surrogate escapes are the original bytes of an 8-bit body: the stdlib writes them.
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None  # the stdlib refuses it: let it say so


def _multipart_body(part: EmailMessage, subparts: list[object]) -> bytes | None:
    pieces: list[bytes] = []
    for subpart in subparts:
        if not isinstance(subpart, EmailMessage):
            return None
        body = _body(subpart)
        if body is None:
            return None
        fields = _Fields()
        if not fields.write(subpart, top=False):
            return None
        head = "".join(fields.lines).encode("ascii", "surrogateescape")
        pieces.append(head + b"\r\n" + body)
    preamble = _lines(part.preamble)
    epilogue = _lines(part.epilogue)
    boundary = part.get_boundary() or _new_boundary(part, pieces)
    if boundary is None or preamble is None or epilogue is None or not boundary.isascii():
        return None
    opening = f"--{boundary}\r\n".encode("ascii")
    between = f"\r\n--{boundary}\r\n".encode("ascii")
    closing = f"\r\n--{boundary}--\r\n".encode("ascii")
    head = preamble + b"\r\n" if part.preamble is not None else b""
    return head + opening + between.join(pieces) + closing + epilogue


def _new_boundary(part: EmailMessage, pieces: list[bytes]) -> str | None:
    """A boundary made and stored as the stdlib's generator does (``_make_boundary``).

    ``add_attachment``/``make_mixed`` leave the boundary to the generator: a random token
    in a fixed format, written into the message's Content-Type. ``None`` in the unlikely
    case that the parts hold it already (the stdlib then tries a variant).
    """
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="
    if any(b"--" + boundary.encode("ascii") in piece for piece in pieces):
        return None
    part.set_boundary(boundary)
    return boundary


def _lines(text: str | None) -> bytes | None:
    """A preamble or epilogue as the generator writes it: CRLF line ends."""
    if text is None:
        return b""
    try:
        return _LINE_END.sub(_CRLF, text).encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None
