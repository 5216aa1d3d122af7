# Promote this domain member to an additional domain controller.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
Install-WindowsFeature -Name 'AD-Domain-Services', 'DNS' -IncludeManagementTools | Out-Null
$user = "$($in.inputs.domain_name)\$($in.parameters.admin_user)"
$pass = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential($user, $pass)
$dsrm = ConvertTo-SecureString -String $in.parameters.recovery_password -AsPlainText -Force
Install-ADDSDomainController -DomainName $in.inputs.domain_name -Credential $cred `
    -SafeModeAdministratorPassword $dsrm -InstallDns -NoRebootOnCompletion -Force | Out-Null
Write-Output "$env:COMPUTERNAME promoted; reboot pending"
