"""Ready-to-use user-data that installs and starts a guest agent on a new VM.

Two flavours: a cloud-init ``#cloud-config`` for Linux (a systemd service) and a
PowerShell bootstrap for Windows (cloudbase-init / EC2Launch ``<powershell>`` user-data).
The agent config — its key included — is embedded: treat the user-data as a secret.

The agent is installed only from a wheel the operator names (a URL, or a file carried in
the user-data itself) and only if its SHA-256 is the one given here: never by a package
name from a public index, where whoever registers the name would run code as root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import UsageError

#: Where the agent keeps its files on the VM, and where its virtualenv goes.
LINUX_HOME, WINDOWS_HOME = "/var/lib/murano-flow-agent", r"C:\ProgramData\murano-flow-agent"
LINUX_VENV = "/opt/murano-flow-agent"

# A wheel's file name (PEP 427): name-version(-build)?-python-abi-platform.whl; also what
# keeps the name safe as a file name on the VM.
_WHEEL_NAME = re.compile(r"[A-Za-z0-9_.]+-[A-Za-z0-9_.+!]+(-[A-Za-z0-9_.]+){3,4}\.whl")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class AgentWheel:
    """Where the VM gets the agent's wheel, and the hash it must have.

    ``url`` is set when the VM downloads it; otherwise ``content`` is the wheel itself,
    carried in the user-data.
    """

    name: str
    sha256: str
    url: str | None = None
    content: bytes | None = None
    index_url: str | None = None  # where pip finds the wheel's dependencies


def agent_wheel(location: str, sha256: str | None, index_url: str | None) -> AgentWheel:
    """Check an operator's ``--agent-wheel`` (a URL or a local file) and its hash.

    A URL needs the hash given; a file's is computed (and must match one given).
    Raises UsageError saying what to fix.
    """
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise UsageError(f"--agent-sha256 {sha256!r} is not a SHA-256 (64 hex digits); "
                         "compute it with: sha256sum WHEEL")
    want = sha256.lower() if sha256 else None
    if index_url is not None and urlsplit(index_url).scheme not in ("http", "https"):
        raise UsageError(f"--index-url {index_url!r} is not an http(s) URL")
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        name = unquote(parts.path.rsplit("/", 1)[-1])
        _check_name(name, location)
        if want is None:
            raise UsageError(f"--agent-wheel {location} is downloaded by the VM: give its "
                             "--agent-sha256 (sha256sum WHEEL where you built it)")
        return AgentWheel(name=name, sha256=want, url=location, index_url=index_url)
    if parts.scheme not in ("", "file"):
        raise UsageError(f"--agent-wheel {location}: give an http(s) URL or a local wheel file")
    path = Path(unquote(parts.path) if parts.scheme == "file" else location)
    _check_name(path.name, location)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--agent-wheel {location}: cannot read it: {exc.strerror}") from None
    got = hashlib.sha256(content).hexdigest()
    if want is not None and want != got:
        raise UsageError(f"--agent-wheel {location} has SHA-256 {got}, not {want}: "
                         "it is not the wheel you meant")
    return AgentWheel(name=path.name, sha256=got, content=content, index_url=index_url)


def _check_name(name: str, location: str) -> None:
    if not _WHEEL_NAME.fullmatch(name):
        raise UsageError(f"--agent-wheel {location} does not name a wheel "
                         "(murano_flow_agent-VERSION-py3-none-any.whl; build one with: "
                         "murano-flow agent wheel)")


_UNIT = """\
[Unit]
Description=murano-flow guest agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={venv}/bin/murano-flow-agent --config {home}/agent.json
Restart=always
RestartSec=2
# Plans run under their own supervisor: a restart of the agent must not kill them.
KillMode=process

