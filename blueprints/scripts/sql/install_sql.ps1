# Unattended SQL Server setup from a configuration file (Microsoft's ConfigurationFile.ini
# format): the passwords and the product key go into that file in a directory only
# Administrators and SYSTEM can read, removed when setup ends, and never onto a command
# line. Exit code 3010 is success with a reboot needed. Runs as the domain account over
# CredSSP: setup protects secrets with DPAPI and may read its media from a share.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
if (Get-Service -Name MSSQLSERVER -ErrorAction SilentlyContinue) {
    Write-Output "SQL Server is already installed on $env:COMPUTERNAME"
    exit 0
}
$quote = { param($value) '"' + ([string]$value).Replace('"', '""') + '"' }
$lines = @('[OPTIONS]', 'ACTION="Install"', 'FEATURES=SQLENGINE', 'INSTANCENAME="MSSQLSERVER"',
    'QUIET="True"', 'IACCEPTSQLSERVERLICENSETERMS="True"', 'UPDATEENABLED="False"',
    'TCPENABLED="1"', 'SQLSVCSTARTUPTYPE="Automatic"',
    "SQLSVCACCOUNT=$(& $quote $in.inputs.service_account)",
    "SQLSVCPASSWORD=$(& $quote $in.inputs.service_password)",
    "SQLSYSADMINACCOUNTS=$(& $quote $in.inputs.sysadmin)")
if ($in.inputs.product_key) { $lines += "PID=$(& $quote $in.inputs.product_key)" }
$dir = Join-Path $env:ProgramData ('murano-flow-setup-' + [guid]::NewGuid())
$acl = New-Object Security.AccessControl.DirectorySecurity
$acl.SetAccessRuleProtection($true, $false)
foreach ($who in 'BUILTIN\Administrators', 'NT AUTHORITY\SYSTEM') {
    $acl.AddAccessRule((New-Object Security.AccessControl.FileSystemAccessRule($who, 'FullControl',
        'ContainerInherit, ObjectInherit', 'None', 'Allow')))
}
New-Item -ItemType Directory -Path $dir | Out-Null
Set-Acl -LiteralPath $dir -AclObject $acl
$ini = Join-Path $dir 'ConfigurationFile.ini'
try {
    [IO.File]::WriteAllLines($ini, [string[]]$lines, (New-Object Text.UnicodeEncoding $false, $true))
    $setup = Join-Path $in.inputs.media 'setup.exe'
    $proc = Start-Process -FilePath $setup -ArgumentList @("/ConfigurationFile=`"$ini`"") `
        -Wait -PassThru -NoNewWindow
    $code = $proc.ExitCode
} finally {
    Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
}
if ($code -ne 0 -and $code -ne 3010) { throw "SQL Server setup failed with exit code $code (see its Summary.txt)" }
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = ($code -eq 3010) }), $utf8)
Write-Output "SQL Server installed on $env:COMPUTERNAME (setup exit code $code)"
