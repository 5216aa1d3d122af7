# Undo of ForestInstalled: demote the last domain controller, which removes the forest; the
# local Administrator gets the deployment's password back; the reboot is asked for.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if ($system.DomainRole -ge 4) {
    $local = ConvertTo-SecureString -String $in.inputs.admin_password -AsPlainText -Force
    Uninstall-ADDSDomainController -LastDomainControllerInDomain -RemoveApplicationPartitions `
        -LocalAdministratorPassword $local -NoRebootOnCompletion -Force | Out-Null
    $reboot = $true
}
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "no forest left on $env:COMPUTERNAME (reboot needed: $reboot)"
