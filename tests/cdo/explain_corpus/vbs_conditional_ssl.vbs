' Modeled on command-line mailers such as the mail.vbs "/e: Use SSL to send" option found in
' the code search corpus; written for this corpus. Licence: CC0 (this corpus).
Const cdoSendUsingMethod = "http://schemas.microsoft.com/cdo/configuration/sendusing"
Const cdoSMTPServer = "http://schemas.microsoft.com/cdo/configuration/smtpserver"
Const cdoSMTPServerPort = "http://schemas.microsoft.com/cdo/configuration/smtpserverport"
Const cdoSMTPUseSSL = "http://schemas.microsoft.com/cdo/configuration/smtpusessl"
Const cdoSendUsingPort = 2
Dim useSecure, cfg, msg
useSecure = WScript.Arguments.Named.Exists("e")
Set msg = CreateObject("CDO.Message")
Set cfg = msg.Configuration
cfg.Fields.Item(cdoSendUsingMethod) = cdoSendUsingPort
cfg.Fields.Item(cdoSMTPServer) = "smtp.example.com"
cfg.Fields.Item(cdoSMTPServerPort) = 465
If useSecure Then
    cfg.Fields.Item(cdoSMTPUseSSL) = True
End If
cfg.Fields.Update
msg.From = "me@example.com"
msg.To = "you@example.org"
msg.Send