[Install]
WantedBy=multi-user.target
"""

# Runs as root once, from runcmd, with its values as arguments (never spliced into code).
_INSTALL_SH = """\
#!/bin/sh
# Install the murano-flow guest agent from the operator's wheel, only if its SHA-256 matches.
# Arguments: SOURCE (a URL or a file) NAME (the wheel's file name) SHA256 VENV [INDEX_URL]
set -eu
source=$1 name=$2 sha256=$3 venv=$4 index=${5:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$source" "$work/$name" "$sha256" <<'PY'
import hashlib, shutil, sys, urllib.request
source, target, want = sys.argv[1:]
with (urllib.request.urlopen(source, timeout=60) if "://" in source else open(source, "rb")) as f:
    with open(target, "wb") as out:
        shutil.copyfileobj(f, out)
with open(target, "rb") as f:
    got = hashlib.sha256(f.read()).hexdigest()
if got != want:
    sys.exit(f"{source}: SHA-256 {got}, expected {want}: the agent is not installed")
PY
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian and Ubuntu ship what `python3 -m venv` needs in a package of its own.
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q python3-venv \\
            || { apt-get update -q && apt-get install -y -q python3-venv; }
    fi
fi
python3 -m venv "$venv"
if [ -n "$index" ]; then
    "$venv/bin/pip" install --quiet --index-url "$index" "$work/$name[amqp]"
else
    "$venv/bin/pip" install --quiet "$work/$name[amqp]"
fi
"""


def cloud_init(config_json: str, wheel: AgentWheel) -> str:
    """A #cloud-config that installs the agent in a venv and runs it as a systemd service."""
    install = f"{LINUX_HOME}/install-agent.sh"
    files = [
        {"path": f"{LINUX_HOME}/agent.json", "permissions": "0600",
         "encoding": "b64", "content": _b64(config_json.encode())},
        {"path": install, "permissions": "0700", "content": _INSTALL_SH},
        {"path": "/etc/systemd/system/murano-flow-agent.service", "permissions": "0644",
         "content": _UNIT.format(home=LINUX_HOME, venv=LINUX_VENV)},
    ]
    source = wheel.url
    if wheel.content is not None:
        source = f"{LINUX_HOME}/{wheel.name}"
        files.append({"path": source, "permissions": "0600", "encoding": "b64",
                      "content": _b64(wheel.content)})
    assert source is not None
    argv = ["sh", install, source, wheel.name, wheel.sha256, LINUX_VENV]
    if wheel.index_url:
        argv.append(wheel.index_url)
    doc = {
        "write_files": files,
        "runcmd": [
            ["chmod", "0700", LINUX_HOME],
            argv,
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "murano-flow-agent.service"],
        ],
    }
    # JSON is valid YAML; cloud-init reads it after the #cloud-config line.
    return "#cloud-config\n" + json.dumps(doc, indent=2) + "\n"


def powershell(config_json: str, wheel: AgentWheel) -> str:
    """A <powershell> bootstrap: the checked wheel in a venv, a boot task that keeps it up."""
    if wheel.content is not None:
        carried = _b64(wheel.content)
        fetch = f"[IO.File]::WriteAllBytes($wheel, [Convert]::FromBase64String('{carried}'))"
    else:
        fetch = (f"Invoke-WebRequest -UseBasicParsing -Uri {_ps_quote(wheel.url or '')} "
                 "-OutFile $wheel")
    pip_index = f" --index-url {_ps_quote(wheel.index_url)}" if wheel.index_url else ""
    config = _b64(config_json.encode())
    return f"""<powershell>
$ErrorActionPreference = 'Stop'
$home_ = '{WINDOWS_HOME}'
New-Item -ItemType Directory -Force -Path $home_ | Out-Null
# Only SYSTEM and Administrators may read the agent's key.
icacls $home_ /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE) {{ throw "icacls failed with exit code $LASTEXITCODE" }}
[IO.File]::WriteAllBytes("$home_\\agent.json", [Convert]::FromBase64String('{config}'))
# The agent is installed only from the operator's wheel, and only with the expected hash.
$wheel = Join-Path $home_ {_ps_quote(wheel.name)}
{fetch}
$sha256 = (Get-FileHash -Algorithm SHA256 -LiteralPath $wheel).Hash.ToLowerInvariant()
if ($sha256 -ne '{wheel.sha256}') {{
    Remove-Item -LiteralPath $wheel
    throw "$wheel has SHA-256 $sha256, expected {wheel.sha256}: the agent is not installed"
}}
py -3 -m venv "$home_\\venv"
if ($LASTEXITCODE) {{ throw "creating the venv failed with exit code $LASTEXITCODE" }}
& "$home_\\venv\\Scripts\\pip.exe" install --quiet{pip_index} "$wheel[amqp]"
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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _ps_quote(text: str) -> str:
    """A PowerShell single-quoted string literal: nothing in it is expanded."""
    return "'" + text.replace("'", "''") + "'"
