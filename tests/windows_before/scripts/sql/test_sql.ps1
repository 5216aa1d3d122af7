# Check probe of step 6: exit 0 when the default SQL Server instance is installed.
$ErrorActionPreference = 'Stop'
if (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue) { exit 0 }
exit 1
