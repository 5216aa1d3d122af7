"""Ready-to-use user-data that installs and starts a guest agent on a new VM.

Two flavours: a cloud-init ``#cloud-config`` for Linux (a systemd service) and a
PowerShell bootstrap for Windows (cloudbase-init / EC2Launch ``<powershell>`` user-data).
The agent config — its key included — is embedded: treat the user-data as a secret.
"""

from __future__ import annotations

import base64
import json

#: Where the agent keeps its files on the VM.
LINUX_HOME, WINDOWS_HOME = "/var/lib/murano-flow-agent", r"C:\ProgramData\murano-flow-agent"

_UNIT = """\
[Unit]
Description=murano-flow guest agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/opt/murano-flow-agent/bin/murano-flow-agent --config {home}/agent.json
Restart=always
RestartSec=2
# Plans run under their own supervisor: a restart of the agent must not kill them.
KillMode=process

[Install]
WantedBy=multi-user.target
"""


def cloud_init(config_json: str, package: str) -> str:
    """A #cloud-config that installs the agent in a venv and runs it as a systemd service."""
    files = [
        {"path": f"{LINUX_HOME}/agent.json", "permissions": "0600",
         "encoding": "b64", "content": base64.b64encode(config_json.encode()).decode()},
        {"path": "/etc/systemd/system/murano-flow-agent.service", "permissions": "0644",
         "content": _UNIT.format(home=LINUX_HOME)},
    ]
    doc = {
        "write_files": files,
        "runcmd": [
            ["chmod", "0700", LINUX_HOME],
            ["python3", "-m", "venv", "/opt/murano-flow-agent"],
            ["/opt/murano-flow-agent/bin/pip", "install", "--quiet", package],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "murano-flow-agent.service"],
        ],
    }
    # JSON is valid YAML; cloud-init reads it after the #cloud-config line.
    return "#cloud-config\n" + json.dumps(doc, indent=2) + "\n"


def powershell(config_json: str, package: str) -> str:
    """A <powershell> bootstrap: Python venv, the agent, a boot-time task that keeps it up."""
    config_b64 = base64.b64encode(config_json.encode()).decode()
    return f"""<powershell>
$ErrorActionPreference = 'Stop'
$home_ = '{WINDOWS_HOME}'
New-Item -ItemType Directory -Force -Path $home_ | Out-Null
# Only SYSTEM and Administrators may read the agent's key.
icacls $home_ /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE) {{ throw "icacls failed with exit code $LASTEXITCODE" }}
[IO.File]::WriteAllBytes("$home_\\agent.json", [Convert]::FromBase64String('{config_b64}'))
py -3 -m venv "$home_\\venv"
if ($LASTEXITCODE) {{ throw "creating the venv failed with exit code $LASTEXITCODE" }}
& "$home_\\venv\\Scripts\\pip.exe" install --quiet '{package}'
if ($LASTEXITCODE) {{ throw "installing the agent failed with exit code $LASTEXITCODE" }}
$action = New-ScheduledTaskAction -Execute "$home_\\venv\\Scripts\\murano-flow-agent.exe" `
    -Argument "--config `"$home_\\agent.json`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 `
    -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero) `
    -StartWhenAvailable
Register-ScheduledTask -TaskName 'murano-flow-agent' -Action $action -Trigger $trigger `
    -Settings $settings -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
Start-ScheduledTask -TaskName 'murano-flow-agent'
</powershell>
"""
