' Source: a public VBScript collected by the code search corpus (repository not named there);
' the Gmail variant of the same widely copied SendMail function. Credentials replaced.
' Licence: not stated; quoted for interoperability testing, original (c) its author.
SentMail

Sub SentMail
  strFrom="sender@example.com"
  strTo= "rcpt@example.org"
  strSubject="[TEST]Automated Alert Message: Server Notification"
  strAccountID="sender@example.com"
  strPassword="S3cret-corpus"
  strSMTPServer="smtp.example.com"
  SendMail strFrom,strTo,strSubject,"body",strAccountID,strPassword,strSMTPServer
End Sub

Function SendMail( strFrom, strSendTo, strSubject, strMessage , strUser, strPassword, strSMTP )
    Set oEmail = CreateObject("CDO.Message")
    With oEmail.Configuration.Fields
          .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
          .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = strSMTP
          .Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = true
		  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") =465
		'  .item("http://schemas.microsoft.com/cdo/configuration/StartTLS") = true   '===>This commented line maybe necessary
          .item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1
          .item("http://schemas.microsoft.com/cdo/configuration/sendusername") = strUser
          .item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = strPassword
          .Update
    End With
    With oEmail
         .From = strFrom
         .To = strSendTo
         .Subject = strSubject
         .TextBody = strMessage
         .Send
    End With
End Function
