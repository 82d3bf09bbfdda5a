' Modeled on the VBA report mailers quoted in issue 11 ("a function whose defaults send
' plaintext": port and smtpusessl come from Optional parameters); written for this corpus.
' Licence: CC0 (this corpus).
Public Function SendReport(ByVal recipient As String, _
                           Optional ByVal server As String = "smtp.example.com", _
                           Optional ByVal port As Long = 25, _
                           Optional ByVal useSsl As Boolean = False) As Boolean
    Dim msg As Object, cfg As Object
    Set msg = CreateObject("CDO.Message")
    Set cfg = CreateObject("CDO.Configuration")
    With cfg.Fields
        .Item(cdoSendUsingMethod) = cdoSendUsingPort
        .Item(cdoSMTPServer) = server
        .Item(cdoSMTPServerPort) = port         ' 25 unless the caller says otherwise
        .Item(cdoSMTPUseSSL) = useSsl           ' "secure" only when asked
        .Update
    End With
    Set msg.Configuration = cfg
    msg.From = "reports@example.com"
    msg.To = recipient
    msg.Subject = "Daily report"
    msg.Send
    SendReport = True
End Function
