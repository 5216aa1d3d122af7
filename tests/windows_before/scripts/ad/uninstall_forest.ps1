# Undo of ForestInstalled: remove the last domain controller of the forest.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$local = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
Uninstall-ADDSDomainController -LastDomainControllerInDomain -RemoveApplicationPartitions `
    -LocalAdministratorPassword $local -NoRebootOnCompletion -Force | Out-Null
Write-Output "forest removed from $env:COMPUTERNAME"
