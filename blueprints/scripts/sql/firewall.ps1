# Open the ports SQL Server AlwaysOn needs (the failover clustering feature opens its own):
# the instance (1433), the HADR endpoint (5022) and the listener's port, inbound, domain
# profile. One rule per port, named so that a second run finds it.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
foreach ($port in @($in.inputs.ports | Sort-Object -Unique)) {
    $name = "murano-flow-sql-$port"
    if (-not (Get-NetFirewallRule -Name $name -ErrorAction SilentlyContinue)) {
        New-NetFirewallRule -Name $name -DisplayName "SQL Server AlwaysOn TCP $port" `
            -Direction Inbound -Protocol TCP -LocalPort ([int]$port) -Action Allow -Profile Domain | Out-Null
    }
}
Write-Output "TCP $(@($in.inputs.ports) -join ', ') open on $env:COMPUTERNAME"
