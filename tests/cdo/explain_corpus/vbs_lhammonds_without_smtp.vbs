' Source: https://github.com/LHammonds/dos-vbs/blob/HEAD/Email_Using_CDO_without_SMTP.vbs
' Licence: see the repository (excerpt quoted for testing); addresses replaced.
Option Explicit
DIM obj_email
DIM str_email_server
DIM str_email_body
str_email_server = "mail.example.com"
str_email_body = ""
str_email_body = str_email_body & "Test Intro Header" & vbNewLine & vbNewLine
Set obj_email = CreateObject("CDO.Message")
obj_email.From = "webmaster@example.com"
obj_email.To = "joe@example.org"
obj_email.Subject = "VBScript CDO Email Test"
obj_email.Textbody = str_email_body
obj_email.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
obj_email.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/smtpserver") = str_email_server
obj_email.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 25
obj_email.Configuration.Fields.Update
obj_email.Send
Set obj_email = Nothing
