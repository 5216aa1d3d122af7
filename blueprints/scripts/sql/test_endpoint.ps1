# Check probe of EndpointReady: exit 0 when the HADR endpoint is started on the port and
# the service account may connect to it.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$account, $port = [string]$in.inputs.service_account, [int]$in.inputs.port
if ($account -notmatch '^[A-Za-z0-9-]{1,15}\\[A-Za-z0-9._-]{1,20}$') { throw "not an account name: $account" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
SELECT COUNT(*) AS ready FROM sys.database_mirroring_endpoints e
JOIN sys.tcp_endpoints t ON t.endpoint_id = e.endpoint_id
JOIN sys.server_permissions p ON p.major_id = e.endpoint_id AND p.class = 105 AND p.permission_name = 'CONNECT'
WHERE e.state_desc = 'STARTED' AND t.port = $port AND p.grantee_principal_id = SUSER_ID(N'$account')
"@
if ((Invoke-Sqlcmd -ServerInstance . -Query $query).ready -ge 1) { exit 0 }
exit 1
