// Source: a public GitHub ASP.NET project's Email class (WorldRef.BusinessLayer, method
// SendMail through System.Web.Mail), found through the code index (stored file id
// 34875625288; the index does not name the repository).
// Licence: not stated in the file; quoted for interoperability testing, original (c) its
// author. Abridged: the HTML body lines and the unrelated helper methods removed; host
// names replaced with placeholders.
using System;
using System.Configuration;

namespace WorldRef.BusinessLayer
{
    public class Email
    {
        public string EmailUserName
        {
            get { return ConfigurationManager.AppSettings["EMAIL"].ToString(); }
        }

        public string EmailPassword
        {
            get { return ConfigurationManager.AppSettings["PASSWORD"].ToString(); }
        }

        public void SendMail(string toName, string toEmail, string subject, string mailBody)
        {
            try
            {

                bool fSSL = true;
                //string sHost = "smtp.example.org";
                string sHost = "smtp.example.com";// "smtpout.example.net";
                // mSmtpClient.Port = 80;
                int nPort = 465;
                string sUserName = EmailUserName;
                string sPassword = EmailPassword;
                string sFromName = "i4i Application";
                string sFromEmail = EmailUserName;
                string sToName = toName;
                string sToEmail = toEmail;
                string sHeader = subject;

                string sMessage = "";
                sMessage += mailBody + "<br/><br/>";

                if (sToName.Length == 0)
                    sToName = sToEmail;
                if (sFromName.Length == 0)
                    sFromName = sFromEmail;

                System.Web.Mail.MailMessage Mail = new System.Web.Mail.MailMessage();
                Mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpserver"] = sHost;
                Mail.Fields["http://schemas.microsoft.com/cdo/configuration/sendusing"] = 2;

                Mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpserverport"] = nPort.ToString();
                if (fSSL)
                    Mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpusessl"] = "true";

                if (sUserName.Length == 0)
                {
                    //Ingen auth
                }
                else
                {
                    Mail.Fields["http://schemas.microsoft.com/cdo/configuration/smtpauthenticate"] = 1;
                    Mail.Fields["http://schemas.microsoft.com/cdo/configuration/sendusername"] = sUserName;
                    Mail.Fields["http://schemas.microsoft.com/cdo/configuration/sendpassword"] = sPassword;
                }

                Mail.To = sToEmail;
                Mail.From = sFromEmail;
                Mail.Subject = sHeader;
                Mail.Body = sMessage;
                Mail.BodyFormat = System.Web.Mail.MailFormat.Html;

                System.Web.Mail.SmtpMail.SmtpServer = sHost;
                System.Web.Mail.SmtpMail.Send(Mail);
                Mail = null;

            }
            catch (Exception ex)
            {

                //throw new Exception(ex.Message);                
            }
        }
    }
}
