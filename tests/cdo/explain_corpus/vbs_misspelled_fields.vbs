' Modeled on hand-typed field names seen in forum questions (a dropped letter, a trailing
' space); written for this corpus. Licence: CC0 (this corpus).
Const ns = "http://schemas.microsoft.com/cdo/configuration/"
Set m = CreateObject("CDO.Message")
m.Configuration.Fields.Item(ns & "sendusing") = 2
m.Configuration.Fields.Item(ns & "smtpserver") = "smtp.example.com"
m.Configuration.Fields.Item(ns & "smtpserverpor") = 465
m.Configuration.Fields.Item(ns & "smtpusessl") = True
m.Configuration.Fields.Item(ns & "smtpauthenticate") = 1
m.Configuration.Fields.Item(ns & "sendusername") = "me@example.com"
m.Configuration.Fields.Item(ns & "sendpasword") = "S3cret-corpus"
m.Configuration.Fields.Item(ns & "sendpassword ") = "S3cret-corpus"
m.Configuration.Fields.Update
m.From = "me@example.com"
m.To = "you@example.org"
m.Send
