# Check probe of ServiceAccountAdded: exit 0 when the account exists.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.account
if (Get-ADUser -Filter 'SamAccountName -eq $name') { exit 0 }
exit 1
