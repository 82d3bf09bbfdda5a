"""Issue 11 §2: CDO member names are case-insensitive; a misspelled member is an error.

VBScript, VBA and AutoIt ignore case, so ported code writes ``.HtmlBody``, ``.Cc``, ``.Textbody``,
``.fields``. Each spelling must reach the real member (get, set and call); a name that is no
member must raise ``AttributeError`` naming the nearest real one, never become a new attribute.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import cdomail.cdo as cdo
from cdomail.cdo import (
    Attachments,
    BodyPart,
    CdoCharset,
    CdoConfigSource,
    CdoEncodingType,
    CdoMHTMLFlags,
    CdoPostUsing,
    CdoSendUsing,
    Configuration,
    Fields,
    Message,
    cdoSendPassword,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPServer,
    cdoSMTPServerPort,
    cdoSMTPUseSSL,
    lookup_constant,
    read_settings,
)
from cdomail.lab import Lab

from ._helpers import lab_message


def test_case_variants_reach_the_real_properties() -> None:
    msg: Any = Message()
    msg.from_ = "me@example.com"
    msg.HtmlBody = "<p>Hi</p>"
    msg.Cc = "c@example.org"
    msg.Bcc = "b@example.org"
    msg.SUBJECT = "Report"
    assert msg.HTMLBody == "<p>Hi</p>"
    assert msg.CC == "c@example.org"
    assert msg.BCC == "b@example.org"
    assert msg.Subject == "Report"
    assert msg.htmlbody == msg.HTMLBODY == "<p>Hi</p>"
    msg.Textbody = "plain"
    assert msg.TextBody == "plain"
    assert msg.AutoGenerateTextBody is False  # the real setter ran, with its side effect
    assert "HtmlBody" not in vars(msg) and "Cc" not in vars(msg) and "Textbody" not in vars(msg)


def test_case_variants_of_objects_and_methods() -> None:
    msg: Any = Message()
    assert msg.fields is msg.Fields
    assert msg.configuration is msg.Configuration
    assert msg.configuration.FIELDS is msg.Configuration.Fields
    assert msg.bodypart is msg.BodyPart
    assert msg.attachments is msg.Attachments
    msg.configuration.fields.item(cdoSMTPServer).value = "smtp.example.com"
    msg.Configuration.Fields.UPDATE()
    assert msg.Configuration.Fields.Item(cdoSMTPServer).Value == "smtp.example.com"
    assert msg.addattachment.__func__ is Message.AddAttachment
    assert msg.SEND.__func__ is Message.Send
    assert msg.getstream().readtext(0) == ""


def test_unknown_member_raises_and_names_the_nearest() -> None:
    msg: Any = Message()
    with pytest.raises(AttributeError, match=r"'HtmlBdy'.*did you mean 'HTMLBody'"):
        msg.HtmlBdy = "<p>lost</p>"
    with pytest.raises(AttributeError, match=r"'Subjet'.*did you mean 'Subject'"):
        _ = msg.Subjet
    with pytest.raises(AttributeError, match="did you mean 'AddAttachment'"):
        msg.AddAtachment("x")
    assert not hasattr(msg, "HtmlBdy")
    assert "HtmlBdy" not in vars(msg)


def test_methods_cannot_be_overwritten_by_assignment() -> None:
    msg: Any = Message()
    with pytest.raises(AttributeError, match="Send is a method"):
        msg.send = True


@pytest.mark.parametrize(
    ("obj", "spelling", "real"),
    [
        (Configuration(), "FIELDS", "Fields"),
        (Configuration(), "load", "Load"),
        (Fields(), "ITEM", "Item"),
        (Fields(), "Cancelupdate", "CancelUpdate"),
        (BodyPart(), "charset", "Charset"),
        (BodyPart(), "contentmediatype", "ContentMediaType"),
        (Attachments(), "COUNT", "Count"),
        (Attachments(), "deleteall", "DeleteAll"),
    ],
)
def test_every_cdo_class_resolves_case_variants(obj: Any, spelling: str, real: str) -> None:
    assert getattr(obj, spelling) == getattr(obj, real)


@pytest.mark.parametrize("obj", [Configuration(), Fields(), BodyPart(), Attachments()])
def test_every_cdo_class_refuses_unknown_members(obj: Any) -> None:
    with pytest.raises(AttributeError, match="has no member 'Nonsense'"):
        obj.Nonsense = 1
    assert "Nonsense" not in vars(obj) if hasattr(obj, "__dict__") else True


def test_field_value_in_any_case() -> None:
    fields: Any = Configuration().Fields
    fields.Item(cdoSMTPServer).VALUE = "mail.example.com"
    fields.Update()
    assert fields.Item(cdoSMTPServer).underlyingvalue == "mail.example.com"


def test_attachment_members_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"data")
    msg: Any = Message()
    part = msg.addAttachment(str(path))
    part.filename = "renamed.txt"
    assert part.FileName == "renamed.txt"
    assert msg.Attachments.item(1).FILENAME == "renamed.txt"


def test_ported_case_variants_deliver_body_and_recipients(lab: Lab) -> None:
    # Before the fix .HtmlBody and .Cc became new attributes: no HTML part and no Cc recipient.
    msg: Any = lab_message(lab, "plain", port=25, use_ssl=False)
    msg.Cc = "cc@example.org"
    msg.Bcc = "hidden@example.org"
    msg.HtmlBody = "<p>The <b>real</b> body</p>"
    msg.send()
    [stored] = lab.messages
    assert stored.rcpt_tos == ["rcpt@example.org", "cc@example.org", "hidden@example.org"]
    parsed = email.message_from_bytes(stored.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Cc"] == "cc@example.org"
    assert "Bcc" not in parsed
    html = parsed.get_body(("html",))
    assert html is not None and "<b>real</b>" in html.get_content()


def test_missing_type_library_constants() -> None:
    assert (cdo.cdoPostUsingPickup, cdo.cdoPostUsingPort) == (1, 2)
    assert (CdoPostUsing.cdoPostUsingPickup, CdoSendUsing.cdoSendUsingPort) == (1, 2)
    assert (CdoConfigSource.cdoDefaults, CdoConfigSource.cdoIIS) == (-1, 1)
    assert CdoConfigSource.cdoOutlookExpress == 2
    assert CdoMHTMLFlags.cdoSuppressNone == 0
    assert CdoMHTMLFlags.cdoSuppressAll == 31 == sum(
        value for name, value in CdoMHTMLFlags if name not in ("cdoSuppressAll",)
    )
    assert CdoEncodingType.cdoBase64 == "base64"
    assert CdoEncodingType.cdoQuotedPrintable == "quoted-printable"
    assert CdoCharset.cdoUTF_8 == "utf-8"
    assert CdoCharset.cdoISO_8859_1 == "iso-8859-1"
    assert CdoCharset.cdoShift_JIS == "shift-jis"


def test_constants_resolve_in_any_case() -> None:
    assert lookup_constant("CDOSENDUSINGPORT") == 2
    assert cdo.CdoSendUsingPort == 2  # module attribute in another case (PEP 562)
    from cdomail.cdo import cdosmtpserver

    assert cdosmtpserver == cdoSMTPServer
    assert CdoSendUsing.CDOSENDUSINGPORT == 2
    assert CdoCharset.CdoUTF_8 == "utf-8"
    msg = Message()
    msg.BodyPart.Charset = lookup_constant("CdoISO_8859_1")
    assert msg.BodyPart.Charset == "iso-8859-1"


def test_unknown_constant_names_the_nearest() -> None:
    with pytest.raises(AttributeError, match="did you mean 'cdoSendUsingMethod'"):
        lookup_constant("cdoSendUsingMethd")
    with pytest.raises(AttributeError, match="did you mean 'cdoSuppressAll'"):
        _ = CdoMHTMLFlags.cdoSupressAll


def test_configuration_field_constant_with_any_case() -> None:
    conf = Configuration()
    conf.Fields[lookup_constant("CDOSENDUSINGMETHOD")] = 2
    conf.Fields.Update()
    assert conf.Fields.Item(cdoSendUsingMethod).Value == 2


def test_configuration_is_callable_as_its_default_member() -> None:
    # VBScript: cfg(cdoSendUsingMethod) = 2 ... x = cfg(cdoSMTPServer)
    cfg = Configuration()
    cfg[cdoSendUsingMethod] = cdoSendUsingPort
    cfg[cdoSMTPServer] = "smtp.example.com"
    cfg[cdoSendPassword] = "not shown"
    assert cfg(cdoSendUsingMethod) == 2  # staged value, as ADO's Value reads it
    cfg.Fields.Update()
    assert cfg(cdoSendUsingMethod) == cdoSendUsingPort
    assert cfg(cdoSendUsingMethod).Value == 2
    assert str(cfg(cdoSMTPServer)) == "smtp.example.com"
    assert int(cfg(cdoSMTPServerPort)) == 25
    assert not cfg(cdoSMTPUseSSL)
    assert cfg(cdoSendPassword) == ""
    assert cfg[cdoSMTPServer] == cfg.Fields(cdoSMTPServer) == "smtp.example.com"
    assert cdoSMTPServer in cfg
    settings = read_settings(cfg.Fields)
    assert (settings.send_using, settings.server) == (2, "smtp.example.com")


def test_fields_is_callable_as_its_default_member() -> None:
    flds = Configuration().Fields
    flds[cdoSMTPServer] = "mail.example.com"
    assert flds(cdoSMTPServer) == "mail.example.com"
    assert flds(cdoSMTPServer) != "other.example.com"
    assert str(flds("unknown-field")) == ""
    assert flds("unknown-field") == None  # noqa: E711 - VBA's Empty compares to the value


def test_ported_configuration_object_sends(lab: Lab) -> None:
    # Set m.Configuration = c, with c filled through its default member.
    template = lab_message(lab, "plain", port=25, use_ssl=False)
    cfg = Configuration()
    for field in template.Configuration.Fields:
        cfg[field.Name] = field.Value
    cfg.Fields.Update()
    msg: Any = Message()
    msg.configuration = cfg
    msg.From, msg.To, msg.TextBody = "me@example.com", "a@example.org", "via cfg()\n"
    msg.Send()
    assert lab.messages[0].rcpt_tos == ["a@example.org"]


@pytest.mark.parametrize(
    ("flags", "embedded"),
    [
        (CdoMHTMLFlags.cdoSuppressNone, {"a.gif", "style.css", "app.js"}),
        (CdoMHTMLFlags.cdoSuppressImages, {"style.css", "app.js"}),
        (CdoMHTMLFlags.cdoSuppressStyleSheets, {"a.gif", "app.js"}),
        (CdoMHTMLFlags.cdoSuppressImages | CdoMHTMLFlags.cdoSuppressStyleSheets, {"app.js"}),
        (CdoMHTMLFlags.cdoSuppressAll, set()),
    ],
)
def test_create_mhtml_body_honours_the_suppress_flags(
    tmp_path: Path, flags: int, embedded: set[str]
) -> None:
    (tmp_path / "a.gif").write_bytes(b"GIF89a")
    (tmp_path / "style.css").write_bytes(b"p {}")
    (tmp_path / "app.js").write_bytes(b"x()")
    page = tmp_path / "page.html"
    page.write_text('<html><head><link rel="stylesheet" href="style.css">'
                    '<script src="app.js"></script></head><img src="a.gif"></html>')
    msg = Message()
    msg.CreateMHTMLBody(str(page), flags)
    assert {part.FileName for part in msg._related} == embedded
    for name in {"a.gif", "style.css", "app.js"} - embedded:
        assert f'"{name}"' in msg.HTMLBody  # a suppressed resource stays a link
