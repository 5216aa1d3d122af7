# Create the failover cluster over the nodes, by their computer names, with its static
# address and no shared storage; add a node the cluster lacks; set the file share witness if
# one is given. Runs on the first node as the domain account over CredSSP (New-Cluster
# reaches every node and AD with the caller's credentials: a second hop).
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.cluster_name
$nodes = [string[]]@($in.inputs.nodes)
$cluster = Get-Cluster -Name $name -ErrorAction SilentlyContinue
if (-not $cluster) {
    $cluster = New-Cluster -Name $name -Node $nodes -StaticAddress $in.inputs.cluster_ip -NoStorage
}
$members = @(Get-ClusterNode -Cluster $name | ForEach-Object { $_.Name })
foreach ($node in $nodes) {
    if ($members -notcontains $node) { Add-ClusterNode -Cluster $name -Name $node -NoStorage | Out-Null }
}
if ($in.inputs.witness_share) {
    Set-ClusterQuorum -Cluster $name -FileShareWitness $in.inputs.witness_share | Out-Null
}
Write-Output "cluster $name of $($nodes -join ', ') at $($in.inputs.cluster_ip)"
