# Source: a public GitHub PowerShell monitor script (function Send-Mail; its settings come from
# a separate config.ps1), found through the code index (stored file id 62103422366; the index
# does not name the repository). Licence: not stated in the excerpt; quoted for testing.
function Send-Mail([string]$subject, [string]$body) {
  try {
    [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
    $msg = New-Object -ComObject CDO.Message
    $cfg = $msg.Configuration
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/sendusing') = 2
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/smtpserver') = $SmtpHost
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/smtpserverport') = $SmtpPort
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/smtpusessl') = $true
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/smtpauthenticate') = 1
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/sendusername') = $SmtpUser
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/sendpassword') = $SmtpPass
    $cfg.Fields.Item('http://schemas.microsoft.com/cdo/configuration/sendcharset') = 'utf-8'
    $cfg.Fields.Update()
    $msg.From = $MailFrom
    $msg.To = $MailTo
    $msg.Subject = $subject
    $msg.TextBody = $body
    $msg.Send()
    return $true
  } catch {
    return $false
  }
}
