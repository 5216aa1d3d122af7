# Wait until the new domain answers (AD Web Services start minutes after the boot), then
# publish the primary DC's IPv4 address: members use it as their DNS server.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$deadline = (Get-Date).AddMinutes(15)
while ($true) {
    try {
        $domain = Get-ADDomain -Identity $in.inputs.domain_name
        break
    } catch {
        if ((Get-Date) -gt $deadline) { throw "domain $($in.inputs.domain_name) does not answer: $_" }
        Start-Sleep -Seconds 15
    }
}
$ip = (Get-NetIPAddress -AddressFamily IPv4 -PrefixOrigin 'Manual', 'Dhcp' |
       Where-Object { $_.IPAddress -notlike '169.254.*' } | Select-Object -First 1).IPAddress
if (-not $ip) { throw 'no usable IPv4 address found' }
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ dns_ip = $ip }), $utf8)
Write-Output "DNS of $($domain.DNSRoot) at $ip"
