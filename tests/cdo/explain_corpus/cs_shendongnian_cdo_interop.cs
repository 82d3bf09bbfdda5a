// Source: https://github.com/shendongnian/code/blob/HEAD/code1/58994-4196677-0.cs
// (a Stack Overflow answer collected in that repository; Stack Overflow content is CC BY-SA)
// Licence: CC BY-SA (Stack Overflow content). Excerpt; addresses replaced.
    string smtpAddress = "smtp.example.com";
    try
    {
      CDO.Message oMessage = new CDO.Message();
      ADODB.Stream oStream = new ADODB.Stream();
      oStream.Charset = "ascii";
      oStream.Open();
      oStream.WriteText(MHTmessage);
      oMessage.DataSource.OpenObject(oStream, "_Stream");
      // set configuration
      ADODB.Fields oFields = oMessage.Configuration.Fields;
      oFields("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = CDO.CdoSendUsing.cdoSendUsingPort;
      oFields("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = smtpAddress;
      oFields.Update();
      // set other values
      oMessage.MimeFormatted = true;
      oMessage.Subject = subject;
      oMessage.Sender = emailFrom;
      oMessage.To = emailTo;
      oMessage.Send();
    }
    catch (Exception ex)
    {
      // something wrong
    }
