' Source: https://taourl.com/read-4030915.html ("Sending email from Excel VBA with CDO and TLS"),
' a 2025 blog post recommending a "smtpusetls" field. Quoted for testing; credentials replaced.
' Licence: not stated on the page; quoted for interoperability testing, original (c) its author.
Sub SendEmailWithCDO()
Dim cdoMessage As CDO.Message
Dim cdoConfig As CDO.Configuration
Dim schema As String
Set cdoMessage = New CDO.Message
Set cdoConfig = New CDO.Configuration
schema = "http://schemas.microsoft.com/cdo/configuration/"
With cdoConfig.Fields
.Item(schema & "sendusing") = 2
.Item(schema & "smtpserver") = "smtp.example.com"
.Item(schema & "smtpserverport") = 587
.Item(schema & "smtpusessl") = False
.Item(schema & "smtpconnectiontimeout") = 60
.Item(schema & "smtpauthenticate") = 1
.Item(schema & "sendusername") = "your.email@example.com"
.Item(schema & "sendpassword") = "S3cret-corpus"
.Item(schema & "smtpusetls") = True
.Update
End With
With cdoMessage
Set .Configuration = cdoConfig
.From = "your.email@example.com"
.To = "recipient@example.org"
.Subject = "Test Email via CDO"
.TextBody = "This is a test email sent using CDO in Excel VBA with TLS."
.Send
End With
End Sub
