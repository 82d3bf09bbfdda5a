r'''The typical VBA script, ported line for line, sent through the lab.

    Set m = CreateObject("CDO.Message")
    With m.Configuration.Fields
      .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
      ...
      .Update
    End With
    m.From = """Me"" <me@example.com>" : m.To = "a@example.org, b@example.org"
    m.Subject = "Report" : m.HTMLBody = "<p>Hi</p>" : m.AddAttachment "C:\reports\r.pdf"
    m.Send
'''

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from cdomail.cdo import CdoCompatibilityWarning, CdoError, Message
from cdomail.lab import Lab
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"


def test_ported_script_sends_the_expected_mime_structure(lab: Lab, tmp_path: Path) -> None:
    report = tmp_path / "r.pdf"
    report.write_bytes(PDF)

    m = Message()
    fields = m.Configuration.Fields
    fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = "localhost"
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = 465
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl").Value = True
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate").Value = 1
    fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusername").Value = LAB_USER
    fields.Item("http://schemas.microsoft.com/cdo/configuration/sendpassword").Value = (
        LAB_PASSWORD)
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout").Value = 30
    # The two lines a real CDO script does not need: where the lab really listens, and its CA.
    fields.Item("urn:cdomail:configuration:connectto").Value = f"{lab.host}:{lab.port('smtps')}"
    fields.Item("urn:cdomail:configuration:cafile").Value = str(lab.ca_path)
    fields.Update()
    m.From = '"Me" <me@example.com>'; m.To = "a@example.org, b@example.org"  # noqa: E702
    m.Subject = "Report"; m.HTMLBody = "<p>Hi</p>"; m.AddAttachment(str(report))  # noqa: E702
    m.Send()

    [stored] = lab.messages
    assert stored.encrypted is True
    assert stored.authenticated_as == LAB_USER
    assert stored.mail_from == "me@example.com"
    assert stored.rcpt_tos == ["a@example.org", "b@example.org"]
    parsed = email.message_from_bytes(stored.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Report"
    assert parsed["From"].addresses[0].display_name == "Me"
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content().strip() == "Hi"
    assert html.get_content().strip() == "<p>Hi</p>"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "r.pdf"
    assert attachment.get_content() == PDF
    assert m.LastSendResult.encrypted is True


def test_forgotten_update_warns_and_sends_nothing(lab: Lab) -> None:
    m = Message()
    fields = m.Configuration.Fields  # With m.Configuration.Fields
    fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = lab.host
    # .Update forgotten -- End With
    m.From = "me@example.com"
    m.To = "a@example.org"
    with pytest.warns(CdoCompatibilityWarning, match="never committed"), \
            pytest.raises(CdoError) as info:
        m.Send()
    assert info.value.hresult == 0x80040220
    assert lab.sessions == []
