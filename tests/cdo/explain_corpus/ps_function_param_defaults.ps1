# Modeled on reusable "Send-CdoMail" functions posted in PowerShell galleries (param block with
# defaults and a [switch]); written for this corpus. Licence: CC0 (this corpus).
function Send-CdoMail {
    param(
        [Parameter(Mandatory=$true)][string]$To,
        [string]$Server = "smtp.example.com",
        [int]$Port = 25,
        [switch]$UseSsl
    )
    $msg = New-Object -ComObject CDO.Message
    $fields = $msg.Configuration.Fields
    $fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2
    $fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = $Server
    $fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = $Port
    if ($UseSsl) {
        $fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $true
    }
    $fields.Update()
    $msg.From = "ops@example.com"
    $msg.To = $To
    $msg.Send()
}
Send-CdoMail -To "you@example.org"
