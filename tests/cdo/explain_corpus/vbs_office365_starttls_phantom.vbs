' Source: a public VBScript collected by the code search corpus (repository not named there);
' the widely copied "SentMail / SendMail for Office 365" sample. Credentials replaced.
' Licence: not stated; quoted for interoperability testing, original (c) its author.
Dim strMessage
SentMail

Sub SentMail
  strTo= "rcpt@example.org"
  strFrom="sender@example.com"
  strSubject="Automated Alert Message: Server Notification"
  strMessage =  strMessage & "Your other message..."
  strAccountID="sender@example.com"
  strPassword="S3cret-corpus"
  strSMTPServer="smtp.example.com"
  SendMail strFrom,strTo,strSubject,strMessage,strAccountID,strPassword,strSMTPServer
End Sub

Function SendMail( strFrom, strSendTo, strSubject, strMessage , strUser, strPassword, strSMTP )
    Set oEmail = CreateObject("CDO.Message")
    'configure message
    With oEmail.Configuration.Fields
          .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
          .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = strSMTP
          .Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = true
		  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") =25
		  .item("http://schemas.microsoft.com/cdo/configuration/StartTLS") = true
          .item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1
          .item("http://schemas.microsoft.com/cdo/configuration/sendusername") = strUser
          .item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = strPassword
		  .Update
    End With
    ' build message
    With oEmail
         .From = strFrom
         .To = strSendTo
         .Subject = strSubject
         .TextBody = strMessage
    End With
    oEmail.Send
End Function
