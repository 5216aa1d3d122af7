# Promote this domain member to an additional domain controller, with the domain account
# given as -Credential (no second hop: the credentials travel as data). Asks for the reboot
# a promotion needs only when this run promoted.
$ErrorActionPreference = 'Stop'
$in = Get-Content -Raw -LiteralPath $env:MURANO_FLOW_PARAMS | ConvertFrom-Json
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$reboot = $false
if ($system.DomainRole -lt 4) {
    $secure = ConvertTo-SecureString -String $in.inputs.password -AsPlainText -Force
    $account = New-Object System.Management.Automation.PSCredential($in.inputs.user, $secure)
    $dsrm = ConvertTo-SecureString -String $in.inputs.recovery_password -AsPlainText -Force
    Install-ADDSDomainController -DomainName $in.inputs.domain_name -Credential $account `
        -SafeModeAdministratorPassword $dsrm -InstallDns -NoRebootOnCompletion -Force | Out-Null
    $reboot = $true
}
$utf8 = New-Object Text.UTF8Encoding $false
[IO.File]::WriteAllText($env:MURANO_FLOW_OUTPUT, (ConvertTo-Json @{ reboot_required = $reboot }), $utf8)
Write-Output "$env:COMPUTERNAME is a domain controller of $($in.inputs.domain_name) (reboot needed: $reboot)"
