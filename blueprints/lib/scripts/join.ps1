# Join the domain with the domain account (from the params file: never a command line),
# register in DNS, and ask for the reboot the join needs.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$domain = $in.inputs.domain
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if (-not ($system.PartOfDomain -and $system.Domain -eq $domain)) {
    $secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
    $account = New-Object System.Management.Automation.PSCredential($in.inputs.user, $secure)
    Add-Computer -DomainName $domain -Credential $account -Force
    $reboot = $true
}
ipconfig /registerdns | Out-Null
if ($LASTEXITCODE) { throw "ipconfig /registerdns failed with exit code $LASTEXITCODE" }
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "$env:COMPUTERNAME is a member of $domain (reboot needed: $reboot)"
