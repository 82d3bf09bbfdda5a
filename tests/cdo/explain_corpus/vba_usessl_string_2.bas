' (A VBA macro with a reference to "Microsoft CDO for Windows 2000 Library".)
' Modeled on the same .ini-driven scripts, with "2" and a port held as text; written for this
' corpus. Licence: CC0 (this corpus).
sslFlag = "2"
portText = " 465 "
Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item(cdoSendUsingMethod) = "2"
  .Item(cdoSMTPServer) = "smtp.example.com"
  .Item(cdoSMTPServerPort) = portText
  .Item(cdoSMTPUseSSL) = sslFlag
  .Update
End With
m.From = "me@example.com" : m.To = "you@example.org"
m.Send
