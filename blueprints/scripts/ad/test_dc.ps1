# Check probe of ForestInstalled and Promoted: exit 0 when this computer is a domain
# controller (DomainRole 4 or 5) of the requested domain.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
if ($system.DomainRole -ge 4 -and $system.Domain -eq $in.inputs.domain_name) {
    Write-Output "$env:COMPUTERNAME is a domain controller of $($system.Domain)"
    exit 0
}
exit 1
