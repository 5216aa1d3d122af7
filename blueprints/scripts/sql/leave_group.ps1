# Undo of GroupJoined (a secondary): take the database out of the group here (SET HADR OFF,
# which a secondary may do), then drop the copy left restoring.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$db = [string]$in.inputs.database
if ($db -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $db" }
if (-not (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue)) { exit 0 }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
IF EXISTS (SELECT 1 FROM sys.databases WHERE name = N'$db' AND replica_id IS NOT NULL)
    ALTER DATABASE [$db] SET HADR OFF;
IF DB_ID(N'$db') IS NOT NULL DROP DATABASE [$db];
"@
Invoke-Sqlcmd -ServerInstance . -Query $query
Write-Output "$env:COMPUTERNAME holds no replica of $db"
