# Check probe of GroupJoined: exit 0 when the database is a synchronized replica here.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$db = [string]$in.inputs.database
if ($db -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $db" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
SELECT COUNT(*) AS n FROM sys.dm_hadr_database_replica_states s
JOIN sys.databases d ON d.database_id = s.database_id
WHERE s.is_local = 1 AND d.name = N'$db' AND s.synchronization_state_desc = 'SYNCHRONIZED'
"@
if ((Invoke-Sqlcmd -ServerInstance . -Query $query).n -ge 1) { exit 0 }
exit 1
