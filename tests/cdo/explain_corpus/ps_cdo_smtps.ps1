# Modeled on PowerShell answers that drive CDO through COM (New-Object -ComObject CDO.Message)
# instead of Send-MailMessage; written for this corpus. Licence: CC0 (this corpus).
$schema = "http://schemas.microsoft.com/cdo/configuration/"
$msg = New-Object -ComObject CDO.Message
$msg.Configuration.Fields.Item("${schema}sendusing") = 2
$msg.Configuration.Fields.Item("$schema" + "smtpserver") = 'smtp.example.com'
$msg.Configuration.Fields.Item($schema + "smtpserverport").Value = 465
$msg.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $true   # SMTPS
<# credentials
   are optional #>
$msg.Configuration.Fields.Update()
$msg.From = "me@example.com"
$msg.To = "you@example.org"
$msg.Subject = "PowerShell CDO"
$msg.Send()
