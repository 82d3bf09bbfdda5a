'***********************************************************************************
' Source: CDOSYS_Send_Email.vbs by Jason Fossen (www.ISAscripts.org), 2005, as stored in a
' public GitHub repository (found through the code search corpus).
' Licence: "Public Domain. Modify and redistribute freely. No rights reserved." (from the
' script's header). Abridged; server and addresses replaced with placeholders.
'***********************************************************************************
bFlag = CDOSYS_Send_Email("smtp.example.net",False,"","","to@example.org","","","from@example.com","My Subject","My body text here.","")

Function CDOSYS_Send_Email(sSmtpServer,bUseSSL,sUsername,sPassword,sTo,sCC,sBCC,sFrom,sSubject,sBody,sAttach)
    On Error Resume Next
    'These weird constants do NOT cause any communications with schemas.microsoft.com.
    Const cdoSendUsingMethod =        "http://schemas.microsoft.com/cdo/configuration/sendusing"
    Const cdoSMTPServer =             "http://schemas.microsoft.com/cdo/configuration/smtpserver"
    Const cdoSMTPServerPort =         "http://schemas.microsoft.com/cdo/configuration/smtpserverport"
    Const cdoSMTPUseSSL =             "http://schemas.microsoft.com/cdo/configuration/smtpusessl"
    Const cdoSMTPConnectionTimeout =  "http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout"
    Const cdoSMTPAuthenticate =       "http://schemas.microsoft.com/cdo/configuration/smtpauthenticate"
    Const cdoSendUserName =           "http://schemas.microsoft.com/cdo/configuration/sendusername"
    Const cdoSendPassword =           "http://schemas.microsoft.com/cdo/configuration/sendpassword"
    Const cdoSendUsingPickup =        1    'Use the local IIS-SMTP service for delivery.
    Const cdoSendUsingPort =          2    'Use a remote SMTP server for delivery.

    Set oMessage = WScript.CreateObject("CDO.Message")
    Set oConfiguration = WScript.CreateObject("CDO.Configuration")
    Set cFields = oConfiguration.Fields

    cFields.Item(cdoSendUsingMethod) = cdoSendUsingPort     'Send to remote SMTP server (2)
    cFields.Item(cdoSMTPServer) = sSmtpServer               'IP address or DNS name
    cFields.Item(cdoSMTPConnectionTimeout) = 30             'Timeout in seconds

    If bUseSSL = True Then
        cFields.Item(cdoSMTPUseSSL) = True                  'Will use SSL for SMTPS.
        cFields.Item(cdoSMTPServerPort) = 465               'Default TCP port for SMTPS is 465.
    Else
        cFields.Item(cdoSMTPUseSSL) = False                 'Will not use SSL.
        cFields.Item(cdoSMTPServerPort) = 25                'Cleartext SMTP.
    End If

    If LCase(sUsername) = "ntlm" Then
        cFields.Item(cdoSMTPAuthenticate) = 2
    ElseIf sUsername <> "" Then
        cFields.Item(cdoSMTPAuthenticate) = 1
        cFields.Item(cdoSendUserName) = sUsername
        cFields.Item(cdoSendPassword) = sPassword
    Else
        cFields.Item(cdoSMTPAuthenticate) = 0
    End If

    cFields.Update                                          'Save data so far.
    Set oMessage.Configuration = oConfiguration

    oMessage.To = sTo
    oMessage.CC = sCC
    oMessage.BCC = sBCC
    oMessage.From = sFrom
    oMessage.Subject = sSubject
    oMessage.TextBody = sBody
    oMessage.Send
End Function
