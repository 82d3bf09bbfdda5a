' Modeled on the many forum answers recommending "sendtls" for Gmail on 587; written for this
' corpus. Licence: CC0 (this corpus).
Set objMessage = CreateObject("CDO.Message")
schema = "http://schemas.microsoft.com/cdo/configuration/"
objMessage.Configuration.Fields.Item(schema & "sendusing") = 2
objMessage.Configuration.Fields.Item(schema & "smtpserver") = "smtp.example.com"
objMessage.Configuration.Fields.Item(schema & "smtpserverport") = 587
objMessage.Configuration.Fields.Item(schema & "sendtls") = True ' turn on STARTTLS
objMessage.Configuration.Fields.Item(schema & "smtpauthenticate") = 1
objMessage.Configuration.Fields.Item(schema & "sendusername") = "me@example.com"
objMessage.Configuration.Fields.Item(schema & "sendpassword") = "S3cret-corpus"
objMessage.Configuration.Fields.Update
objMessage.From = "me@example.com"
objMessage.To = "you@example.org"
objMessage.Send
