# Step 5: record which node is the master (MASTER) where SQL setup and the AG scripts read it.
$ErrorActionPreference = 'Stop'
$key = 'HKLM:\SOFTWARE\MuranoFlow\SqlAlwaysOn'
New-Item -Path $key -Force | Out-Null
Set-ItemProperty -Path $key -Name Master -Value $env:MASTER
Write-Output "$env:COMPUTERNAME knows the master: $env:MASTER"
