# Source: a public GitHub Python module (SendEmail through pywin32 and CDO), found through the
# code index (stored file id 38573845985; the index does not name the repository). Licence: not
# stated in the excerpt; quoted for testing. Server and addresses replaced with placeholders.
import os
import win32com.client
def SendEmail(emailAddressesTo,emailAddressesCC ,emailAddressesBCC, subject, body, files):
    iConf = win32com.client.Dispatch("CDO.Configuration")
    Flds = iConf.Fields
    Flds("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = "mail.example.com"
    Flds("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = 25
    Flds("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2 # cdoSendUsingPort
    # Authentication and stuff
    Flds('http://schemas.microsoft.com/cdo/configuration/smtpauthenticate').Value = 1 # No authentication
    # Flds('http://schemas.microsoft.com/cdo/configuration/smtpaccountname').Value = "user"
    Flds('http://schemas.microsoft.com/cdo/configuration/sendusername').Value = "robot@example.com"
    # Flds('http://schemas.microsoft.com/cdo/configuration/sendpassword').Value = "S3cret-corpus"
    Flds.Update()
    iMsg = win32com.client.Dispatch("CDO.Message")
    iMsg.Configuration = iConf
    iMsg.To = ";".join(emailAddressesTo)
    iMsg.CC = ";".join(emailAddressesCC)
    iMsg.BCC = ";".join(emailAddressesBCC)
    iMsg.From = "Robot<robot@example.com>"
    iMsg.Subject = subject
    iMsg.HTMLBody = body
    for file in files:
        print(file)
        iMsg.AddAttachment(file)
    return iMsg.Send()
