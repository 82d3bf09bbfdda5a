; Modeled on https://github.com/YehudaEi/AutoIt-Attachment/blob/HEAD/Attachments/34K-35K/4000-5000/34459/mail.au3
; (the same UDF with every parameter required; the call passes global variables).
; Licence: see the repository (structure quoted for testing); abridged, credentials replaced.
$SmtpServer = "smtp.example.com"
$IPPort=465                          ; port used for sending the mail
$ssl=1                               ; enables/disables secure socket layer sending
$rc = _INetSmtpMailCom($SmtpServer, "me@example.com", "you@example.org", $IPPort, $ssl)

Func _INetSmtpMailCom($s_SmtpServer, $s_FromAddress, $s_ToAddress, $IPPort, $ssl)
    Local $objEmail = ObjCreate("CDO.Message")
    $objEmail.From = $s_FromAddress
    $objEmail.To = $s_ToAddress
    $objEmail.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
    $objEmail.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/smtpserver") = $s_SmtpServer
    $objEmail.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = $IPPort
    If $ssl Then
        $objEmail.Configuration.Fields.Item ("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = True
    EndIf
    $objEmail.Configuration.Fields.Update
    $objEmail.Send
EndFunc
