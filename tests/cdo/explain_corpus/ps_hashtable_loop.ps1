# Source: a public GitHub PowerShell download-notifier script, found through the code index
# (stored file id 41987476190; the index does not name the repository). Licence: not stated in
# the excerpt; quoted for testing. Host, account and password replaced with placeholders.
$smtpServer = "smtp.example.com"
$smtpPort = 465
$smtpUser = "user"
$smtpPassword = "S3cret-corpus"
$from = "me@example.com"
$to = "you@example.org"
$email = New-Object -ComObject CDO.Message
$email.From = $from
$email.To = $to
$email.Subject = "DL done"
$email.TextBody = "body"
$schemaURI = "http://schemas.microsoft.com/cdo/configuration/"
$smtpSettings = @{
    "sendusing" = 2
    "smtpserver" = $smtpServer
    "smtpserverport" = $smtpPort
    "smtpauthenticate" = 1
    "sendusername" = $smtpUser
    "sendpassword" = $smtpPassword
    "smtpusessl" = $true
    "smtpconnectiontimeout" = 60
}
foreach ($key in $smtpSettings.Keys) {
    $email.Configuration.Fields.Item($schemaURI + $key) = $smtpSettings[$key]
}
$email.Configuration.Fields.Update()
try {
    $email.Send()
    Write-Host "Email sent successfully."
} catch {
    Write-Host "Failed to send email: $($_.Exception.Message)"
}
