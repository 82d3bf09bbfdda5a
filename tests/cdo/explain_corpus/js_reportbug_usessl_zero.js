// Source: a public GitHub web project's JScript (function ReportBug, "deprecated" in the
// original), found through the code index (stored file id 40171620983; the index does not name
// the repository). Licence: not stated in the excerpt; quoted for testing. IP/address replaced.
function ReportBug(mailMessage) {
    var c = new ActiveXObject("CDO.Configuration");
    c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = '192.0.2.10'; // ip
    c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 25;
    c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2;
    c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = 0;
    c.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 0;
    c.Fields.Update();

    var msg = new ActiveXObject("CDO.Message");
    msg.BodyPart.Charset = "UTF-8";
    msg.Subject = "[report] bug";
    msg.To = "id@example.org"; // email
    msg.From = "Anonymous";
    msg.TextBody = mailMessage;
    msg.Configuration = c;
    msg.Send();
    msg = null;
}
