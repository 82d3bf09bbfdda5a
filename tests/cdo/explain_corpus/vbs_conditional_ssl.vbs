' Modeled on command-line mailers such as the mail.vbs "/e: Use SSL to send" option found in
' the code search corpus; written for this corpus. Licence: CC0 (this corpus).
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
