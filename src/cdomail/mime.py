"""A MIME message built for streaming: attachments are read from disk only while it is sent.

:class:`StreamedMessage` takes the header fields from a stdlib ``EmailMessage`` (which must have
no body), a text and/or HTML body, and file attachments, and is an iterable of ``bytes``
chunks: give it to ``SMTPClient.send`` and memory stays flat whatever the attachments weigh::

    headers = EmailMessage()
    headers["From"], headers["To"], headers["Subject"] = "me@example.org", "you@example.net", "Q3"
    message = cdomail.StreamedMessage(headers, text="Attached.\\n", attachments=["report.pdf"])
    client.send(message)

Structure: one body alone is a single part; text and HTML together are
``multipart/alternative``; attachments wrap that in ``multipart/mixed`` with one base64 part
each (RFC 2045 §6.8). All header encoding (RFC 2047 for non-ASCII subjects, RFC 2231 for
non-ASCII file names) is done by the stdlib ``email`` package.

The message is re-iterable: the boundaries, ``Date`` and ``Message-ID`` are fixed when it is
built, so every iteration yields the same bytes, and a pool can send it again after a failure.
Attachment files are checked when the message is built (bad input fails before any byte is
sent) and opened again on every iteration.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from cdomail import _mime
from cdomail.errors import InputError

__all__ = ["Attachment", "StreamedMessage"]

#: RFC 2045 §5.1 type/subtype tokens.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")
#: Headers the message builds itself; the caller's copy would contradict the body.
_BUILT_HEADERS = ("content-type", "content-transfer-encoding", "content-disposition")
_ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Bcc")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Attachment:
    """A file to attach, read from disk only while the message is sent.

    ``filename`` is the name the recipient sees (the base name of ``path`` when not given);
    ``content_type`` is guessed from that name when not given (``application/octet-stream``
    when unknown). After construction both are always set.
    """

    path: str | os.PathLike[str]
    filename: str | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        path = os.fspath(self.path)
        if not isinstance(path, str) or not path:
            raise InputError(f"attachment path must be a non-empty str or path, not {path!r}",
                             field="attachments")
        filename = os.path.basename(path) if self.filename is None else self.filename
        if not isinstance(filename, str) or not filename:
            raise InputError(f"attachment file name must be a non-empty string: {path!r}",
                             field="attachments")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in filename):
            raise InputError(f"attachment file name contains a control character: {filename!r}",
                             field="attachments")
        content_type = self.content_type
        if content_type is None:
            content_type = _mime.guess_type(filename)
            if content_type.startswith(("multipart/", "message/")):
                content_type = "application/octet-stream"  # see the check below
        elif not isinstance(content_type, str) or not _MEDIA_TYPE.fullmatch(content_type):
            raise InputError(f"attachment content type must look like 'type/subtype': "
                             f"{content_type!r}", field="attachments")
        elif content_type.lower().startswith(("multipart/", "message/")):
            # RFC 2045 §6.4: composite types may not be base64-encoded, and attachments are.
            raise InputError(f"cannot attach as {content_type}: composite types may not be "
                             "base64-encoded (RFC 2045 §6.4)", field="attachments")
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "filename", filename)
        object.__setattr__(self, "content_type", content_type)

    def check_readable(self) -> None:
        """Raise InputError unless ``path`` is a regular file we may open for reading."""
        path = os.fspath(self.path)
        try:
            # stat first: opening a FIFO or a device would block or never end.
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise InputError(f"attachment {path!r} is not a regular file",
                                 field="attachments")
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise InputError(f"cannot read attachment {path!r}: {exc.strerror or exc}",
                             field="attachments") from None

    def leaf(self) -> _mime.Leaf:
        """The base64 MIME part for this file (the file is opened when it is serialised)."""
        assert self.filename is not None and self.content_type is not None  # __post_init__
        return _mime.binary_leaf(
            _mime.file_source(os.fspath(self.path)),
            content_type=self.content_type,
            filename=self.filename,
        )


class StreamedMessage:
    """A MIME message whose attachments stream from disk; iterate it for its bytes.

    Args:
        headers: the header fields (From, To, Cc, Bcc, Subject, anything). It must have no
            body and no Content-Type / Content-Transfer-Encoding / Content-Disposition: those
            are built here. ``Date`` and ``Message-ID`` are added when missing.
        text: the text/plain body.
        html: the text/html body.
        attachments: file paths or :class:`Attachment` objects.

    Raises:
        InputError: the headers carry a body or cannot be serialised, nothing would be sent,
            or an attachment is missing or unreadable (``field="attachments"``).

    ``iter(message)`` yields the whole message as ``bytes`` chunks with CRLF line ends, the
    same bytes every time. ``Bcc`` stays in the header fields here; the client puts it in the
    envelope and strips it from what is sent.
    """

    def __init__(
        self,
        headers: EmailMessage,
        *,
        text: str | None = None,
        html: str | None = None,
        attachments: Sequence[str | os.PathLike[str] | Attachment] = (),
    ) -> None:
        if not isinstance(headers, EmailMessage):
            raise InputError("headers must be an email.message.EmailMessage, not "
                             f"{type(headers).__name__}", field="headers")
        if headers.is_multipart() or headers.get_payload() not in (None, ""):
            raise InputError("the headers message has a body: StreamedMessage builds the body "
                             "from text=, html= and attachments=", field="headers")
        for name in headers:
            if name.lower() in _BUILT_HEADERS:
                raise InputError(f"the headers message sets {name}: StreamedMessage builds "
                                 "the content headers itself", field="headers")
        for name, value in (("text", text), ("html", html)):
            if value is not None and not isinstance(value, str):
                raise InputError(f"{name} must be a string, not {type(value).__name__}",
                                 field=name)
        self.attachments: tuple[Attachment, ...] = _attachments(attachments)
        for attachment in self.attachments:
            attachment.check_readable()
        body = _body(text, html)
        parts: list[_mime.Leaf | _mime.Multipart] = [a.leaf() for a in self.attachments]
        if body is None and not parts:
            raise InputError("nothing to send: give text=, html= or attachments=", field="text")
        root: _mime.Leaf | _mime.Multipart
        if parts:
            root = _mime.multipart("mixed", [body, *parts] if body is not None else parts)
        else:
            assert body is not None
            root = body
        root.headers = _top_headers(headers, root.headers)
        self._root = root
        # Serialise the header block once now, so that header trouble is found here and
        # not in the middle of a send.
        _checked_header_block(root.headers)

    def __iter__(self) -> Iterator[bytes]:
        """The whole message as bytes chunks; attachment files are read in blocks meanwhile."""
        return _mime.serialize(self._root)

    def as_bytes(self) -> bytes:
        """The whole message in memory (for small messages and tests)."""
        return b"".join(self)

    def __repr__(self) -> str:
        names = ", ".join(repr(a.filename) for a in self.attachments)
        return f"<StreamedMessage {self._root.headers.get_content_type()} attachments=[{names}]>"


def _attachments(
    given: Sequence[str | os.PathLike[str] | Attachment],
) -> tuple[Attachment, ...]:
    if isinstance(given, str | bytes | os.PathLike):
        raise InputError("attachments must be a list of paths, not one path (wrap it in [...])",
                         field="attachments")
    return tuple(item if isinstance(item, Attachment) else Attachment(item) for item in given)


def _body(text: str | None, html: str | None) -> _mime.Leaf | _mime.Multipart | None:
    leaves: list[_mime.Leaf | _mime.Multipart] = [
        _mime.text_leaf(content, subtype, "us-ascii" if content.isascii() else "utf-8")
        for content, subtype in ((text, "plain"), (html, "html"))
        if content is not None
    ]
    if len(leaves) == 2:
        return _mime.multipart("alternative", leaves)
    return leaves[0] if leaves else None


def _top_headers(caller: EmailMessage, content: EmailMessage) -> EmailMessage:
    """The caller's fields, Date and Message-ID if missing, MIME-Version, the content fields."""
    top = EmailMessage(policy=policy.SMTP)
    try:
        for name, value in caller.items():
            if name.lower() != "mime-version":
                # compat32 values may be email.header.Header objects: take their text.
                top[name] = value if isinstance(value, str) else str(value)
        if "Date" not in top:
            top["Date"] = formatdate(localtime=True)
        if "Message-ID" not in top:
            top["Message-ID"] = make_msgid(domain=_message_id_domain(caller))
        top["MIME-Version"] = "1.0"
        for name, value in content.items():
            top[name] = value
    except (MessageError, ValueError, TypeError) as exc:
        raise InputError(f"the headers cannot be used: {exc}", field="headers") from None
    if _has_utf8_address(top):
        # A UTF-8 mailbox cannot be RFC 2047-encoded: it needs SMTPUTF8's raw UTF-8 (RFC 6532).
        # Display names and the subject alone are encoded words under policy.SMTP.
        top.policy = policy.SMTPUTF8
    return top


def _has_utf8_address(headers: EmailMessage) -> bool:
    for name in _ADDRESS_HEADERS:
        for value in headers.get_all(name) or []:
            for address in getattr(value, "addresses", ()):
                if not str(getattr(address, "addr_spec", "")).isascii():
                    return True
    return False


def _message_id_domain(headers: EmailMessage) -> str:
    # The sender's domain, as mail programs do; given explicitly so that make_msgid does not
    # ask DNS for this host's name.
    domain = parseaddr(str(headers.get("From", "")))[1].rpartition("@")[2]
    return domain if _DOMAIN.fullmatch(domain) else "cdomail.localhost"


def _checked_header_block(headers: EmailMessage) -> bytes:
    try:
        return _mime.header_block(headers)
    except (MessageError, UnicodeError, ValueError, TypeError) as exc:
        raise InputError(f"the headers cannot be serialised: {exc}", field="headers") from None
