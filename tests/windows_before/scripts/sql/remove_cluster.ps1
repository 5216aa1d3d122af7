# Undo of step 4 (master only): destroy the failover cluster.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
if ([int]$env:MURANO_FLOW_INDEX -ne 0) { exit 0 }
Remove-Cluster -Name $in.parameters.cluster_name -Force -CleanupAD
Write-Output "cluster $($in.parameters.cluster_name) removed"
