# Check probe of AlwaysOnEnabled: exit 0 when the instance has AlwaysOn on.
$ErrorActionPreference = 'Stop'
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$on = (Invoke-Sqlcmd -ServerInstance . -Query "SELECT CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS hadr").hadr
if ($on -eq 1) { exit 0 }
exit 1
