// Source: https://github.com/rocklee2015/RicoNetCore/blob/HEAD/000-NetCoreBaseSample/S08.NetEmailStandard/EmailHelper.cs
// Licence: see the repository (excerpt quoted for testing); credentials and hosts replaced.
using System;
using System.Web.Mail;

namespace S08.NetEmailStandard
{
    public class EmailHelper
    {
        public void SendMail()
        {
            string from = "system@example.com";
            string to = "someone@example.org";
            string userName = "system@example.com";
            string password = "S3cret-corpus";
            string smtpServer = "smtp.example.com";
            string port = "465";
            bool ssl = true;
            System.Web.Mail.MailMessage mmsg = new System.Web.Mail.MailMessage();
            mmsg.Subject = "subject";
            mmsg.BodyFormat = MailFormat.Html;
            mmsg.Body = "body";
            mmsg.From = from;
            mmsg.To = to;

            mmsg.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate", "1");
            mmsg.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendusername", userName);
            mmsg.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendpassword", password);
            mmsg.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpserverport", port);
            mmsg.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpusessl", ssl ? "true" : "false");
            System.Web.Mail.SmtpMail.SmtpServer = smtpServer;
            try
            {
                SmtpMail.Send(mmsg);
            }
            catch (Exception ex)
            {
                Console.WriteLine(ex.Message);
            }
        }
    }
}
