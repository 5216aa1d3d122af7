# Undo of Promoted: demote this additional domain controller back to a member server, with
# the domain account (-Credential), the local Administrator getting the deployment's
# password; asks for the reboot a demotion needs before the computer may leave the domain.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if ($system.DomainRole -ge 4) {
    $secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
    $account = New-Object System.Management.Automation.PSCredential($in.inputs.user, $secure)
    $local = ConvertTo-SecureString -String $in.inputs.admin_password -AsPlainText -Force
    Uninstall-ADDSDomainController -Credential $account -LocalAdministratorPassword $local `
        -NoRebootOnCompletion -Force | Out-Null
    $reboot = $true
}
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "$env:COMPUTERNAME is no domain controller (reboot needed: $reboot)"
