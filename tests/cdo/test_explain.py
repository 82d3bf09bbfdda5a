"""`cdomail explain` on realistic snippets (the typical VBA script and the variants seen in the
wild)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cdomail.cdo.explain import explain_text
from cdomail.cli import main

SPEC_VBA = '''
Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtp.example.com"
  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 465
  .Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = True
  .Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1
  .Item("http://schemas.microsoft.com/cdo/configuration/sendusername") = "me@example.com"
  .Item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = "Sup3r$ecret"
  .Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout") = 30
  .Update
End With
m.From = """Me"" <me@example.com>" : m.To = "a@example.org, b@example.org"
m.Subject = "Report" : m.HTMLBody = "<p>Hi</p>" : m.AddAttachment "C:\\reports\\r.pdf"
m.Send
'''

OFFICE365_587 = SPEC_VBA.replace("smtp.example.com", "smtp.office365.com").replace(
    "= 465", "= 587")

SENDTLS_MYTH = '''
' Enable TLS (as recommended on many forums)
Dim objMessage, schema
Set objMessage = CreateObject("CDO.Message")
schema = "http://schemas.microsoft.com/cdo/configuration/"
objMessage.Configuration.Fields.Item(schema & "sendusing") = 2
objMessage.Configuration.Fields.Item(schema & "smtpserver") = "smtp.gmail.com"
objMessage.Configuration.Fields.Item(schema & "smtpserverport") = 587
objMessage.Configuration.Fields.Item(schema & "sendtls") = True ' turn on STARTTLS
objMessage.Configuration.Fields.Item(schema & "smtpauthenticate") = 1
objMessage.Configuration.Fields.Item(schema & "sendusername") = "me@gmail.com"
objMessage.Configuration.Fields.Item(schema & "sendpassword") = "app-password"
objMessage.Configuration.Fields.Update
objMessage.From = "me@gmail.com" : objMessage.To = "you@example.org"
objMessage.Send
'''

HTTPS_TYPO = '''
Set cdoConfig = CreateObject("CDO.Configuration")
With cdoConfig.Fields
    .Item("https://schemas.microsoft.com/cdo/configuration/sendusing") = 2
    .Item("https://schemas.microsoft.com/cdo/configuration/smtpserver") = "mail.example.com"
    .Item("https://schemas.microsoft.com/cdo/configuration/smtpserverport") = 25
    .Update
