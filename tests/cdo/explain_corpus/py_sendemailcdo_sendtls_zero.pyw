# Source: a public GitHub Python automation helpers module (function sendemailCDO, itself
# adapted from https://bytes.com/topic/python/answers/23091-send-email), found through the code
# index (stored file id 41070707660; the index does not name the repository).
# Licence: not stated in the file; quoted for interoperability testing, original (c) its
# author. Abridged to that function.
import os
import win32com.client
from email.utils import formataddr
from os.path import basename

#https://bytes.com/topic/python/answers/23091-send-email
def sendemailCDO(host, port, username, password, subject,from_addr,to_addr, html_output, images, attachments=[]):

    message = win32com.client.Dispatch("CDO.Message")
    configuration = win32com.client.Dispatch("CDO.Configuration")
    fields = configuration.Fields
    
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/SendUsing").Value = 2 # cdoSendUsingPort
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout").Value = 60
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = host
    
    if port:
        configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = port
    
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusername").Value = username 
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendpassword").Value = password 
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpaccountname").Value = username 
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl").Value = 0 
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendtls").Value = 0
    configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate").Value = 1
    
    if images:
        for image in images:
            objImage = message.AddRelatedBodyPart(os.path.abspath(image), basename(image), 0 )
            objImage.Fields("urn:schemas:mailheader:Content-ID").Value = "<{}>".format(basename(image))
            objImage.Fields.Update()
        
    configuration.Fields.Update()
    
    message.Configuration = configuration
    message.To = to_addr
    message.From = formataddr(("no-reply", from_addr)) #from_addr
    message.Subject = subject
    
    message.MimeFormatted=True
    message.HTMLBody = html_output

    message.Attachments.DeleteAll() 
    
    for f in attachments or []:
        message.AddAttachment(f)

    message.Send()
