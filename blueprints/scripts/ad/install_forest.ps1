# Create the forest (the AD DS and DNS features are a state before this one). The promotion
# always needs a reboot; it is asked for only when this run promoted.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if ($system.DomainRole -lt 4) {
    $dsrm = ConvertTo-SecureString -String $in.inputs.recovery_password -AsPlainText -Force
    Install-ADDSForest -DomainName $in.inputs.domain_name -DomainNetbiosName $in.inputs.netbios_name `
        -SafeModeAdministratorPassword $dsrm -InstallDns -NoRebootOnCompletion -Force | Out-Null
    $reboot = $true
}
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "forest $($in.inputs.domain_name) on $env:COMPUTERNAME (reboot needed: $reboot)"
