"""`cdomail explain` bugs found by the real snippets added to ``explain_corpus/``.

Each test is the smallest input that showed the bug; the verdict it asserts comes from the CDO
rules (/work/shared/spec/cdo.md §1, §2, §5), not from explain's output.
"""

from __future__ import annotations

from cdomail.cdo.explain import explain_text

NS = "http://schemas.microsoft.com/cdo/configuration/"


def test_vba_typed_const_names_the_variable_not_its_type() -> None:
    # ``Const PORT As Integer = 587`` once took "Integer" for the variable, so the port (and
    # sendusing) were unknown and the verdict "depends". smtpusessl unset on 587 is plain SMTP.
    text = f'''
Sub Mail(Sender As String)
    Const SEND_USING As Integer = 2 'cdoSendUsingPort
    Const SERVER_PORT As Integer = 587 'comment claiming STARTTLS
    Const SERVER As String = "smtp.example.com"
    Dim m As Object: Set m = CreateObject("CDO.Message")
    With m.Configuration.Fields
        .Item("{NS}sendusing") = SEND_USING
        .Item("{NS}smtpserver") = SERVER
        .Item("{NS}smtpserverport") = SERVER_PORT
        .Update
    End With
    m.From = Sender : m.To = "b@example.org" : m.Send
End Sub
'''
    report = explain_text(text, filename="mail.bas")
    assert report.verdict == "plaintext", report.to_text()
    assert report.to_dict()["depends_on"] == []
    port = next(f for f in report.fields if f.name.endswith("smtpserverport"))
    assert port.value == 587


def test_csharp_tostring_of_a_known_value_is_that_value_as_text() -> None:
    # ``nPort.ToString()`` of ``int nPort = 465`` is "465"; with smtpusessl "true" that is
    # implicit TLS, not "depends on nPort.ToString()".
    text = f'''
public void Send() {{
    bool fSSL = true;
    int nPort = 465;
    System.Web.Mail.MailMessage Mail = new System.Web.Mail.MailMessage();
    Mail.Fields["{NS}smtpserver"] = "smtp.example.com";
    Mail.Fields["{NS}sendusing"] = 2;
    Mail.Fields["{NS}smtpserverport"] = nPort.ToString();
    if (fSSL)
        Mail.Fields["{NS}smtpusessl"] = "true";
    Mail.From = "a@example.com";
    Mail.To = "b@example.org";
    System.Web.Mail.SmtpMail.SmtpServer = "smtp.example.com";
    System.Web.Mail.SmtpMail.Send(Mail);
}}
'''
    report = explain_text(text, filename="mail.cs")
    assert (report.verdict, report.encryption) == ("encrypted", "implicit TLS"), report.to_text()
    port = next(f for f in report.fields if f.name.endswith("smtpserverport"))
    assert port.value == "465"


def test_csharp_tostring_of_an_unknown_stays_unknown() -> None:
    text = f'''
public void Send(int port) {{
    System.Web.Mail.MailMessage Mail = new System.Web.Mail.MailMessage();
    Mail.Fields["{NS}sendusing"] = 2;
    Mail.Fields["{NS}smtpserver"] = "smtp.example.com";
    Mail.Fields["{NS}smtpserverport"] = port.ToString();
    Mail.Fields["{NS}smtpusessl"] = "true";
    Mail.From = "a@example.com";
    Mail.To = "b@example.org";
    System.Web.Mail.SmtpMail.Send(Mail);
}}
'''
    data = explain_text(text, filename="mail.cs").to_dict()
    assert data["verdict"] == "depends"
    assert data["encrypted"] is None


def test_jscript_function_expressions_are_read_not_swallowed() -> None:
    # An IIFE wrapper and a method in an object literal: the whole body used to become one
    # opaque statement, so explain said "no field assignment found ... fails 0x80040220"
    # although sendusing=2 is set and committed.
    text = f'''
(function()
{{
  Class("Mailer", Extend(), Implement(),
  {{
    _use_ssl: false,
    send: function(from, to)
    {{
      var cdo = new ActiveXObject("CDO.Message");
      fields = cdo.configuration.fields;
      fields.Item("{NS}sendusing") = 2;
      fields.Item("{NS}smtpserver") = "smtp.example.com";
      fields.Item("{NS}smtpserverport") = 465;
      fields.Item("{NS}smtpusessl") = true;
      fields.Update();
      cdo.from = from;
      cdo.to = to;
      cdo.send();
    }}
  }});
}})();
'''
    report = explain_text(text, filename="mail.js")
    assert (report.verdict, report.encryption) == ("encrypted", "implicit TLS"), report.to_text()
    assert "nothing-found" not in {p.kind for p in report.problems}


def test_an_unknown_connection_timeout_does_not_make_send_fail() -> None:
    # ``smtpconnectiontimeout = this._timeout`` is some number of seconds; it was stood in for
    # by the text "<this._timeout>", which the whole-number check refused ("fails").
    text = f'''
function send(server) {{
  var cdo = new ActiveXObject("CDO.Message");
  var f = cdo.Configuration.Fields;
  f.Item("{NS}sendusing") = 2;
  f.Item("{NS}smtpserver") = server;
  f.Item("{NS}smtpconnectiontimeout") = this._timeout;
  f.Update();
  cdo.From = "a@example.com";
  cdo.To = "b@example.org";
  cdo.Send();
}}
'''
    report = explain_text(text, filename="mail.js")
    assert report.verdict == "plaintext", report.to_text()


def test_ntlm_without_a_user_name_is_not_reported_as_a_failed_logon() -> None:
    # cdoNTLM with no sendusername logs on as the account running the script (CDOSYS
    # smtpauthenticate reference); only cdoBasic needs a user name.
    def errors(authenticate: int) -> list[str]:
        text = f'''
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item("{NS}sendusing") = 2
m.Configuration.Fields.Item("{NS}smtpserver") = "relay.example.com"
m.Configuration.Fields.Item("{NS}smtpauthenticate") = {authenticate}
m.Configuration.Fields.Update
m.From = "a@example.com" : m.To = "b@example.org"
m.Send
'''
        report = explain_text(text, filename="mail.vbs")
        assert report.verdict == "plaintext"
        return [p.message for p in report.problems if p.kind == "error"]

    assert errors(2) == []
    assert any("sendusername" in text for text in errors(1))
