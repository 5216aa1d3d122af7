# A secondary replica joins the group and lets automatic seeding create the database here;
# then waits until the database is synchronized (seeding copies it over the endpoints).
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$group, $db = [string]$in.inputs.group, [string]$in.inputs.database
foreach ($name in $group, $db) { if ($name -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $name" } }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
# joined or not, as the cluster knows it (sys.availability_groups lists a group only here)
$state = @"
SELECT COUNT(*) AS n FROM sys.dm_hadr_availability_replica_cluster_states s
JOIN sys.availability_groups_cluster g ON g.group_id = s.group_id
WHERE g.name = N'$group' AND s.replica_server_name = @@SERVERNAME AND s.join_state_desc <> 'NOT_JOINED'
"@
if ((Invoke-Sqlcmd -ServerInstance . -Query $state).n -eq 0) {
    Invoke-Sqlcmd -ServerInstance . -Query "ALTER AVAILABILITY GROUP [$group] JOIN"
}
Invoke-Sqlcmd -ServerInstance . -Query "ALTER AVAILABILITY GROUP [$group] GRANT CREATE ANY DATABASE"
$query = @"
SELECT COUNT(*) AS n FROM sys.dm_hadr_database_replica_states s
JOIN sys.databases d ON d.database_id = s.database_id
WHERE s.is_local = 1 AND d.name = N'$db' AND s.synchronization_state_desc = 'SYNCHRONIZED'
"@
$deadline = (Get-Date).AddSeconds([int]$in.inputs.seeding_timeout)
while ((Invoke-Sqlcmd -ServerInstance . -Query $query).n -lt 1) {
    if ((Get-Date) -gt $deadline) { throw "database $db was not seeded to $env:COMPUTERNAME in time (sys.dm_hadr_automatic_seeding tells why)" }
    Start-Sleep -Seconds 10
}
Write-Output "$env:COMPUTERNAME is a synchronized replica of $group"
