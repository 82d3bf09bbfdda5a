' (A VBA macro with a reference to "Microsoft CDO for Windows 2000 Library".)
' Modeled on scripts that put the recipient in a variable but never assign it to the message;
' written for this corpus. Licence: CC0 (this corpus).
strTo = "you@example.org"
Set iMsg = CreateObject("CDO.Message")
With iMsg.Configuration.Fields
  .Item(cdoSendUsingMethod) = cdoSendUsingPort
  .Item(cdoSMTPServer) = "smtp.example.com"
  .Update
End With
With iMsg
  .From = "me@example.com"
  .Subject = "nobody"
  .HtmlBody = "<p>hi</p>"
  .Send
End With
