# The availability group, on the first node: every node a synchronous replica named by its
# computer name, its endpoint at its DNS name, automatic failover, automatic seeding (the
# secondaries get the database over the endpoints: no share, no second hop, SQL Server
# 2016 and later); a Basic availability group for Standard edition (two replicas, one
# database); then the listener on the user's address. Identifiers are checked here again.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$group, $db, $listener = [string]$in.inputs.group, [string]$in.inputs.database, [string]$in.inputs.listener_name
$domain, $port = [string]$in.inputs.domain, [int]$in.inputs.endpoint_port
$ip, $mask, $listenerPort = [string]$in.inputs.listener_ip, [string]$in.inputs.listener_mask, [int]$in.inputs.listener_port
foreach ($name in $group, $db) { if ($name -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $name" } }
$nodes = [string[]]@($in.inputs.nodes)
foreach ($name in @($nodes) + $listener) { if ($name -notmatch '^[A-Za-z0-9-]{1,15}$') { throw "not a computer name: $name" } }
if ($domain -notmatch '^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$') { throw "not a domain name: $domain" }
foreach ($address in $ip, $mask) { if (-not ($address -as [ipaddress])) { throw "not an IPv4 address: $address" } }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$exists = (Invoke-Sqlcmd -ServerInstance . -Query "SELECT COUNT(*) AS n FROM sys.availability_groups WHERE name = N'$group'").n
if ($exists -eq 0) {
    $replicas = foreach ($node in $nodes) {
        "N'$node' WITH (ENDPOINT_URL = N'TCP://$node.${domain}:$port', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, " +
        "FAILOVER_MODE = AUTOMATIC, SEEDING_MODE = AUTOMATIC)"
    }
    $options = if ($in.inputs.basic) { 'BASIC' } else { 'DB_FAILOVER = ON' }
    Invoke-Sqlcmd -ServerInstance . -QueryTimeout 600 -Query (
        "CREATE AVAILABILITY GROUP [$group] WITH ($options) FOR DATABASE [$db] REPLICA ON " + ($replicas -join ', '))
}
$listening = (Invoke-Sqlcmd -ServerInstance . -Query "SELECT COUNT(*) AS n FROM sys.availability_group_listeners WHERE dns_name = N'$listener'").n
if ($listening -eq 0) {
    Invoke-Sqlcmd -ServerInstance . -QueryTimeout 600 -Query (
        "ALTER AVAILABILITY GROUP [$group] ADD LISTENER N'$listener' (WITH IP ((N'$ip', N'$mask')), PORT = $listenerPort)")
}
Write-Output "availability group $group of $($nodes -join ', ') with listener $listener at ${ip}:$listenerPort"
