# Check probe of ClusterFormed: exit 0 when the cluster exists with every node in it.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
if (-not (Get-Cluster -Name $in.inputs.cluster_name -ErrorAction SilentlyContinue)) { exit 1 }
$members = @(Get-ClusterNode -Cluster $in.inputs.cluster_name | ForEach-Object { $_.Name })
foreach ($node in @($in.inputs.nodes)) { if ($members -notcontains $node) { exit 1 } }
exit 0
