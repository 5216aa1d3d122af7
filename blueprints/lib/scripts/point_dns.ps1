# Point the first connected adapter's DNS client at a DNS server of the domain.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$dns = $in.inputs.dns_ip
$nic = Get-NetAdapter | Where-Object Status -eq 'Up' | Sort-Object ifIndex | Select-Object -First 1
if (-not $nic) { throw 'no network adapter is up' }
$now = (Get-DnsClientServerAddress -InterfaceIndex $nic.ifIndex -AddressFamily IPv4).ServerAddresses
if (@($now)[0] -ne $dns) {
    Set-DnsClientServerAddress -InterfaceIndex $nic.ifIndex -ServerAddresses $dns
    Clear-DnsClientCache
}
Write-Output "DNS of $($nic.Name) is $dns"
