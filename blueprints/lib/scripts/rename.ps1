# Give the computer its name; ask for a reboot only when a rename is pending.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.hostname
# The name after the next boot (a rename already made waits there for the reboot)
$key = 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName'
$pending = (Get-ItemProperty -LiteralPath $key).ComputerName
if ($pending -ne $name) {
    Rename-Computer -NewName $name -Force
    $pending = $name
}
$reboot = $env:COMPUTERNAME -ne $pending
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "computer name: $name (reboot needed: $reboot)"
