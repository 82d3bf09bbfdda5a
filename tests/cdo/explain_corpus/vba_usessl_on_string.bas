' (A VBA macro with a reference to "Microsoft CDO for Windows 2000 Library".)
' Modeled on values read from an .ini file ("UseSSL=on") and passed straight to CDO; written
' for this corpus. Licence: CC0 (this corpus).
Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item(cdoSendUsingMethod) = 2
  .Item(cdoSMTPServer) = "smtp.example.com"
  .Item(cdoSMTPServerPort) = "465"
  .Item(cdoSMTPUseSSL) = "on"
  .Update
End With
m.From = "me@example.com" : m.To = "you@example.org"
m.Send
