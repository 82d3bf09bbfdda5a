' Source: Microsoft Exchange Server 2007 SDK, "Send Method" (IMessage), example
' https://learn.microsoft.com/en-us/previous-versions/office/developer/exchange-server-2007/aa565654(v=exchg.80)
' (the same example is in the CDO for Windows 2000 Platform SDK page "IMessage.Send").
' Licence: Microsoft documentation sample; quoted for interoperability testing, original
' (c) Microsoft Corporation. Unchanged apart from this header; the page's project references
' "Microsoft CDO ... Library" and "Microsoft ActiveX Data Objects 2.5 Library".
Dim iMsg As New CDO.Message
Dim iConf As New CDO.Configuration
Dim Flds As ADODB.Fields
Set Flds = iConf.Fields
Flds(cdoSendUsingMethod) = cdoSendUsingPort
Flds(cdoSMTPServer) = "server"
Flds.Update

With iMsg
 Set .Configuration = iConf
     .MimeFormatted = False
     .AutoGenerateTextBody = False
     .To = "WhoKnows@example.com"
     .Subject = "A short message"
     .TextBody = "Text of this short message."
     .Send
End With
