# The database the group protects, on the first node: created when missing, in the full
# recovery model, with a full backup (an availability database needs both). The backup
# goes to the instance's default backup folder.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$db = [string]$in.inputs.database
if ($db -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a database name: $db" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
IF DB_ID(N'$db') IS NULL CREATE DATABASE [$db];
ALTER DATABASE [$db] SET RECOVERY FULL;
BACKUP DATABASE [$db] TO DISK = N'$db-seed.bak' WITH INIT, FORMAT;
"@
Invoke-Sqlcmd -ServerInstance . -Query $query -QueryTimeout 3600
Write-Output "database $db in full recovery, backed up"
