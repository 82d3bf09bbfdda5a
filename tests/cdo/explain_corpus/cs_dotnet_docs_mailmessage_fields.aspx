<%--
  Source: https://github.com/dotnet/docs/blob/HEAD/samples/snippets/csharp/VS_Snippets_WebNet/System.Web.Mail.MailMessage.Fields/CS/MailMessageFieldscs.aspx
  Licence: dotnet/docs samples are MIT-licensed; excerpt, credentials replaced.
--%>
<%@ Page Language="C#" %>
<%@ IMPORT namespace="System.Web.Mail" %>
<script runat="server">
  void OnSendMailClick(object sender, EventArgs e)
  {
    MailMessage mail = new MailMessage();
    mail.To = "john@example.org";
    mail.From = "marsha@example.com";
    mail.Subject = "Hello";
    mail.Body = "This is a test message.";

    // Use the Fields property to add authentication, your username, and your password.
    mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate", "1");
    mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendusername", "marsha");
    mail.Fields.Add("http://schemas.microsoft.com/cdo/configuration/sendpassword", "S3cret-corpus");

    // Name of relay mail server in your domain.
    SmtpMail.SmtpServer = "smarthost";
    SmtpMail.Send(mail);
  }
</script>
