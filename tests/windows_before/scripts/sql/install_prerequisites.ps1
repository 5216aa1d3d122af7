# Step 3: SQL Server prerequisites; the engine reboots the node afterwards.
$ErrorActionPreference = 'Stop'
Install-WindowsFeature -Name 'NET-Framework-45-Core', 'Failover-Clustering' -IncludeManagementTools |
    Out-Null
Write-Output "prerequisites installed on $env:COMPUTERNAME"
