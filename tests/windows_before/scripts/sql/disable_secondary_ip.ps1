# Undo of step 2: remove the secondary IP again.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$ip = $in.parameters.secondary_ips[[int]$env:MURANO_FLOW_INDEX]
Remove-NetIPAddress -IPAddress $ip -Confirm:$false -ErrorAction SilentlyContinue
Write-Output "secondary IP $ip removed"
