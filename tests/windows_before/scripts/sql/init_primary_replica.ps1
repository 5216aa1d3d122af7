# Step 8 (master): enable AlwaysOn here too, create the database and the availability group.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
Import-Module SqlServer
Enable-SqlAlwaysOn -ServerInstance $env:COMPUTERNAME -Force
$db = $in.inputs.database
Invoke-Sqlcmd -ServerInstance $env:COMPUTERNAME -Variable "db=$db" -Query `
    'IF DB_ID(''$(db)'') IS NULL EXEC(''CREATE DATABASE ['' + ''$(db)'' + '']'')'
$replicas = foreach ($node in $in.inputs.replicas) {
    New-SqlAvailabilityReplica -Name $node -EndpointUrl "TCP://${node}:5022" -AsTemplate `
        -AvailabilityMode SynchronousCommit -FailoverMode Automatic -Version 16
}
New-SqlAvailabilityGroup -Name $in.inputs.group -Path "SQLSERVER:\SQL\$env:COMPUTERNAME\DEFAULT" `
    -AvailabilityReplica $replicas -Database $db | Out-Null
Write-Output "primary replica of $($in.inputs.group) initialised"
