// -------------------------------------------------------
// Source: email_ipaddr.js, a public GitHub WSH script ("Obtains default gateway IP address and
// emails it"), found through the code index (stored file id 39130178189; the index does not
// name the repository). Licence: not stated; quoted for testing. Addresses replaced.
// Run with:
//     cscript email_ipaddr.js //Nologo
// -------------------------------------------------------
var debug = true;

function main()
{
    sendmail(getIpAddress());
}

function sendmail(ipAddr)
{
    var objEmail;
    objEmail = new ActiveXObject("CDO.Message");

    objEmail.From     = "me@example.net";
    objEmail.To       = "me@example.com";
    objEmail.Subject  = "IP Address"
    objEmail.Textbody = "ssh -l me " + ipAddr;
    objEmail.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2;
    objEmail.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtpserver.example.net" ;
    objEmail.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 25;
    objEmail.Configuration.Fields.Update();
    objEmail.Send();
}
