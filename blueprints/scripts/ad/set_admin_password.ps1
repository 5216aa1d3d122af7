# Set the local Administrator's password to the deployment's (the engine logged in with the
# image's initial one). Idempotent: nothing changes when the password already is the new one.
# Inputs arrive as data (MURANO_FLOW_PARAMS), never on a command line.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
Add-Type -AssemblyName System.DirectoryServices.AccountManagement
$machine = New-Object DirectoryServices.AccountManagement.PrincipalContext('Machine')
if ($machine.ValidateCredentials($in.inputs.user, $in.inputs.password)) {
    Write-Output "the password of $($in.inputs.user) on $env:COMPUTERNAME is already set"
    exit 0
}
$secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
Set-LocalUser -Name $in.inputs.user -Password $secure -PasswordNeverExpires $true
Write-Output "password of $($in.inputs.user) set on $env:COMPUTERNAME"
