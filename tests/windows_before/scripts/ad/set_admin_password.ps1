# Set the local Administrator password. Inputs arrive as data (MURANO_FLOW_PARAMS),
# never on a command line, so the password does not show up in process listings.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$secure = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
Set-LocalUser -Name $in.parameters.admin_user -Password $secure -PasswordNeverExpires $true
Write-Output "password of $($in.parameters.admin_user) set on $env:COMPUTERNAME"
