# Undo of FirewallOpened: remove the rules this blueprint made (by their names).
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
foreach ($port in @($in.inputs.ports)) {
    Remove-NetFirewallRule -Name "murano-flow-sql-$port" -ErrorAction SilentlyContinue
}
Write-Output "rules for TCP $(@($in.inputs.ports) -join ', ') removed from $env:COMPUTERNAME"
