# Undo of SqlInstalled: uninstall the default instance (its data files stay, as Microsoft's
# uninstall leaves them); 3010 is success with a reboot needed.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$code = 0
if (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue) {
    $setup = Join-Path $in.inputs.media 'setup.exe'
    $proc = Start-Process -FilePath $setup -Wait -PassThru -NoNewWindow -ArgumentList @('/Q',
        '/ACTION=Uninstall', '/FEATURES=SQLENGINE', '/INSTANCENAME=MSSQLSERVER')
    $code = $proc.ExitCode
}
if ($code -ne 0 -and $code -ne 3010) { throw "SQL Server uninstall failed with exit code $code" }
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = ($code -eq 3010) }), $utf8)
Write-Output "no SQL Server instance left on $env:COMPUTERNAME"
