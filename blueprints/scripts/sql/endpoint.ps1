# The database mirroring (HADR) endpoint every replica needs, started, with CONNECT granted
# to the service account the other replicas' instances run as (Windows authentication,
# AES). Names are checked here again before they go into T-SQL as identifiers.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$account, $port = [string]$in.inputs.service_account, [int]$in.inputs.port
if ($account -notmatch '^[A-Za-z0-9-]{1,15}\\[A-Za-z0-9._-]{1,20}$') { throw "not an account name: $account" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
IF NOT EXISTS (SELECT 1 FROM sys.database_mirroring_endpoints)
    CREATE ENDPOINT [Hadr_endpoint] AS TCP (LISTENER_PORT = $port)
    FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = WINDOWS NEGOTIATE, ENCRYPTION = REQUIRED ALGORITHM AES);
ALTER ENDPOINT [Hadr_endpoint] STATE = STARTED;
IF SUSER_ID(N'$account') IS NULL CREATE LOGIN [$account] FROM WINDOWS;
GRANT CONNECT ON ENDPOINT::[Hadr_endpoint] TO [$account];
"@
Invoke-Sqlcmd -ServerInstance . -Query $query
Write-Output "HADR endpoint on TCP $port of $env:COMPUTERNAME, CONNECT granted to $account"
