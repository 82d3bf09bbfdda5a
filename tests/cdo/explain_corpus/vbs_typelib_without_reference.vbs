' Modeled on the Platform SDK "Sending or Posting Using the Network" sample pasted into a plain
' .vbs file, where the type-library names do not exist (VBScript has no reference mechanism
' outside .wsf/.asp); written for this corpus. Licence: CC0 (this corpus).
Set iConf = CreateObject("CDO.Configuration")
Set Flds = iConf.Fields
Flds(cdoSendUsingMethod) = cdoSendUsingPort
Flds(cdoSMTPServer) = "mail.example.com"
Flds(cdoSMTPServerPort) = 465
Flds(cdoSMTPUseSSL) = True
Flds.Update
Set iMsg = CreateObject("CDO.Message")
Set iMsg.Configuration = iConf
iMsg.From = "me@example.com"
iMsg.To = "you@example.org"
iMsg.Send
