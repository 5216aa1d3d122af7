# Step 4 (master only): create the Windows failover cluster over every node.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$nodes = @($in.inputs.nodes)
if (-not (Get-Cluster -Name $in.inputs.cluster_name -ErrorAction SilentlyContinue)) {
    New-Cluster -Name $in.inputs.cluster_name -Node $nodes -StaticAddress $in.inputs.cluster_ip `
        -NoStorage | Out-Null
}
Write-Output "cluster $($in.inputs.cluster_name) with $($nodes.Count) nodes"
