# Runs on a WinRM host in powershell.exe: the plan's envelope (JSON) arrives on stdin.
# Sent with -EncodedCommand by the winrm transport; keep it short (8,191-character limit).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$text = [Console]::In.ReadToEnd()
if ($PSVersionTable.PSVersion.Major -ge 6) {
    $envelope = ConvertFrom-Json -InputObject $text -AsHashtable
} else {
    # Windows PowerShell's ConvertFrom-Json refuses documents over 2 MB: no cap here
    Add-Type -AssemblyName System.Web.Extensions
    $reader = New-Object Web.Script.Serialization.JavaScriptSerializer
    $reader.MaxJsonLength = [int]::MaxValue
    $envelope = $reader.DeserializeObject($text)
}
$rundir = Join-Path ([IO.Path]::GetTempPath()) ('murano-flow-' + [guid]::NewGuid())
New-Item -ItemType Directory -Path $rundir | Out-Null
# With a BOM: Windows PowerShell reads a script or Get-Content's a file without one as ANSI
$utf8 = New-Object Text.UTF8Encoding $true
$code = 1
try {
    $script = Join-Path $rundir 'script.ps1'
    [IO.File]::WriteAllText($script, $envelope['body'], $utf8)
    $params = Join-Path $rundir 'params.json'
    [IO.File]::WriteAllText($params, (ConvertTo-Json -InputObject $envelope['params'] -Depth 64), $utf8)
    $output = Join-Path $rundir 'output.json'
    foreach ($var in $envelope['env'].GetEnumerator()) {
        [Environment]::SetEnvironmentVariable($var.Key, [string]$var.Value, 'Process')
    }
    $env:MURANO_FLOW_PARAMS = $params
    $env:MURANO_FLOW_OUTPUT = $output
    $argv = @($envelope['args'])
    $global:LASTEXITCODE = 0
    try {
        & $script @argv
        $code = if ($LASTEXITCODE) { $LASTEXITCODE } else { 0 }
    } catch {
        [Console]::Error.WriteLine(($_ | Out-String))
        $code = 1
    }
    if (Test-Path $output) {
        # ReadAllText drops a BOM (Set-Content -Encoding utf8 writes one in 5.1)
        $data = ([IO.File]::ReadAllText($output) -split "`r?`n") -join ' '
        [Console]::Out.WriteLine('')
        [Console]::Out.WriteLine($envelope['marker'] + $data)
    }
} finally {
    Remove-Item -Recurse -Force -LiteralPath $rundir -ErrorAction SilentlyContinue
}
exit $code
