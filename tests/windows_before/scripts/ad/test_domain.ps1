# Check probe: exit 0 when this machine already belongs to the requested domain.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
if ($system.PartOfDomain -and $system.Domain -eq $in.parameters.domain_name) {
    Write-Output "already a member of $($system.Domain)"
    exit 0
}
exit 1
