# Undo of GroupCreated (first node): drop the availability group, and with it its listener;
# the database stays on this node, as a plain database.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$group = [string]$in.inputs.group
if ($group -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $group" }
if (-not (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue)) { exit 0 }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
Invoke-Sqlcmd -ServerInstance . -Query "IF EXISTS (SELECT 1 FROM sys.availability_groups WHERE name = N'$group') DROP AVAILABILITY GROUP [$group]"
Write-Output "availability group $group dropped"
