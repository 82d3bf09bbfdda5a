# Modeled on small pywin32 helper functions (keyword defaults for port and ssl); written for
# this corpus. Licence: CC0 (this corpus).
from win32com.client import Dispatch


def send_mail(to, subject, body, host="smtp.example.com", port=587, ssl=True):
    msg = Dispatch("CDO.Message")
    fields = msg.Configuration.Fields
    fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing").Value = 2
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver").Value = host
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport").Value = port
    fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl").Value = ssl
    fields.Update()
    msg.From = "me@example.com"
    msg.To = to
    msg.Subject = subject
    msg.TextBody = body
    msg.Send()
