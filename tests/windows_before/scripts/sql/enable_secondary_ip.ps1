# Step 2: add the secondary IP (SECONDARY_IP) to the node's first connected adapter.
$ErrorActionPreference = 'Stop'
$nic = Get-NetAdapter | Where-Object Status -eq 'Up' | Select-Object -First 1
$have = Get-NetIPAddress -InterfaceIndex $nic.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue
if ($have.IPAddress -notcontains $env:SECONDARY_IP) {
    $prefix = ($have | Select-Object -First 1).PrefixLength
    New-NetIPAddress -InterfaceIndex $nic.ifIndex -IPAddress $env:SECONDARY_IP -PrefixLength $prefix |
        Out-Null
}
Write-Output "secondary IP $env:SECONDARY_IP enabled on $($nic.Name)"
