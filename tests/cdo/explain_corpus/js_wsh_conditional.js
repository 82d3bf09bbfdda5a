/* Modeled on JScript mailers that take an "secure" switch from the command line; written for
 * this corpus. Licence: CC0 (this corpus). */
var secure = WScript.Arguments.Named.Exists("secure");
var msg = WScript.CreateObject("CDO.Message");
var f = msg.Configuration.Fields;
f.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2;
f.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtp.example.com";
if (secure) {
    f.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = true;
    f.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 465;
} else
    f.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 25;
f.Update();
msg.From = "me@example.com";
msg.To = "you@example.org";
msg.Send();
