# Source: a public GitHub PowerShell backup script ("MailSender" region, function Send-Email),
# found through the code index (stored file id 54614233704; the index does not name the
# repository). Licence: not stated in the excerpt; quoted for testing. Abridged, messages removed.
function Send-Email {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory=$true)][string]$SmtpServer,
        [Parameter(Mandatory=$true)][string]$From,
        [Parameter(Mandatory=$true)][string]$To,
        [Parameter(Mandatory=$true)][string]$Subject,
        [Parameter(Mandatory=$true)][string]$Body,
        [Parameter(Mandatory=$false)][int]$Port = 25,
        [Parameter(Mandatory=$false)][bool]$UseSSL = $false,
        [Parameter(Mandatory=$false)][string]$Username = $null,
        [Parameter(Mandatory=$false)][string]$Password = $null,
        [Parameter(Mandatory=$false)][bool]$IsBodyHtml = $false
    )
    try {
        $msg = New-Object -ComObject CDO.Message
        $msg.From = $From
        $msg.To = $To
        $msg.Subject = $Subject
        if ($IsBodyHtml) {
            $msg.HTMLBody = $Body
        } else {
            $msg.TextBody = $Body
        }
        $config = $msg.Configuration
        $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = $SmtpServer
        $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = $Port
        $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2  # cdoSendUsingPort
        $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpconnectiontimeout") = 60
        if ($UseSSL) {
            $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = $true
        }
        if ($Username -and $Password) {
            $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 1  # basic auth
            $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendusername") = $Username
            $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = $Password
        } else {
            $config.Fields.Item("http://schemas.microsoft.com/cdo/configuration/smtpauthenticate") = 0  # anonymous
        }
        $config.Fields.Update()
        $msg.Send()
        return $true
    }
    catch {
        return $false
    }
    finally {
        if ($msg) { [System.Runtime.InteropServices.Marshal]::ReleaseComObject($msg) | Out-Null }
    }
}
