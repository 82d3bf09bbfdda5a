"""`cdomail explain` reads each language family properly and answers in three values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdomail.cdo.explain import detect_language, explain_text
from cdomail.cli import main

NS = "http://schemas.microsoft.com/cdo/configuration/"
SEND_VB = 'm.From = "a@example.com" : m.To = "b@example.org"\nm.Send\n'


def verdict(text: str) -> str:
    return explain_text(text).verdict


def kinds(text: str) -> set[str]:
    return {p.kind for p in explain_text(text).problems}


# --- VB family --------------------------------------------------------------------------------
def test_vb_comments_rem_and_strings_with_quotes() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
Rem m.Configuration.Fields.Item("{NS}smtpusessl") = True
' m.Configuration.Fields.Item("{NS}smtpusessl") = True
m.Configuration.Fields.Item("{NS}sendusing") = 2 ' a "quoted" comment: .Item(x) = 1
m.Configuration.Fields.Item("{NS}smtpserver") = "it''s ""quoted"""
m.Configuration.Fields.Update
{SEND_VB}'''
    report = explain_text(text)
    assert report.verdict == "plaintext"
    server = next(f for f in report.fields if f.name.endswith("smtpserver"))
    assert server.value == 'it\'\'s "quoted"'


def test_vb_nested_with_and_type_library_constants() -> None:
    text = '''
Set m = CreateObject("CDO.Message")
With m
  With .Configuration.Fields
    .Item(cdoSendUsingMethod) = cdoSendUsingPort
    .Item(cdoSMTPServer) = "smtp.example.com"
    .Item(cdoSMTPServerPort) = 465
    .Item(cdoSMTPUseSSL) = True
    .Item(cdoSMTPAuthenticate) = cdoBasic
    .Item(cdoSendUserName) = "me"
    .Update
  End With
  .From = "a@example.com"
  .To = "b@example.org"
  .Send
End With
'''
    report = explain_text(text)
    assert (report.verdict, report.encryption) == ("encrypted", "implicit TLS")
    assert any("AUTH LOGIN" in step for step in report.steps)


def test_configuration_called_as_its_default_member() -> None:
    text = f'''
Set cfg = CreateObject("CDO.Configuration")
cfg(cdoSendUsingMethod) = 2
cfg(cdoSMTPServer) = "smtp.example.com"
cfg(cdoSMTPUseSSL) = True
cfg.Fields.Update
Set m = CreateObject("CDO.Message")
Set m.Configuration = cfg
{SEND_VB}'''
    assert explain_text(text).encryption == "STARTTLS"


def test_one_line_if_and_else_make_it_depend() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
Set f = m.Configuration.Fields
If secure Then f.Item(cdoSMTPUseSSL) = True Else f.Item(cdoSMTPServerPort) = 2526
m.Configuration.Fields.Update
{SEND_VB}'''
    report = explain_text(text)
    assert report.verdict == "depends"
    assert report.encrypted is None
    assert [e["name"] for e in report.depends_on] == ["secure"]
    assert set(report.possible_verdicts) == {"encrypted", "plaintext"}


def test_every_branch_encrypting_is_encrypted() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item(cdoSendUsingMethod) = 2
  .Item(cdoSMTPServer) = "smtp.example.com"
  .Item(cdoSMTPUseSSL) = True
  If legacy Then
    .Item(cdoSMTPServerPort) = 25
  Else
    .Item(cdoSMTPServerPort) = 465
  End If
  .Update
End With
{SEND_VB}'''
    report = explain_text(text)
    assert report.verdict == "encrypted"
    assert report.encrypted is True
    assert report.encryption in ("STARTTLS or implicit TLS", "implicit TLS or STARTTLS")


def test_a_variable_assigned_twice_is_unknown() -> None:
    text = f'''
useSsl = True
useSsl = False
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Item(cdoSMTPServerPort) = 25
m.Configuration.Fields.Item(cdoSMTPUseSSL) = useSsl
m.Configuration.Fields.Update
{SEND_VB}'''
    report = explain_text(text)
    assert report.verdict == "depends"
    assert report.depends_on[0]["kind"] == "variable"


def test_a_conditional_update_makes_it_depend() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
If ready Then m.Configuration.Fields.Update
{SEND_VB}'''
    report = explain_text(text)
    assert report.verdict == "depends"
    assert set(report.possible_verdicts) == {"plaintext", "fails"}


