"""CDO.Message: its properties and methods for sending, ported with CDO's names.

Header properties (From, To, Subject...) live in the message's ``Fields`` under
``urn:schemas:httpmail:`` / ``urn:schemas:mailheader:`` names, so both spellings read and write
the same value. The MIME tree follows CDO's structure: HTML with an auto-generated text body is
multipart/alternative, related parts wrap it in multipart/related, attachments wrap everything in
multipart/mixed. Serialisation is lazy (see :mod:`cdomail.cdo._mime`): attachments are streamed.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
import warnings
from collections.abc import Iterator
from email.utils import formatdate, getaddresses
from typing import Any

from cdomail.cdo import _build, _mime
from cdomail.cdo import bodypart as _bodypart
from cdomail.cdo import configuration as _configuration
from cdomail.cdo import constants as c
from cdomail.cdo import fields as _fields
from cdomail.cdo._headers import header_line, header_name
from cdomail.cdo._members import CaseInsensitiveMembers, caller_stacklevel
from cdomail.cdo._text import (
    addr_specs,
    formatted_addresses,
    html_resources,
    html_to_text,
)
from cdomail.cdo.bodypart import Attachment, Attachments, BodyPart
from cdomail.cdo.configuration import (
    Configuration,
    TransportSettings,
    local_fqdn,
    read_settings,
)
from cdomail.cdo.errors import (
    CDO_E_FROM_MISSING,
    CDO_E_INVALID_SEND_OPTION,
    CDO_E_NO_PICKUP_DIR,
    CDO_E_RECIPIENT_MISSING,
    CDO_E_SMTP_SERVER_REQUIRED,
    CdoCompatibilityWarning,
    CdoError,
)
from cdomail.cdo.fields import Fields
from cdomail.cdo.stream import MessageStream
from cdomail.errors import InputError

__all__ = ["Envelope", "Message"]

# httpmail names that are simply a header, and the header they stand for.
_HTTPMAIL_HEADERS = {
    "from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "sender": "sender",
    "reply-to": "reply-to", "subject": "subject", "date": "date", "importance": "importance",
    "priority": "priority", "keywords": "keywords", "organization": "organization",
}
_IMPORTANCE = {0: "low", 1: "normal", 2: "high"}
_PRIORITY = {-1: "non-urgent", 0: "normal", 1: "urgent"}
# Headers the MIME structure owns; a field cannot override them.
_STRUCTURAL = frozenset(
    {"content-type", "content-transfer-encoding", "mime-version", "bcc", "content-disposition"}
)
_HEADER_ORDER = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
                 "organization", "keywords", "importance", "priority",
                 "disposition-notification-to")


def _message_field_key(name: str) -> str:
    lower = name.lower()
    if lower.startswith(c.MAILHEADER_NAMESPACE):
        return "header:" + lower[len(c.MAILHEADER_NAMESPACE) :]
    if lower.startswith(c.HTTPMAIL_NAMESPACE):
        leaf = lower[len(c.HTTPMAIL_NAMESPACE) :]
        if leaf in _HTTPMAIL_HEADERS:
            return "header:" + _HTTPMAIL_HEADERS[leaf]
    return lower


def _reject_line_breaks(name: str, value: Any) -> None:
    if isinstance(value, str) and any(ch in value for ch in "\r\n\0"):
        raise InputError(f"{name} must not contain CR, LF or NUL", field=name)


def _header_property(leaf: str, doc: str) -> Any:
    name = c.HTTPMAIL_NAMESPACE + leaf

    def getter(self: Message) -> str:
        value = self.Fields.committed(name)
        return "" if value is None else str(value)

    def setter(self: Message, value: str | None) -> None:
        self.Fields.set_committed(name, value if value else None)

    return property(getter, setter, doc=doc)


class Envelope:
    """Who a send is from and to (MAIL FROM / RCPT TO), BCC included."""

    def __init__(self, sender: str, recipients: list[str]) -> None:
        self.sender = sender
        self.recipients = recipients

    def __repr__(self) -> str:
        return f"Envelope({self.sender!r}, {self.recipients!r})"


class Message(CaseInsensitiveMembers):
    """CDO.Message. Set properties, attach files, then ``Send()``.

    ``Send`` raises :class:`~cdomail.cdo.CdoError` with CDO's HRESULT; after a network send
    ``LastSendResult`` holds the core's :class:`~cdomail.result.SendResult` (encryption facts).
    Member names are case-insensitive (``msg.HtmlBody``, ``msg.send()``), as in VBScript; a
    name that is no member raises ``AttributeError`` naming the nearest real one.
    """

    Configuration: _configuration.Configuration
    Fields: _fields.Fields
    BodyPart: _bodypart.BodyPart
    TextBodyPart: _bodypart.BodyPart
    HTMLBodyPart: _bodypart.BodyPart
    Attachments: _bodypart.Attachments
    AutoGenerateTextBody: bool
    MimeFormatted: bool
    DSNOptions: int
    MDNRequested: bool
    LastSendResult: Any
    LastPickupPath: str | None

    From = _header_property("from", "The From header (CDO address list).")
    To = _header_property("to", "Recipients, comma- or semicolon-separated.")
    CC = _header_property("cc", "Carbon-copy recipients.")
    BCC = _header_property("bcc", "Blind recipients: envelope only, never in any header.")
    Sender = _header_property("sender", "The Sender header; MAIL FROM uses it when set.")
    ReplyTo = _header_property("reply-to", "The Reply-To header.")
    Subject = _header_property("subject", "The subject.")
    Organization = _header_property("organization", "The Organization header.")
    Keywords = _header_property("keywords", "The Keywords header.")

    def __init__(self) -> None:
        self.Configuration = Configuration()
        self.Fields = Fields(validator=_reject_line_breaks, key=_message_field_key)
        # The root part's fields are the message's header fields, as in CDO.
        self.BodyPart = BodyPart("multipart/mixed", fields=self.Fields)
        self.TextBodyPart = BodyPart("text/plain", charset="")
        self.HTMLBodyPart = BodyPart("text/html", charset="")
        self.Attachments = Attachments()
        self.AutoGenerateTextBody = True
        self.MimeFormatted = True
        self.DSNOptions = c.cdoDSNDefault
        self.MDNRequested = False
        #: The core's SendResult of the last network Send (encryption facts), else None.
        self.LastSendResult: Any = None
        #: Where the last pickup-directory Send wrote the message, else None.
        self.LastPickupPath: str | None = None
        self._text_body = ""
        self._html_body = ""
        self._related: list[Attachment] = []
        self._message_id: str | None = None

    # --- bodies ----------------------------------------------------------------------
    @property
    def TextBody(self) -> str:
        """The text/plain body; follows HTMLBody (tags stripped) while AutoGenerateTextBody."""
        if self.AutoGenerateTextBody and self._html_body:
            return html_to_text(self._html_body)
        return self._text_body

    @TextBody.setter
    def TextBody(self, value: str) -> None:
        _reject_nul("TextBody", value)
        self._text_body = value or ""
        self.AutoGenerateTextBody = False  # CDO: an explicit text body stops the generation

    @property
    def HTMLBody(self) -> str:
        """The text/html body."""
        return self._html_body

    @HTMLBody.setter
    def HTMLBody(self, value: str) -> None:
        _reject_nul("HTMLBody", value)
        self._html_body = value or ""

    # --- attachments and related parts --------------------------------------------------
    def AddAttachment(self, url: str, user_name: str = "", password: str = "") -> Attachment:
        """Attach a file path, ``file://`` URL or ``http(s)://`` URL; returns the part.

        The content is read only when the message is sent or serialised (streamed, never
        held in memory). A missing local file is reported here, as CDO does.
        """
        part = self._new_part(url, user_name, password)
        self.Attachments._append(part)
        return part

    def AddRelatedBodyPart(
        self,
        url: str,
        reference: str,
        reference_type: int = c.cdoRefTypeId,
        user_name: str = "",
        password: str = "",
    ) -> Attachment:
        """Add a resource the HTML body references (``cid:<reference>`` or by location)."""
        if reference_type not in (c.cdoRefTypeId, c.cdoRefTypeLocation):
            raise InputError("reference type must be 0 (Content-ID) or 1 (Content-Location)",
                             field="reference_type")
        _reject_line_breaks("reference", reference)
        part = self._new_part(url, user_name, password)
        if reference_type == c.cdoRefTypeId:
            part.ContentID = reference.strip("<>")
        else:
            part.ContentLocation = reference
        self._related.append(part)
        return part

    def CreateMHTMLBody(
        self, url: str, flags: int = 0, user_name: str = "", password: str = ""
    ) -> None:
        """Load an HTML page as the HTML body and embed the resources it references.

        Each image/script/style sheet becomes a related part with a Content-ID, and the page
        is rewritten to reference it as ``cid:`` (what every mail client renders). *flags* are
        CDO's ``CdoMHTMLFlags``: ``cdoSuppressImages`` (1) leaves images as links,
        ``cdoSuppressStyleSheets`` (16) style sheets, ``cdoSuppressBGSounds`` (2) background
        sounds, ``cdoSuppressObjects`` (8) embedded objects, ``cdoSuppressAll`` (31) everything.
        """
        kind, target = _mime.resolve_location(url)
        source = _mime.open_source(url, user_name, password)
        html = b"".join(source()).decode("utf-8", "replace")
        for reference in html_resources(html, suppress=flags):
            absolute = _resolve_reference(kind, target, reference)
            content_id = f"{uuid.uuid4().hex}@cdomail"
            part = self._new_part(absolute, user_name, password)
            part.ContentID = content_id
            self._related.append(part)
            html = html.replace(f'"{reference}"', f'"cid:{content_id}"').replace(
                f"'{reference}'", f"'cid:{content_id}'"
            )
        self.HTMLBody = html

    def _new_part(self, url: str, user_name: str, password: str) -> Attachment:
        kind, target = _mime.resolve_location(url)
        if kind == "file" and not os.path.isfile(target):
            raise InputError(
                f"cannot attach {_mime.shown_location(url)!r}: no such file", field="attachment"
            )
        name = _mime.file_name_of(url)
        return Attachment(
            _mime.open_source(url, user_name, password),
            file_name=name,
            content_media_type=_mime.guess_type(name),
            location=url,
        )

    # --- envelope and headers -----------------------------------------------------------
    def envelope(self, settings: TransportSettings | None = None) -> Envelope:
        """MAIL FROM (Sender, else From, else sendemailaddress) and every recipient.

        Raises:
            CdoError: 0x8004020D without any sender, 0x8004020C without any recipient.
        """
        settings = settings or read_settings(self.Configuration.Fields)
        senders = (
            addr_specs(self.Sender, field="Sender")
            or addr_specs(self.From, field="From")
            or addr_specs(settings.send_email_address, field="sendemailaddress")
        )
        if not senders:
            raise CdoError(CDO_E_FROM_MISSING)
        recipients = [
            *addr_specs(self.To, field="To"),
            *addr_specs(self.CC, field="CC"),
            *addr_specs(self.BCC, field="BCC"),
        ]
        if not recipients:
            raise CdoError(CDO_E_RECIPIENT_MISSING)
        return Envelope(senders[0], list(dict.fromkeys(recipients)))

    def _header_values(self, settings: TransportSettings) -> dict[str, str]:
        values: dict[str, str] = {}
        # The collection's keys are already _message_field_key of the names.
        for key, value in self.Fields.committed_by_key().items():
            if not key.startswith("header:") or value in (None, ""):
                continue
            values[key[len("header:") :]] = _render_header_value(key[7:], value)
        if "from" not in values and settings.send_email_address:
            values["from"] = settings.send_email_address
        if "reply-to" not in values and settings.reply_email_address:
            values["reply-to"] = settings.reply_email_address
        for name in ("from", "to", "cc", "sender", "reply-to"):
            if name in values:  # one canonical list separator, whatever the caller used
                values[name] = ", ".join(formatted_addresses(values[name]))
        if self.MDNRequested and "disposition-notification-to" not in values:
            values["disposition-notification-to"] = values.get("from", "")
        values.setdefault("date", _date_header(int(time.time())))
        if self._message_id is None:
            self._message_id = f"<{uuid.uuid4().hex}@{local_fqdn()}>"
        values.setdefault("message-id", self._message_id)
        values.pop("bcc", None)  # BCC goes to the envelope only
        return {name: value for name, value in values.items() if value}

    # --- MIME tree ------------------------------------------------------------------------
    def _text_charset(self, part: _bodypart.BodyPart) -> str:
        return part.Charset or self.BodyPart.Charset

    def _build_tree(self, settings: TransportSettings) -> _build.Part:
        if not self.MimeFormatted and (self._html_body or len(self.Attachments) or self._related):
            raise InputError(
                "MimeFormatted=False supports a plain text body only (cdomail does not "
                "uuencode attachments)",
                field="MimeFormatted",
            )
        root = self._body_tree()
        values = self._header_values(settings)
        ordered = [n for n in _HEADER_ORDER if n in values] + [
            n for n in values if n not in _HEADER_ORDER and n not in _STRUCTURAL
        ]
        lines = [header_line(header_name(name), values[name]) for name in ordered]
        lines.append(b"X-Mailer: cdomail (CDO compatible)\r\n")
        if self.MimeFormatted:
            lines.append(b"MIME-Version: 1.0\r\n")
        root.lines = lines + root.lines
        return root

    def _body_tree(self) -> _build.Part:
        html, text = self._html_body, self.TextBody
        core: _build.Part
        if html:
            html_charset = self._text_charset(self.HTMLBodyPart)
            core = html_part = _build.text_part(html, "html", html_charset, self.HTMLBodyPart)
            if text:
                text_charset = self._text_charset(self.TextBodyPart)
                text_part = _build.text_part(text, "plain", text_charset, self.TextBodyPart)
                core = _build.multipart("alternative", [text_part, html_part])
            if self._related:
                related = [_build.related_part(part) for part in self._related]
                core = _build.multipart("related", [core, *related], type=core.content_type)
        else:
            charset = self._text_charset(self.TextBodyPart)
            core = _build.text_part(text, "plain", charset, self.TextBodyPart)
        if not len(self.Attachments):
            return core
        parts = [_build.attachment_part(part) for part in self.Attachments]
        return _build.multipart("mixed", [core, *parts])

    def iter_bytes(self) -> Iterator[bytes]:
        """The RFC 5322 message as chunks; attachments are read as the iterator advances."""
        settings = read_settings(self.Configuration.Fields)
        return _build.serialize(self._build_tree(settings))

    def GetStream(self) -> MessageStream:
        """The message as an ADO-like stream (``ReadText``, ``Read``, ``SaveToFile``).

        The stream is lazy: nothing is read from attachment files until it is read.
        """
        return MessageStream(self.iter_bytes)

    def as_bytes(self) -> bytes:
        """The whole message in memory (for small messages and tests)."""
        return b"".join(self.iter_bytes())

    # --- Reply / ReplyAll / Forward -----------------------------------------------------
    def _derived(self, prefix: str) -> Message:
        new = Message()
        new.Configuration = self.Configuration
        subject = self.Subject
        if not subject.lower().startswith(prefix.lower()):
            subject = f"{prefix} {subject}".strip()
        new.Subject = subject
        return new

    def _quoted_original(self) -> str:
        return (
            "\n\n-----Original Message-----\n"
            f"From: {self.From}\nTo: {self.To}\n"
            + (f"Cc: {self.CC}\n" if self.CC else "")
            + f"Subject: {self.Subject}\n\n{self.TextBody}"
        )

    def Reply(self) -> Message:
        """A reply to the sender (Reply-To if set, else From), quoting this message."""
        reply = self._derived("RE:")
        reply.To = self.ReplyTo or self.From
        reply.TextBody = self._quoted_original()
        if self._message_id:
            reply.Fields.set_committed(c.MAILHEADER_NAMESPACE + "in-reply-to", self._message_id)
            reply.Fields.set_committed(c.MAILHEADER_NAMESPACE + "references", self._message_id)
        return reply

    def ReplyAll(self) -> Message:
        """A reply to the sender and every To/CC recipient."""
        reply = self.Reply()
        target = {a.lower() for a in addr_specs(reply.To, field="To")}
        others = [
            item for item in formatted_addresses(", ".join(filter(None, [self.To, self.CC])))
            if getaddresses([item])[0][1].lower() not in target
        ]
        reply.CC = ", ".join(others)
        return reply

    def Forward(self) -> Message:
        """A new message with this one attached as message/rfc822."""
        forward = self._derived("FW:")
        original = Attachment(
            self.iter_bytes,
            file_name=(self.Subject or "message") + ".eml",
            content_media_type="message/rfc822",
            location="",
        )
        forward.Attachments._append(original)
        return forward

    # --- Send -----------------------------------------------------------------------------
    def Send(self) -> None:
        """Send as CDO does: pickup directory (sendusing=1) or SMTP (sendusing=2).

        Raises:
            CdoError: every failure CDO's ``Send`` reports, with CDO's HRESULT and the cause
                chained.
        """
        from cdomail.cdo.transport import send_via_port

        _warn_uncommitted("configuration", self.Configuration.Fields)
        _warn_uncommitted("message", self.Fields)
        for part in [self.TextBodyPart, self.HTMLBodyPart, *self.Attachments, *self._related]:
            if part.has_fields:
                _warn_uncommitted("body part", part.Fields)
        settings = read_settings(self.Configuration.Fields)
        if settings.send_using not in (c.cdoSendUsingPickup, c.cdoSendUsingPort):
            raise CdoError(CDO_E_INVALID_SEND_OPTION,
                           detail=f"sendusing is {settings.send_using!r}; use 1 or 2")
        if settings.send_using == c.cdoSendUsingPort and not settings.server:
            raise CdoError(CDO_E_SMTP_SERVER_REQUIRED)
        if settings.send_using == c.cdoSendUsingPickup and not settings.pickup_directory:
            raise CdoError(CDO_E_NO_PICKUP_DIR)
        envelope = self.envelope(settings)
        tree = self._build_tree(settings)
        if settings.send_using == c.cdoSendUsingPickup:
            from cdomail.cdo.pickup import write_pickup_file

            assert settings.pickup_directory is not None
            self.LastPickupPath = write_pickup_file(
                settings.pickup_directory, envelope.sender, envelope.recipients,
                _build.serialize(tree), flush=settings.flush_buffers_on_write,
            )
            return
        self.LastSendResult = send_via_port(
            settings, envelope, lambda: _build.serialize(tree), dsn_options=self.DSNOptions
        )

    # snake_case aliases
    from_ = From
    to = To
    cc = CC
    bcc = BCC
    sender = Sender
    reply_to = ReplyTo
    subject = Subject
    text_body = TextBody
    html_body = HTMLBody
    send = Send
    add_attachment = AddAttachment
    add_related_body_part = AddRelatedBodyPart
    create_mhtml_body = CreateMHTMLBody
    get_stream = GetStream
    reply = Reply
    reply_all = ReplyAll
    forward = Forward

    def __repr__(self) -> str:
        return f"Message(From={self.From!r}, To={self.To!r}, Subject={self.Subject!r})"


def _reject_nul(name: str, value: str) -> None:
    if value and "\0" in value:
        raise InputError(f"{name} must not contain NUL characters", field=name)


def _warn_uncommitted(what: str, fields: Fields) -> None:
    pending = fields.pending_names()
    if pending:
        warnings.warn(
            f"Send ignored {len(pending)} {what} field change(s) that were never committed with "
            f"Fields.Update(): {', '.join(pending)}. CDO uses committed values only.",
            CdoCompatibilityWarning,
            stacklevel=caller_stacklevel(),
        )


@functools.lru_cache(maxsize=2)
def _date_header(second: int) -> str:
    """The Date header value (RFC 5322 §3.3, local time): written once per second, not per
    message (it has no finer resolution)."""
    return formatdate(second, localtime=True)


def _render_header_value(key: str, value: Any) -> str:
    if key in ("importance", "priority"):
        table = _IMPORTANCE if key == "importance" else _PRIORITY
        try:
            return table[int(value)]
        except (KeyError, TypeError, ValueError):
            return str(value)
    return str(value)


def _resolve_reference(kind: str, base: str, reference: str) -> str:
    import urllib.parse

    if kind == "url":
        return urllib.parse.urljoin(base, reference)
    if urllib.parse.urlsplit(reference).scheme in ("http", "https", "file"):
        return reference
    return os.path.join(os.path.dirname(base), urllib.parse.unquote(reference))
