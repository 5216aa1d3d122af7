# Undo of ClusterFormed (first node): destroy the cluster and its computer object in AD.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.cluster_name
if (Get-Cluster -Name $name -ErrorAction SilentlyContinue) {
    Remove-Cluster -Cluster $name -Force -CleanupAD
}
Write-Output "cluster $name removed"
