# Step 9 (every node but the master): join the availability group and its database.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
Import-Module SqlServer
$path = "SQLSERVER:\SQL\$env:COMPUTERNAME\DEFAULT"
Join-SqlAvailabilityGroup -Path $path -Name $in.inputs.group
Add-SqlAvailabilityDatabase -Path "$path\AvailabilityGroups\$($in.inputs.group)" `
    -Database $in.inputs.database
Write-Output "$env:COMPUTERNAME joined $($in.inputs.group)"
