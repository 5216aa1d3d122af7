# Undo of DomainJoined: leave the domain for a workgroup.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$user = "$($in.parameters.domain_name)\$($in.parameters.admin_user)"
$pass = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential($user, $pass)
Remove-Computer -UnjoinDomainCredential $cred -WorkgroupName WORKGROUP -Force
Write-Output "$env:COMPUTERNAME left the domain"
