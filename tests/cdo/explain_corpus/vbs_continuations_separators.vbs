' Modeled on forum-posted VBScript that wraps long field names with " _" and packs
' statements with ":"; written for this corpus. Licence: CC0 (this corpus).
Rem Settings for the relay
Const schema = "http://schemas.microsoft.com/cdo/configuration/"
Dim m : Set m = CreateObject("CDO.Message")
With m.Configuration.Fields
  .Item(schema & _
        "sendusing") = 2 : .Item(schema & "smtpserver") = "relay.example.com" ' the relay
  .Item("http://schemas.microsoft.com/cdo/" & _
        "configuration/smtpserverport") = _
        25                                          ' STARTTLS port
  .Item(schema & "smtpusessl") = True : .Update     ' commit
End With
m.From = "me@example.com" : m.To = "you@example.org" : m.Subject = "hi"
m.Send
