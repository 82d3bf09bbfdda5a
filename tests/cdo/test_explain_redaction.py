"""`cdomail explain` never echoes a value from a field that looks like it holds a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdomail.cdo.explain import explain_text, looks_secret
from cdomail.cli import main

SECRET = "Tr0ub4dor-value"
NS = "http://schemas.microsoft.com/cdo/configuration/"


def _snippet(field: str, value: str = f'"{SECRET}"') -> str:
    return f'''
Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item("{NS}sendusing") = 2
  .Item("{NS}smtpserver") = "smtp.example.com"
  .Item("{field}") = {value}
  .Update
End With
m.From = "a@example.com" : m.To = "b@example.org"
m.Send
'''


@pytest.mark.parametrize("field", [
    f"{NS}sendpassword", f"{NS}SENDPASSWORD", f"{NS}SendPassword", f"{NS}sendpassword ",
    f"{NS}sendpasword", f"{NS}sendpassowrd", f"{NS}sendpwd", f"{NS}postpassword",
    "https://schemas.microsoft.com/cdo/configuration/sendpassword", "urn:cdomail:secret",
    f"{NS}oauthtoken", f"{NS}smtp_pass", "sendpassword",
])
def test_secret_looking_fields_are_redacted_in_text_and_json(field: str) -> None:
    report = explain_text(_snippet(field))
    assert SECRET not in report.to_text()
    assert SECRET not in json.dumps(report.to_dict())
    assert any(f.value == "***" for f in report.fields)


@pytest.mark.parametrize("name", ["sendpassword", "SendPassword ", "sendpasword", "sendpwd",
                                  "apitoken", "client_secret", "smtppass", "postpasswrd"])
def test_looks_secret(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["sendusername", "smtpserver", "smtpusessl", "sendusing",
                                  "smtpauthenticate", "smtpserverport"])
def test_ordinary_fields_are_shown(name: str) -> None:
    assert not looks_secret(name)


def test_a_default_password_in_a_signature_is_not_printed() -> None:
    text = f'''
Function Mail(Optional pwd = "{SECRET}", Optional usePassword = "{SECRET}")
  Set m = CreateObject("CDO.Message")
  m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
  m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
  m.Configuration.Fields.Item(cdoSendPassword) = pwd
  If usePassword <> "" Then m.Configuration.Fields.Item(cdoSMTPUseSSL) = True
  m.Configuration.Fields.Update
  m.From = "a@example.com" : m.To = "b@example.org"
  m.Send
End Function
'''
    report = explain_text(text)
    assert report.verdict == "encrypted" or report.depends_on
    assert SECRET not in report.to_text()
    assert SECRET not in json.dumps(report.to_dict())


def test_depends_on_redacts_a_secret_looking_parameter_default() -> None:
    text = f'''
Sub Mail(useSsl, Optional smtpPassword = "{SECRET}")
  Set m = CreateObject("CDO.Message")
  With m.Configuration.Fields
    .Item(cdoSendUsingMethod) = 2
    .Item(cdoSMTPServer) = "smtp.example.com"
    .Item(cdoSMTPServerPort) = 465
    If smtpPassword = "x" Then .Item(cdoSMTPUseSSL) = True
    .Update
  End With
  m.From = "a@example.com" : m.To = "b@example.org"
  m.Send
End Sub
'''
    report = explain_text(text)
    assert report.verdict == "depends"
    entry = next(e for e in report.to_dict()["depends_on"] if e["name"] == "smtpPassword")
    assert entry["default"] == "***"
    assert SECRET not in report.to_text()


def test_cli_key_value_and_field_options_redact(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "export.txt"
    config.write_text(f"sendusing=2\nsmtpserver=mail.example.com\nsendpasword={SECRET}\n")
    main(["explain", str(config), "--field", f"SendPassword ={SECRET}", "--json"])
    main(["explain", str(config), "--field", f"sendpwd={SECRET}"])
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "***" in out
