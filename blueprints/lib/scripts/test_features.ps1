# Check probe of a features state: exit 0 when every feature is installed.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$missing = @(Get-WindowsFeature -Name ([string[]]@($in.inputs.features)) | Where-Object { -not $_.Installed })
if ($missing.Count -eq 0) { exit 0 }
Write-Output "not installed: $(($missing | ForEach-Object Name) -join ', ')"
exit 1
