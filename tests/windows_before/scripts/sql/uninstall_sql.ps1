# Undo of step 6: uninstall the default SQL Server instance.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$setup = Join-Path $in.parameters.sql_media 'setup.exe'
$proc = Start-Process -FilePath $setup -Wait -PassThru -NoNewWindow `
    -ArgumentList @('/Q', '/ACTION=Uninstall', '/FEATURES=SQLEngine', '/INSTANCENAME=MSSQLSERVER')
if ($proc.ExitCode -ne 0) { throw "SQL Server uninstall failed with exit code $($proc.ExitCode)" }
