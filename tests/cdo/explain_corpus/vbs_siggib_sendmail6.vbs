' Source: https://github.com/siggib007/vbScripts/blob/HEAD/sendmail6.vbs
' Licence: see the repository (excerpt quoted for testing); server and addresses replaced.
'Const MailServerName = "smarthost.example.net"
Const MailServerName = "mail.example.com"
Const SMTPTimeout = 10
Const FromAddress = """Sender"" <sender@example.com>"
Const ToAddress = """Rcpt"" <rcpt@example.org>"
Const CCAddress = ""'"someone@example.net"
Const Subject = "Hows it going?"
Const MsgBody = "This is the body of the message"
Const cdoSendUsingPort = 2

mysendmail subject,msgbody

Sub MySendMail(StrSubject,msg)
	Dim iMsg,iConf
	Set iMsg = CreateObject("CDO.Message")
	Set iConf = CreateObject("CDO.Configuration")
	Set Flds = iConf.Fields
	With Flds
	  .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = cdoSendUsingPort
	  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = MailServerName
	  .Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout") = SMTPTimeout
	  .Update
	End With
	With iMsg
	  Set .Configuration = iConf
	      .To       = ToAddress
	      .CC	= CCAddress
	      .From     = FromAddress
	      .Subject  = StrSubject
	      .textbody = Msg
	      .Send
	End With
End Sub
