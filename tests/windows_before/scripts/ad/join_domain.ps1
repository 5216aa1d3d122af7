# Point DNS at the primary DC (DNS_IP) and join the domain; the engine reboots afterwards.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$nic = Get-NetAdapter | Where-Object Status -eq 'Up' | Select-Object -First 1
Set-DnsClientServerAddress -InterfaceIndex $nic.ifIndex -ServerAddresses $env:DNS_IP
$user = "$($in.inputs.domain_name)\$($in.parameters.admin_user)"
$pass = ConvertTo-SecureString -String $in.parameters.admin_password -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential($user, $pass)
Add-Computer -DomainName $in.inputs.domain_name -Credential $cred -Force
Write-Output "$env:COMPUTERNAME joined $($in.inputs.domain_name); reboot pending"
