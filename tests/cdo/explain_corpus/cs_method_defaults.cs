// Modeled on C# COM-interop helpers (CDO.Message through the "Microsoft CDO for Windows 2000"
// reference) with optional parameters; written for this corpus. Licence: CC0 (this corpus).
public static class Mailer
{
    public static void Send(string to, string host = "smtp.example.com", int port = 25,
                            bool useSsl = false)
    {
        var message = new CDO.Message();
        ADODB.Fields fields = message.Configuration.Fields;
        fields["http://schemas.microsoft.com/cdo/configuration/sendusing"].Value = 2;
        fields["http://schemas.microsoft.com/cdo/configuration/smtpserver"].Value = host;
        fields["http://schemas.microsoft.com/cdo/configuration/smtpserverport"].Value = port;
        fields["http://schemas.microsoft.com/cdo/configuration/smtpusessl"].Value = useSsl;
        fields.Update();
        message.From = "app@example.com";
        message.To = to;
        message.Send();
    }
}
