# Undo of ServiceAccountAdded: remove the account again.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$name = $in.inputs.account
$user = Get-ADUser -Filter 'SamAccountName -eq $name'
if ($user) { Remove-ADUser -Identity $user -Confirm:$false }
Write-Output "account $name removed"
