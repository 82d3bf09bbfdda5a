' Modeled on code copied from the current online CDO reference, whose pages show the
' namespace as https:// (learn.microsoft.com/.../ms526318); written for this corpus.
' Licence: CC0 (this corpus).
Set cdoConfig = CreateObject("CDO.Configuration")
With cdoConfig.Fields
    .Item("https://schemas.microsoft.com/cdo/configuration/sendusing") = 2
    .Item("https://schemas.microsoft.com/cdo/configuration/smtpserver") = "mail.example.com"
    .Item("https://schemas.microsoft.com/cdo/configuration/smtpserverport") = 465
    .Item("https://schemas.microsoft.com/cdo/configuration/smtpusessl") = True
    .Update
End With
Set msg = CreateObject("CDO.Message")
Set msg.Configuration = cdoConfig
msg.From = "me@example.com"
msg.To = "you@example.org"
msg.Send
