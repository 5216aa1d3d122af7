# Runs on a WinRM host in powershell.exe: the plan's envelope (JSON) arrives on stdin.
# Sent with -EncodedCommand by the winrm transport; keep it short (8,191-character limit).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$envelope = [Console]::In.ReadToEnd() | ConvertFrom-Json
$rundir = Join-Path ([IO.Path]::GetTempPath()) ('murano-flow-' + [guid]::NewGuid())
New-Item -ItemType Directory -Path $rundir | Out-Null
$utf8 = New-Object Text.UTF8Encoding $false
$code = 1
try {
    $script = Join-Path $rundir 'script.ps1'
    [IO.File]::WriteAllText($script, $envelope.body, $utf8)
    $params = Join-Path $rundir 'params.json'
    [IO.File]::WriteAllText($params, ($envelope.params | ConvertTo-Json -Depth 64), $utf8)
    $output = Join-Path $rundir 'output.json'
    foreach ($var in $envelope.env.PSObject.Properties) {
        [Environment]::SetEnvironmentVariable($var.Name, [string]$var.Value, 'Process')
    }
    $env:MURANO_FLOW_PARAMS = $params
    $env:MURANO_FLOW_OUTPUT = $output
    $global:LASTEXITCODE = 0
    try {
        & $script @($envelope.args)
        $code = if ($LASTEXITCODE) { $LASTEXITCODE } else { 0 }
    } catch {
        [Console]::Error.WriteLine(($_ | Out-String))
        $code = 1
    }
    if (Test-Path $output) {
        $data = ([IO.File]::ReadAllText($output) -split "`r?`n") -join ' '
        [Console]::Out.WriteLine('')
        [Console]::Out.WriteLine($envelope.marker + $data)
    }
} finally {
    Remove-Item -Recurse -Force -LiteralPath $rundir -ErrorAction SilentlyContinue
}
exit $code
