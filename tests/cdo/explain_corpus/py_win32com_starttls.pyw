# Modeled on pywin32 answers that use CDO instead of smtplib (win32com.client.Dispatch
# ("CDO.Message")); written for this corpus. Licence: CC0 (this corpus).
import win32com.client

SCHEMA = "http://schemas.microsoft.com/cdo/configuration/"

msg = win32com.client.Dispatch("CDO.Message")
conf = msg.Configuration
conf.Fields(SCHEMA + "sendusing").Value = 2
conf.Fields(SCHEMA + "smtpserver").Value = "smtp.example.com"
conf.Fields(SCHEMA + "smtpserverport").Value = 25  # STARTTLS port
conf.Fields(SCHEMA + "smtpusessl").Value = True
conf.Fields.Update()
msg.From = "me@example.com"
msg.To = "you@example.org"
msg.Subject = "from Python"
msg.TextBody = "hello"
msg.Send()
