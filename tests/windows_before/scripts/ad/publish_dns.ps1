# Publish the primary DC's IPv4 address: secondaries use it as their DNS server.
$ErrorActionPreference = 'Stop'
$ip = (Get-NetIPAddress -AddressFamily IPv4 -PrefixOrigin 'Manual', 'Dhcp' |
       Where-Object { $_.IPAddress -notlike '169.254.*' } | Select-Object -First 1).IPAddress
if (-not $ip) { throw 'no usable IPv4 address found' }
@{ dns_ip = $ip } | ConvertTo-Json | Set-Content -Encoding utf8 -LiteralPath $env:MURANO_FLOW_OUTPUT
Write-Output "DNS of the domain at $ip"
