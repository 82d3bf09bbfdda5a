# Source: a public GitHub Python monitor script (send_cdo_msg through pywin32 and CDO), found
# through the code index (stored file id 13834537676; the index does not name the repository).
# Licence: not stated in the file; quoted for interoperability testing, original (c) its
# author. Abridged to the mail function; the corporate host and the addresses
# in the commented-out lines replaced with placeholders.
import win32com.client
import json
import os


def send_cdo_msg(recipients, subject, body, sent_from):
    conf = win32com.client.Dispatch("CDO.Configuration")
    flds = conf.Fields
    flds("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = "smtp.example.net"
    flds("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = 25
    flds("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2  # cdoSendUsingPort
    # Authentication and stuff
    flds('http://schemas.microsoft.com/cdo/configuration/smtpauthenticate').Value = 0  # No authentication
    # The following fields are only used if the previous authentication value is set to 1 or 2
    # flds('http://schemas.microsoft.com/cdo/configuration/smtpaccountname').Value = "user"
    # flds('http://schemas.microsoft.com/cdo/configuration/sendusername').Value = "someone@example.com"
    flds('http://schemas.microsoft.com/cdo/configuration/smtpusessl').Value = False
    # flds('http://schemas.microsoft.com/cdo/configuration/sendpassword').Value = "password"
    flds.Update()
    msg = win32com.client.Dispatch("CDO.Message")
    msg.Configuration = conf
    msg.To = recipients
    msg.From = sent_from
    msg.Subject = subject
    msg.TextBody = body
    msg.Send()
