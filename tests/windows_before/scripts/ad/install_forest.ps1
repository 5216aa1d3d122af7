# Install AD DS and create a new forest; the engine reboots the host afterwards.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
Install-WindowsFeature -Name 'AD-Domain-Services', 'DNS' -IncludeManagementTools | Out-Null
$dsrm = ConvertTo-SecureString -String $in.parameters.recovery_password -AsPlainText -Force
Install-ADDSForest -DomainName $in.inputs.domain_name -DomainNetbiosName $in.inputs.netbios_name `
    -SafeModeAdministratorPassword $dsrm -InstallDns -NoRebootOnCompletion -Force | Out-Null
Write-Output "forest $($in.inputs.domain_name) installed; reboot pending"
