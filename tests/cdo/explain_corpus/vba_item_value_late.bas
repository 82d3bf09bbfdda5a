' Modeled on Access/Excel VBA mailers using .Item(name).Value and an assignment added after
' .Update (ignored by CDO); written for this corpus. Licence: CC0 (this corpus).
Sub Mailer()
    Dim iMsg As Object, iConf As Object, Flds As Object
    Set iMsg = CreateObject("CDO.Message")
    Set iConf = CreateObject("CDO.Configuration")
    iConf.Load -1    ' CDO Source Defaults
    Set Flds = iConf.Fields
    With Flds
        .Item("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2
        .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = "smtp.example.com"
        .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = 465
        .Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl").Value = True
        .Update
        .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = 25
    End With
    With iMsg
        Set .Configuration = iConf
        .To = "you@example.org"
        .CC = ""
        .BCC = ""
        .From = """Me"" <me@example.com>"
        .Subject = "report"
        .HTMLBody = "<p>see attachment</p>"
        .Send
    End With
End Sub
