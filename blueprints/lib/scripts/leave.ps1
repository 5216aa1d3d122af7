# Undo of Joined: leave the domain for a workgroup, then the reboot that takes effect.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if ($system.PartOfDomain) {
    $secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
    $account = New-Object System.Management.Automation.PSCredential($in.inputs.user, $secure)
    Remove-Computer -UnjoinDomainCredential $account -WorkgroupName 'WORKGROUP' -Force
    $reboot = $true
}
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "$env:COMPUTERNAME left its domain (reboot needed: $reboot)"
