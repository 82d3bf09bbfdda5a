' Source: https://github.com/MartinCiro/vbscript/blob/HEAD/mail.vbs
' Licence: see the repository (excerpt quoted for testing); credentials replaced.
set emailObj = CreateObject("CDO.Message")
emailObj.From = "origin@example.com"
emailObj.To = "destination@example.org"
emailObj.Subject = "Test CDO"
emailObj.TextBody = "Test CDO"

Set emailConfig = emailObj.Configuration

emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtp.example.com"
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 465
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = true
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/sendusername") = "user@example.com"
emailConfig.Fields("http://schemas.microsoft.com/cdo/configuration/sendpassword") = "S3cret-corpus"

emailConfig.Fields.Update

emailObj.Send

If err.number = 0 then Msgbox "Done"
