' (A VBA macro with a reference to "Microsoft CDO for Windows 2000 Library".)
' Modeled on a copied configuration block where the sender line was left out; written for
' this corpus. Licence: CC0 (this corpus).
Set iMsg = CreateObject("CDO.Message")
Set Flds = iMsg.Configuration.Fields
Flds.Item(cdoSendUsingMethod) = cdoSendUsingPort
Flds.Item(cdoSMTPServer) = "smtp.example.com"
Flds.Item(cdoSMTPServerPort) = 465
Flds.Item(cdoSMTPUseSSL) = True
Flds.Update
iMsg.To = "you@example.org"
iMsg.Subject = "no sender"
iMsg.Send
