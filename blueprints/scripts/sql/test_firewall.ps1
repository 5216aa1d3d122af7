# Check probe of FirewallOpened: exit 0 when every port has its rule.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
foreach ($port in @($in.inputs.ports)) {
    if (-not (Get-NetFirewallRule -Name "murano-flow-sql-$port" -ErrorAction SilentlyContinue)) { exit 1 }
}
exit 0
