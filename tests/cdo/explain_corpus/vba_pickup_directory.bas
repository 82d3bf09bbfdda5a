' (A VBA macro with a reference to "Microsoft CDO for Windows 2000 Library".)
' Modeled on the IIS pickup-directory samples in the CDOSYS documentation ("Sending or Posting
' Using the Pickup Directory"); written for this corpus. Licence: CC0 (this corpus).
Set iConf = CreateObject("CDO.Configuration")
Set Flds = iConf.Fields
Flds(cdoSendUsingMethod) = cdoSendUsingPickup
Flds(cdoSMTPServerPickupDirectory) = "C:\Inetpub\mailroot\Pickup"
Flds.Update
Set iMsg = CreateObject("CDO.Message")
Set iMsg.Configuration = iConf
iMsg.From = "me@example.com"
iMsg.To = "you@example.org"
iMsg.Send
