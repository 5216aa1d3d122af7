# Install Windows features (with their management tools); ask for a reboot only when
# Windows says one is needed (RestartNeeded), so a second run of an installed set reboots nothing.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$features = [string[]]@($in.inputs.features)
$result = Install-WindowsFeature -Name $features -IncludeManagementTools
if (-not $result.Success) { throw "Install-WindowsFeature $($features -join ', ') failed: $($result.ExitCode)" }
$reboot = [string]$result.RestartNeeded -eq 'Yes'
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "features $($features -join ', ') installed on $env:COMPUTERNAME (reboot needed: $reboot)"
