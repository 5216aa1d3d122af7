# Undo of EndpointReady: drop the HADR endpoint (the login stays: other grants may use it).
$ErrorActionPreference = 'Stop'
if (-not (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue)) { exit 0 }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
Invoke-Sqlcmd -ServerInstance . -Query "IF EXISTS (SELECT 1 FROM sys.endpoints WHERE name = N'Hadr_endpoint') DROP ENDPOINT [Hadr_endpoint]"
Write-Output "HADR endpoint dropped on $env:COMPUTERNAME"
