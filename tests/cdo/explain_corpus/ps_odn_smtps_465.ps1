# Source: a public GitHub PowerShell script (a Japanese "send a test mail through CDO" sample),
# found through the code index (stored file id 42412622624; the index does not name the
# repository). Licence: not stated in the file; quoted for interoperability testing, original
# (c) its author. Server, account, password and addresses replaced with placeholders; the
# Japanese comments kept as found.
# SMTPサーバーの設定
$smtpServer = "smtps.example.jp"
$smtpPort = 465
$smtpUser = "user0001"
$smtpPassword = "S3cret-corpus"

# メールの内容
$from = "sender@example.jp"
$to = "rcpt@example.com"
$subject = "Test Email"
$body = "This is a test email."

# CDO.Message オブジェクトの作成
$email = New-Object -ComObject CDO.Message

# メールの内容設定
$email.From = $from
$email.To = $to
$email.Subject = $subject
$email.TextBody = $body

# SMTPサーバーの設定
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = $smtpServer
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = $smtpPort
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusername") = $smtpUser
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = $smtpPassword
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $true
$email.Configuration.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout") = 60
$email.Configuration.Fields.Update()

# メールの送信
try {
    $email.Send()
    Write-Host "Email sent successfully."
} catch {
    Write-Host "Failed to send email: $($_.Exception.Message)"
}
