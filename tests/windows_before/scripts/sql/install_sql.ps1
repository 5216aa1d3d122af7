# Step 6: unattended SQL Server setup; the engine reboots the node afterwards.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$setup = Join-Path $in.inputs.media 'setup.exe'
$arguments = @('/Q', '/ACTION=Install', '/FEATURES=SQLEngine', '/INSTANCENAME=MSSQLSERVER',
    "/PID=$($in.inputs.edition)", "/SQLSVCACCOUNT=$($in.parameters.domain_user)",
    "/SQLSVCPASSWORD=$($in.parameters.sql_service_password)",
    "/SQLSYSADMINACCOUNTS=$($in.parameters.domain_user)", '/IACCEPTSQLSERVERLICENSETERMS')
# Start-Process passes each argument as data; nothing here is evaluated by a shell.
$proc = Start-Process -FilePath $setup -ArgumentList $arguments -Wait -PassThru -NoNewWindow
if ($proc.ExitCode -ne 0) { throw "SQL Server setup failed with exit code $($proc.ExitCode)" }
Write-Output "SQL Server $($in.inputs.edition) installed on $env:COMPUTERNAME"
