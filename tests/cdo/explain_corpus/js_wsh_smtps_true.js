// Modeled on the Windows Script Host JScript samples for CDO ("Sending E-Mail", Windows 2000
// Scripting Guide, https://technet.microsoft.com/library/ee176560.aspx) ported to JScript with
// the lower-case true; written for this corpus. Licence: CC0 (this corpus).
var schema = "http://schemas.microsoft.com/cdo/configuration/";
var msg = new ActiveXObject("CDO.Message");
var flds = msg.Configuration.Fields;
flds.Item(schema + "sendusing") = 2;
flds.Item(schema + "smtpserver") = "smtp.example.com";
flds.Item(schema + "smtpserverport") = 465;
flds.Item(schema + "smtpusessl") = true;        // implicit TLS on 465
flds.Item(schema + "smtpauthenticate") = 1;
flds.Item(schema + "sendusername") = "me@example.com";
flds.Item(schema + "sendpassword") = "S3cret-corpus";
flds.Update();
msg.From = "me@example.com";
msg.To = "you@example.org";
msg.Subject = "JScript";
msg.TextBody = "hello";
msg.Send();