End With
'''

CONSTANTS_NO_UPDATE = '''
Const cdoSendUsingPort = 2
Const cdoBasic = 0   ' hand-declared, wrongly
Const cdoSMTPServer = "http://schemas.microsoft.com/cdo/configuration/smtpserver"
Set c = CreateObject("CDO.Configuration")
c.Fields("http://schemas.microsoft.com/cdo/configuration/sendusing") = cdoSendUsingPort
c.Fields(cdoSMTPServer) = "smtp.example.com"
c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate").Value = cdoBasic
Set m.Configuration = c
m.Send
'''

POWERSHELL = '''
$schema = "http://schemas.microsoft.com/cdo/configuration/"
$msg = New-Object -ComObject CDO.Message
$msg.Configuration.Fields.Item("${schema}sendusing") = 2
$msg.Configuration.Fields.Item("$schema" + "smtpserver") = 'relay.example.com'
$msg.Configuration.Fields.Item($schema + "smtpserverport").Value = 25
$msg.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $true
$msg.Configuration.Fields.Update()
$msg.From = "me@example.com"; $msg.To = "you@example.org"
$msg.Send()
'''

CSHARP = '''
var mail = new System.Web.Mail.MailMessage();
mail.From = "me@example.com"; mail.To = "you@example.org";
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpserverport", 465);
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpusessl", "true");
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendusing", 2);
mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpserver"] = "smtp.example.com";
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate", 1);
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendusername", "me");
mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendpassword", "pw");
SmtpMail.Send(mail);
'''

KEY_VALUE = '''
# exported from an old ASP site
sendusing=2
smtpserver=mail.example.com
smtpserverport=25
smtpauthenticate=1
sendusername=web
sendpassword=hunter2
'''


def kinds(text: str) -> set[str]:
    return {p.kind for p in explain_text(text).problems}


def test_spec_snippet_is_implicit_tls_and_hides_the_password() -> None:
    report = explain_text(SPEC_VBA)
    assert report.encrypted is True
    assert report.encryption == "implicit TLS"
    assert report.outcome.startswith("sends encrypted")
    assert "Sup3r$ecret" not in json.dumps(report.to_dict())
    assert any("AUTH LOGIN" in step for step in report.steps)


def test_office365_on_587_with_ssl_fails_and_says_the_fix() -> None:
    report = explain_text(OFFICE365_587)
    assert report.outcome == "fails with 0x80040213 CDO_E_FAILED_TO_CONNECT"
    assert report.fixes == ["587 with smtpusessl=True fails: use 465, or 25, or set "
                            "urn:cdomail:configuration:tlsmode=starttls in cdomail."]


def test_sendtls_myth_is_unencrypted() -> None:
    report = explain_text(SENDTLS_MYTH)
    assert report.encrypted is False
    assert {"phantom", "myth", "plaintext-credentials"} <= kinds(SENDTLS_MYTH)
    phantom = next(f for f in report.fields if f.name.endswith("sendtls"))
    assert phantom.note is not None
    assert "does not exist in CDO" in phantom.note
    assert "app-password" not in report.to_text()


def test_https_typo_leaves_sendusing_unset() -> None:
    report = explain_text(HTTPS_TYPO)
    assert "https-typo" in kinds(HTTPS_TYPO)
    assert report.outcome == "fails with 0x80040220 CDO_E_INVALID_SEND_OPTION"
    assert any("https:// field names are unknown" in p.message for p in report.problems)


def test_forgotten_update_and_wrong_constant() -> None:
    report = explain_text(CONSTANTS_NO_UPDATE)
    found = kinds(CONSTANTS_NO_UPDATE)
    assert {"forgotten-update", "wrong-constant"} <= found
    assert not any(f.committed for f in report.fields)
    assert report.outcome == "fails with 0x80040220 CDO_E_INVALID_SEND_OPTION"
    wrong = next(p for p in report.problems if p.kind == "wrong-constant")
    assert "cdoBasic is declared as 0" in wrong.message
    assert "is 1" in wrong.message


def test_update_then_more_assignments_is_reported() -> None:
    text = SPEC_VBA.replace("  .Update\nEnd With", "  .Update\n  .Item(\"http://schemas."
                            "microsoft.com/cdo/configuration/smtpserverport\") = 25\nEnd With")
    report = explain_text(text)
    assert "uncommitted" in {p.kind for p in report.problems}
    assert report.encryption == "implicit TLS"  # the late port 25 is ignored


def test_powershell_schema_variable_and_starttls() -> None:
    report = explain_text(POWERSHELL)
    names = {f.name for f in report.fields}
    assert "http://schemas.microsoft.com/cdo/configuration/smtpserver" in names
    assert report.encrypted is True
    assert report.encryption == "STARTTLS"
    assert any("STARTTLS" in step for step in report.steps)


def test_csharp_system_web_mail_needs_no_update() -> None:
    report = explain_text(CSHARP)
    assert all(f.committed for f in report.fields)
    assert report.encryption == "implicit TLS"
    assert "forgotten-update" not in {p.kind for p in report.problems}


def test_key_value_plaintext_auth_warns() -> None:
    report = explain_text(KEY_VALUE)
    assert report.encrypted is False
    assert "plaintext-credentials" in {p.kind for p in report.problems}
    assert "hunter2" not in json.dumps(report.to_dict())


def test_cli_json_from_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "send.vbs"
    script.write_text(OFFICE365_587)
    assert main(["explain", str(script), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"].startswith("fails with 0x80040213")
    assert data["encrypted"] is None


def test_cli_fields_only(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "--field", "sendusing=2", "--field", "smtpserver=mx.example.com",
                 "--field", "smtpusessl=True", "--field", "smtpserverport=25"])
    assert code == 0
    out = capsys.readouterr().out
    assert "ENCRYPTED (STARTTLS)" in out
    assert "Send STARTTLS" in out


def test_cli_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SENDTLS_MYTH))
    assert main(["explain", "-"]) == 1
    out = capsys.readouterr().out
    assert "NOT ENCRYPTED" in out
    assert "does not exist in CDO" in out


def test_cli_without_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 64  # EX_USAGE
    assert "give a FILE" in capsys.readouterr().err
