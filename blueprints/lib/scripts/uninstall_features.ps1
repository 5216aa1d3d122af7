# Undo of a features state: remove the features again, rebooting only when Windows asks.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$features = [string[]]@($in.inputs.features)
$result = Uninstall-WindowsFeature -Name $features
if (-not $result.Success) { throw "Uninstall-WindowsFeature $($features -join ', ') failed: $($result.ExitCode)" }
$reboot = [string]$result.RestartNeeded -eq 'Yes'
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "features $($features -join ', ') removed from $env:COMPUTERNAME (reboot needed: $reboot)"
