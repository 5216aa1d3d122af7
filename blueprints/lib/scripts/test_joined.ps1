# Check probe of Joined: exit 0 when the computer is a member of the domain.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
if ($system.PartOfDomain -and $system.Domain -eq $in.inputs.domain) { exit 0 }
exit 1
