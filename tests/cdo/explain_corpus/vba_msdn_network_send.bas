' Source: Microsoft Platform SDK, "CDO for Windows 2000: Sending or Posting Using the Network"
' https://library.thedatadungeon.com/msdn-2000-04/cdosys/html/_cdosys_sending_or_posting_using_the_network.content.htm
' Licence: Microsoft documentation sample (quoted for testing); the message part after the
' configuration is written for this corpus; host names replaced.
' Reference to Microsoft ActiveX Data Objects 2.5 Library
' Reference to Microsoft CDO for Windows 2000 Library
Dim iConf As New CDO.Configuration
Dim Flds  As ADODB.Fields
Set Flds  = iConf.Fields

' Set the configuration for Network Send
Flds(cdoSendUsingMethod)          = cdoSendUsingPort
Flds(cdoSMTPServer)               = "mail.example.com"
Flds(cdoSMTPServerPort)           = 25
Flds(cdoSMTPConnectionTimeout)    = 30
Flds(cdoSMTPAccountName)          = "My Name"
Flds(cdoSMTPAuthenticate)         = cdoBasic
Flds(cdoSendUserName)             = "domain\username"
Flds(cdoSendPassword)             = "S3cret-corpus"
Flds.Update

Dim iMsg As New CDO.Message
Set iMsg.Configuration = iConf
iMsg.To = "someone@example.org"
iMsg.From = "me@example.com"
iMsg.TextBody = "hello"
iMsg.Send
