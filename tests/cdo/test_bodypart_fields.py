"""``BodyPart.Fields``: the headers of one part, as CDO scripts set them on related images.

    Set objBP = objMessage.AddRelatedBodyPart("C:\\logo.png", "logo.png", CdoReferenceTypeName)
    objBP.Fields.Item("urn:schemas:mailheader:Content-ID") = "<logo.png>"
    objBP.Fields.Update
"""

from __future__ import annotations

import email
import email.policy
import warnings
from email.message import EmailMessage
from pathlib import Path

import pytest

from cdomail.cdo import (
    CdoCompatibilityWarning,
    Message,
    cdoRefTypeLocation,
    cdoSendUsingMethod,
    cdoSendUsingPickup,
    cdoSMTPServerPickupDirectory,
)
from cdomail.errors import InputError

MAILHEADER = "urn:schemas:mailheader:"


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def html_message(tmp_path: Path) -> tuple[Message, Path]:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG fake")
    msg = Message()
    msg.From = "me@example.com"
    msg.To = "a@example.org"
    msg.HTMLBody = '<p><img src="cid:logo.png"></p>'
    return msg, logo


def test_related_part_content_id_set_through_its_fields(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddRelatedBodyPart(str(logo), "logo.png", cdoRefTypeLocation)
    part.Fields.Item(MAILHEADER + "Content-ID").Value = "<logo.png>"
    part.Fields.Update()
    assert part.ContentID == "logo.png"
    [_, image] = parse(msg.as_bytes()).iter_parts()
    assert image["Content-ID"] == "<logo.png>"
    assert image["Content-Location"] == "logo.png"
    assert image.get_content() == b"\x89PNG fake"


def test_reference_is_visible_in_the_fields(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddRelatedBodyPart(str(logo), "logo1")
    assert part.Fields(MAILHEADER + "content-id") == "<logo1>"
    assert part.fields.item(MAILHEADER + "CONTENT-ID").Value == "<logo1>"


def test_disposition_and_extra_headers_from_fields(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddAttachment(str(logo))
    part.Fields[MAILHEADER + "content-disposition"] = 'inline; filename="logo.png"'
    part.Fields[MAILHEADER + "content-description"] = "Company logo"
    part.Fields[MAILHEADER + "content-type"] = "image/x-png"
    part.Fields.Update()
    [_, attached] = parse(msg.as_bytes()).iter_parts()
    assert attached.get_content_disposition() == "inline"
    assert attached["Content-Description"] == "Company logo"
    assert attached.get_content_type() == "image/x-png"
    assert attached.get_filename() == "logo.png"


def test_uncommitted_part_fields_change_nothing_and_send_warns(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddRelatedBodyPart(str(logo), "logo1")
    part.Fields[MAILHEADER + "content-id"] = "<other>"  # no Update: CDO ignores it
    assert b"<other>" not in msg.as_bytes()
    pickup = tmp_path / "pickup"
    pickup.mkdir()
    msg.Configuration.Fields[cdoSendUsingMethod] = cdoSendUsingPickup
    msg.Configuration.Fields[cdoSMTPServerPickupDirectory] = str(pickup)
    msg.Configuration.Fields.Update()
    with pytest.warns(CdoCompatibilityWarning, match="body part field change"):
        msg.Send()
    [written] = pickup.iterdir()
    assert b"Content-ID: <logo1>" in written.read_bytes()


def test_text_part_fields_add_headers_but_not_structure() -> None:
    msg = Message()
    msg.From = "me@example.com"
    msg.To = "a@example.org"
    msg.TextBody = "hi\n"
    msg.TextBodyPart.Fields[MAILHEADER + "content-language"] = "fr"
    msg.TextBodyPart.Fields.Update()
    assert parse(msg.as_bytes())["Content-Language"] == "fr"
    msg.TextBodyPart.Fields[MAILHEADER + "content-type"] = "text/enriched"
    msg.TextBodyPart.Fields.Update()
    with pytest.raises(InputError, match="Charset"):
        msg.as_bytes()


def test_part_field_values_cannot_inject_headers(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddAttachment(str(logo))
    with pytest.raises(InputError, match="CR, LF"):
        part.Fields[MAILHEADER + "content-id"] = "<a>\r\nBcc: victim@example.org"


def test_fields_outside_the_header_namespace_warn(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddAttachment(str(logo))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        part.Fields["urn:schemas:httpmail:subject"] = "x"
    assert [w.category for w in caught] == [CdoCompatibilityWarning]
    assert caught[0].filename == __file__


def test_root_body_part_fields_are_the_message_fields() -> None:
    msg = Message()
    assert msg.BodyPart.Fields is msg.Fields


def test_transfer_encoding_field_must_agree_with_cdomails_choice(tmp_path: Path) -> None:
    msg, logo = html_message(tmp_path)
    part = msg.AddAttachment(str(logo))
    part.Fields[MAILHEADER + "content-transfer-encoding"] = "BASE64"
    part.Fields.Update()
    [_, attached] = parse(msg.as_bytes()).iter_parts()
    assert attached["Content-Transfer-Encoding"] == "base64"
    part.Fields[MAILHEADER + "content-transfer-encoding"] = "7bit"
    part.Fields.Update()
    with pytest.raises(InputError, match="Content-Transfer-Encoding field of '7bit'"):
        msg.as_bytes()
