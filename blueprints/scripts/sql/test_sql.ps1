# Check probe of SqlInstalled: exit 0 when the default instance is installed and running.
$ErrorActionPreference = 'Stop'
$service = Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue
if ($service -and $service.Status -eq 'Running') { exit 0 }
exit 1
