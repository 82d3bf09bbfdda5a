<!--
    Source: https://github.com/marcobisschop/Memi4PS/blob/HEAD/test_email.asp
    Licence: see the repository (excerpt quoted for testing); addresses and IP replaced.
    METADATA TYPE="typelib" UUID="CD000000-8B95-11D1-82DB-00C04FB1625D" NAME="CDO for Windows 2000 Library"
-->
<%
    Set cdoConfig = CreateObject("CDO.Configuration")

    With cdoConfig.Fields
        .Item(cdoSendUsingMethod) = cdoSendUsingPort
        .Item(cdoSMTPServer) = "192.0.2.1"
        .Update
    End With

    Set cdoMessage = CreateObject("CDO.Message")

    With cdoMessage
        Set .Configuration = cdoConfig
        .From = "me@example.com"
        .To = "you@example.org"
        .Subject = "Sample CDO Message"
        .TextBody = "This is a test for CDO.message"
        .Send
    End With
    Set cdoMessage = Nothing
%>
<HTML><body>A message has been sent.</body></HTML>
