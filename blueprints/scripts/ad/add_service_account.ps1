# Create the domain account a service runs as (SQL Server's), if it does not exist yet:
# password never expires, the account cannot change it. Runs on the primary DC.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.account
if (Get-ADUser -Filter 'SamAccountName -eq $name') {
    Write-Output "account $name exists"
    exit 0
}
$secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
New-ADUser -Name $name -SamAccountName $name -AccountPassword $secure -Enabled $true `
    -PasswordNeverExpires $true -CannotChangePassword $true -Description 'murano-flow service account'
Write-Output "account $name created"
