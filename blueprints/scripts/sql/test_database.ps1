# Check probe of DatabaseReady: exit 0 when the database exists, in full recovery, with a
# full backup on record.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$db = [string]$in.inputs.database
if ($db -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a database name: $db" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
SELECT COUNT(*) AS ready FROM sys.databases d
WHERE d.name = N'$db' AND d.recovery_model_desc = 'FULL'
  AND EXISTS (SELECT 1 FROM msdb.dbo.backupset b WHERE b.database_name = d.name AND b.type = 'D')
"@
if ((Invoke-Sqlcmd -ServerInstance . -Query $query).ready -ge 1) { exit 0 }
exit 1
