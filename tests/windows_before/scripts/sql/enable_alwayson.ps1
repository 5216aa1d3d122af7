# Step 7 (every node but the master): enable the AlwaysOn feature of the instance.
$ErrorActionPreference = 'Stop'
Import-Module SqlServer
Enable-SqlAlwaysOn -ServerInstance $env:COMPUTERNAME -Force
Write-Output "AlwaysOn enabled on $env:COMPUTERNAME"
