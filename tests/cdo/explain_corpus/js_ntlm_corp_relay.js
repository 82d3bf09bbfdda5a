// Source: a public GitHub JScript build-tools library (function SendMicrosoftMail), found
// through the code index (stored file id 508338199; the index does not name the repository).
// Licence: not stated in the excerpt; quoted for testing. The corporate host name replaced.
function SendMicrosoftMail(subject, text, toAddress) {
    var shell = new ActiveXObject("WScript.Shell");
    var userName = shell.ExpandEnvironmentStrings("%username%");
    var fromAddress = userName + "@example.com";
    var server = "smtphost.corp.example.com";

    if (!toAddress) {
        toAddress = fromAddress;
    }

    var message = new ActiveXObject("CDO.Message");
    var configuration = message.Configuration;

    // 2 = cdoSendUsingPort; 2 = cdoNTLM
    configuration.Fields("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2;
    configuration.Fields("http://schemas.microsoft.com/cdo/configuration/smtpserver") = server;
    configuration.Fields("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 2;
    configuration.Fields.Update();

    message.To = toAddress;
    message.From = fromAddress;
    message.Subject = subject;
    message.TextBody = text;
    message.Send();
}
