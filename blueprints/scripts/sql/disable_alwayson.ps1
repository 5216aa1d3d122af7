# Undo of AlwaysOnEnabled: turn AlwaysOn off again (restarts the SQL Server service).
$ErrorActionPreference = 'Stop'
if (-not (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue)) { exit 0 }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
Disable-SqlAlwaysOn -ServerInstance $env:COMPUTERNAME -Force
Write-Output "AlwaysOn disabled on $env:COMPUTERNAME"