def test_unknown_member_names_the_nearest_and_case_variants_are_fine() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Update
m.HtmlBody = "<p>fine</p>"
m.Textbody = "fine"
m.Cc = "c@example.org"
m.HTMLBodyy = "typo"
{SEND_VB}'''
    problems = [p for p in explain_text(text).problems if p.kind == "unknown-member"]
    assert len(problems) == 1
    assert "HTMLBodyy" in problems[0].message and "did you mean HTMLBody" in problems[0].message


def test_misspelled_field_names_the_nearest_real_one() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item("{NS}sendusing") = 2
m.Configuration.Fields.Item("{NS}smtpsever") = "smtp.example.com"
m.Configuration.Fields.Update
{SEND_VB}'''
    report = explain_text(text)
    assert report.hresult == "0x8004020A"  # smtpserver never set
    message = next(p.message for p in report.problems if p.kind == "unknown-field")
    assert f"Did you mean '{NS}smtpserver'" in message


def test_autoit_comments_and_func_defaults() -> None:
    text = f'''
#include <file.au3>
Func Mail($server, $port = 465, $ssl = True) ; comment
    Local $o = ObjCreate("CDO.Message")
    $o.From = "a@example.com"
    $o.To = "b@example.org"
    $o.Configuration.Fields.Item("{NS}sendusing") = 2
    $o.Configuration.Fields.Item("{NS}smtpserver") = $server
    $o.Configuration.Fields.Item("{NS}smtpserverport") = $port
    $o.Configuration.Fields.Item("{NS}smtpusessl") = $ssl ; $o.x = 1
    $o.Configuration.Fields.Update
    $o.Send
EndFunc
'''
    assert detect_language(text) == "autoit"
    report = explain_text(text)
    assert report.verdict == "depends"
    assert report.verdict_with_defaults == "encrypted"
    by_name = {e["name"]: e for e in report.depends_on}
    assert by_name["$port"]["default"] == 465
    assert by_name["$ssl"]["default"] is True


# --- C family --------------------------------------------------------------------------------
def test_jscript_comments_hide_assignments_and_true_is_true() -> None:
    text = f'''
var m = new ActiveXObject("CDO.Message");
var f = m.Configuration.Fields;
f.Item("{NS}sendusing") = 2;
f.Item("{NS}smtpserver") = "smtp.example.com";
// f.Item("{NS}smtpusessl") = false;
/* f.Item("{NS}smtpserverport") = 2526;
*/
f.Item("{NS}smtpusessl") = true; // STARTTLS on 25
f.Update();
m.From = "a@example.com"; m.To = "b@example.org";
m.Send();
'''
    assert detect_language(text) == "c"
    assert explain_text(text).encryption == "STARTTLS"


def test_csharp_system_web_mail_dictionary_form() -> None:
    text = f'''
MailMessage mail = new MailMessage();
mail.From = "a@example.com";
mail.To = "b@example.org";
mail.Fields["{NS}smtpserverport"] = 465;
mail.Fields["{NS}smtpusessl"] = true;
SmtpMail.SmtpServer = "smtp.example.com";
SmtpMail.Send(mail);
'''
    report = explain_text(text)
    assert (report.verdict, report.encryption) == ("encrypted", "implicit TLS")
    assert "forgotten-update" not in kinds(text)


# --- PowerShell and Python ---------------------------------------------------------------------
def test_powershell_comments_and_true() -> None:
    text = f'''
$m = New-Object -ComObject CDO.Message
$m.Configuration.Fields.Item("{NS}sendusing") = 2
$m.Configuration.Fields.Item("{NS}smtpserver") = "smtp.example.com"
# $m.Configuration.Fields.Item("{NS}smtpusessl") = $false
<# $m.Configuration.Fields.Item("{NS}smtpserverport") = 2526 #>
$m.Configuration.Fields.Item("{NS}smtpusessl") = $true
$m.Configuration.Fields.Update()
$m.From = "a@example.com"; $m.To = "b@example.org"
$m.Send()
'''
    assert detect_language(text) == "powershell"
    assert explain_text(text).encryption == "STARTTLS"


