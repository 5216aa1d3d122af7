# Check probe of Renamed: exit 0 when the computer runs under its name already.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
if ($env:COMPUTERNAME -eq $in.inputs.hostname) { exit 0 }
exit 1
