# Modeled on PowerShell scripts reading settings from a CSV/JSON file where every value is a
# string; written for this corpus. Licence: CC0 (this corpus).
$port = "25"
$ssl = "true"
$cdo = New-Object -ComObject "CDO.Message"
$cdo.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = "2"
$cdo.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtp.example.com"
$cdo.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = $port
$cdo.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $ssl
$cdo.Configuration.Fields.Update()
$cdo.From = "me@example.com"; $cdo.To = "you@example.org"
$cdo.Send()