def test_python_comment_and_if() -> None:
    text = f'''
import win32com.client
m = win32com.client.Dispatch("CDO.Message")
f = m.Configuration.Fields
f.Item("{NS}sendusing").Value = 2
f.Item("{NS}smtpserver").Value = "smtp.example.com"
# f.Item("{NS}smtpusessl").Value = True
if args.secure:
    f.Item("{NS}smtpusessl").Value = True
f.Update()
m.From = "a@example.com"
m.To = "b@example.org"
m.Send()
'''
    assert detect_language(text) == "python"
    report = explain_text(text)
    assert report.verdict == "depends"
    assert report.depends_on[0]["name"] == "args.secure"


# --- before connecting -------------------------------------------------------------------------
def test_fails_json_carries_the_hresult() -> None:
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Update
{SEND_VB}'''
    data = explain_text(text).to_dict()
    assert (data["verdict"], data["hresult"], data["encrypted"]) == ("fails", "0x80040220", None)


def test_sendemailaddress_stands_in_for_from() -> None:
    text = '''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Item(cdoSendEmailAddress) = "a@example.com"
m.Configuration.Fields.Update
m.To = "b@example.org"
m.Send
'''
    assert verdict(text) == "plaintext"


def test_cli_text_shows_the_verdict_and_escapes_snippet_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "send.bas"  # VBA: the type-library names exist
    script.write_text(f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "evil\x1b[2J\u202e.example.com"
m.Configuration.Fields.Update
{SEND_VB}''')
    assert main(["explain", str(script)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Verdict: plaintext\n")
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out
    assert main(["explain", str(script), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "plaintext"
    assert "depends_on" in data and "hresult" in data


def test_too_many_unknowns_is_never_a_certain_verdict() -> None:
    # Thirteen independent conditions: more combinations than explain enumerates.
    conditions = "\n".join(f"If c{i} Then m.Subject = \"{i}\"" for i in range(13))
    guarded = "\n".join(f"If c{i} Then m.To = \"b{i}@example.org\"" for i in range(13))
    text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = 2
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Item(cdoSMTPServerPort) = 465
m.Configuration.Fields.Item(cdoSMTPUseSSL) = True
m.Configuration.Fields.Update
m.From = "a@example.com"
{conditions}
{guarded}
m.Send
'''
    report = explain_text(text)
    assert report.verdict == "depends"
    assert report.encrypted is None


TYPELIB_SNIPPET = '''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(cdoSendUsingMethod) = cdoSendUsingPort
m.Configuration.Fields.Item(cdoSMTPServer) = "smtp.example.com"
m.Configuration.Fields.Item(cdoSMTPServerPort) = 465
m.Configuration.Fields.Item(cdoSMTPUseSSL) = True
m.Configuration.Fields.Update
m.From = "a@example.com" : m.To = "b@example.org"
m.Send
'''


@pytest.mark.parametrize(("filename", "verdict_expected", "kind"), [
    ("macro.bas", "encrypted", "type-library"),
    (None, "encrypted", "type-library"),
    ("send.vbs", "depends", "type-library-missing"),
    ("page.asp", "depends", "type-library-missing"),
])
def test_type_library_names_exist_only_where_the_library_is_referenced(
        filename: str | None, verdict_expected: str, kind: str) -> None:
    report = explain_text(TYPELIB_SNIPPET, filename=filename)
    assert report.verdict == verdict_expected
    assert kind in {p.kind for p in report.problems}


def test_an_asp_page_with_the_metadata_line_has_the_type_library() -> None:
    page = ('<!--METADATA TYPE="typelib" UUID="CD000000-8B95-11D1-82DB-00C04FB1625D" -->\n<%'
            + TYPELIB_SNIPPET + "%>")
    assert explain_text(page, filename="page.asp").encryption == "implicit TLS"
