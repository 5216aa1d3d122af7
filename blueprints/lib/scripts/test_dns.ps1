# Check probe of DnsPointed: exit 0 when the first connected adapter asks that DNS server first.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$nic = Get-NetAdapter | Where-Object Status -eq 'Up' | Sort-Object ifIndex | Select-Object -First 1
if (-not $nic) { exit 1 }
$now = (Get-DnsClientServerAddress -InterfaceIndex $nic.ifIndex -AddressFamily IPv4).ServerAddresses
if (@($now)[0] -eq $in.inputs.dns_ip) { exit 0 }
exit 1
