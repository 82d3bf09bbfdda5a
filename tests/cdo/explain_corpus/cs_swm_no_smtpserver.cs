// Modeled on System.Web.Mail samples that never set SmtpMail.SmtpServer (System.Web.Mail then
// uses the local IIS pickup folder); written for this corpus. Licence: CC0 (this corpus).
using System.Web.Mail;

class Notify
{
    static void Main()
    {
        MailMessage mail = new MailMessage();
        mail.From = "me@example.com";
        mail.To = "you@example.org";
        mail.Subject = "pickup";
        mail.Body = "hello";
        mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpusessl"] = "true";
        SmtpMail.Send(mail);
    }
}
