# Enable AlwaysOn availability groups on this node's instance (it must be a node of a
# failover cluster by now); the cmdlet restarts the SQL Server service.
$ErrorActionPreference = 'Stop'
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$on = (Invoke-Sqlcmd -ServerInstance . -Query "SELECT CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS hadr").hadr
if ($on -ne 1) { Enable-SqlAlwaysOn -ServerInstance $env:COMPUTERNAME -Force }
Write-Output "AlwaysOn enabled on $env:COMPUTERNAME"
