# Check probe of GroupCreated: exit 0 when the group and its listener exist here.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$group, $listener = [string]$in.inputs.group, [string]$in.inputs.listener_name
if ($group -notmatch '^[A-Za-z0-9_]{1,64}$') { throw "not a SQL name: $group" }
if ($listener -notmatch '^[A-Za-z0-9-]{1,15}$') { throw "not a computer name: $listener" }
# SQLPS ships with SQL Server setup; an SqlServer module installed offline wins when present
if (Get-Module -ListAvailable -Name SqlServer) { Import-Module SqlServer } else { Import-Module SQLPS -DisableNameChecking }
Set-Location -LiteralPath "$env:SystemDrive\"
$query = @"
SELECT COUNT(*) AS ready FROM sys.availability_groups g
JOIN sys.availability_group_listeners l ON l.group_id = g.group_id
WHERE g.name = N'$group' AND l.dns_name = N'$listener'
"@
if ((Invoke-Sqlcmd -ServerInstance . -Query $query).ready -ge 1) { exit 0 }
exit 1
