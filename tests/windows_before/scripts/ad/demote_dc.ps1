# Undo of Promoted: demote this additional domain controller.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$local = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
Uninstall-ADDSDomainController -LocalAdministratorPassword $local -NoRebootOnCompletion -Force |
    Out-Null
Write-Output "$env:COMPUTERNAME demoted"
