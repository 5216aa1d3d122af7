"""A scripted Windows host for the Windows blueprints: run in place of PowerShell by the
WinRM test peer (``powershell -EncodedCommand <bootstrap>`` with the plan's envelope on
stdin, as the winrm transport sends it) or by the local runner (``-File script.ps1``).
There is no PowerShell here: each of our scripts, recognised by its text, is answered by
a model of what it does to a Windows host - the computer name and domain (taking effect
at the next boot, as on Windows), features, forest and DC role, firewall rules, SQL
Server, the cluster, HADR endpoint, database and availability group.

What the model checks, as a real host would refuse it: a script reads only inputs the
blueprint gives it (``$in.inputs.NAME``) and environment variables it is given; a domain
join needs the DNS pointed first; a forest or a promotion needs the AD DS feature, a
promotion needs the domain; cluster nodes and replicas are computer names, never
addresses; the group needs AlwaysOn, an endpoint and a database in full recovery with a
backup. Each change of the model is one ``effect``/``undo`` line in $SCRIPTED_PS_EFFECTS
(``ADDRESS WHAT``), so a test counts effects; a run that finds the work done adds none.

State per host: ``windows.json`` in $SCRIPTED_PS_HOME, else the working directory (the
peer's, one per host); boots are counted in its ``boots`` file (the peer's).
$SCRIPTED_PS_ADDRESS is the host's IPv4 address, $SCRIPTED_PS_CATALOG a JSON file
{sha256 of a script's text: its file name}.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

#: Environment variables Windows gives every process, which scripts may read.
WINDOWS_ENV = {"COMPUTERNAME", "SYSTEMDRIVE", "PROGRAMDATA", "TEMP"}
INITIAL = {"boot": None, "name": "WIN-IMAGE", "pending_name": None, "domain": None,
           "pending_domain": None, "dns": None, "dc": None, "pending_dc": None,
           "features": [], "password": False, "accounts": [], "ports": [], "sql": False,
           "cluster": None, "hadr": False, "endpoint": None, "database": None, "group": None,
           "replica_of": None}


class Refused(Exception):
    """What the host would answer with an error."""


def main() -> int:
    argv = sys.argv[1:]
    if "-EncodedCommand" in argv:
        envelope = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        body, params, env = envelope["body"], envelope["params"], envelope["env"]
        marker: str | None = envelope["marker"]
    else:
        script = Path(argv[argv.index("-File") + 1])
        body = script.read_text("utf-8-sig")
        params = json.loads(Path(os.environ["MURANO_FLOW_PARAMS"]).read_text("utf-8-sig"))
        env, marker = dict(os.environ), None
    body = body.lstrip("\ufeff")
    name = json.loads(Path(os.environ["SCRIPTED_PS_CATALOG"]).read_text()).get(
        hashlib.sha256(body.encode()).hexdigest())
    if name is None:
        print("scripted host: not one of the blueprints' scripts", file=sys.stderr)
        return 1
    inputs = params.get("inputs") or {}
    try:
        _reads_only_what_it_is_given(body, inputs, env)
        with _HostState() as host:
            code, outputs, said = _answer(name, inputs, host)
    except Refused as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    print(said)
    if outputs is not None:
        if marker is not None:
            print("\n" + marker + json.dumps(outputs))
        else:
            Path(os.environ["MURANO_FLOW_OUTPUT"]).write_text(json.dumps(outputs))
    return code


def _reads_only_what_it_is_given(body: str, inputs: dict[str, Any], env: dict[str, str]
                                 ) -> None:
    for read in sorted(set(re.findall(r"\$in\.inputs\.(\w+)", body))):
        if read not in inputs:
            raise Refused(f"reads inputs.{read}, which the blueprint does not give "
                          f"(it gives: {', '.join(sorted(inputs)) or 'none'})")
    names = {k.upper() for k in env} | WINDOWS_ENV | {"MURANO_FLOW_PARAMS", "MURANO_FLOW_OUTPUT"}
    for read in sorted(set(re.findall(r"\$env:(\w+)", body))):
        if read.upper() not in names:
            raise Refused(f"reads $env:{read}, which it is not given")


class _HostState:
    """The host's model, locked while a script runs; pending changes apply at a boot."""

    def __enter__(self) -> dict[str, Any]:
        self.home = Path(os.environ.get("SCRIPTED_PS_HOME") or Path.cwd())
        self.path = self.home / "windows.json"
        self.lock = open(self.home / ".windows.lock", "w")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.state = host_state(self.home)
        return self.state

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.path.write_text(json.dumps(self.state, indent=1))
        self.lock.close()


def host_state(workdir: Path) -> dict[str, Any]:
    """The model of the host whose working directory is ``workdir``, as it is now: the
    changes pending at the last script applied if the host booted since."""
    path = workdir / "windows.json"
    state = {**INITIAL, **(json.loads(path.read_text()) if path.exists() else {})}
    boots = workdir / "boots"
    boot = boots.read_text().strip() if boots.exists() else "0"
    if state["boot"] != boot:
        if state["boot"] is not None:  # a reboot since the last script
            state["name"] = state["pending_name"] or state["name"]
            state["domain"], state["dc"] = state["pending_domain"], state["pending_dc"]
        state["boot"] = boot
    state["pending_name"] = state["pending_name"] or state["name"]
    return state


def _effect(what: str, undo: bool = False) -> None:
    with open(os.environ["SCRIPTED_PS_EFFECTS"], "a") as out:
        out.write(f"{'undo' if undo else 'effect'} {os.environ['SCRIPTED_PS_ADDRESS']} {what}\n")


def _name(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return value
    raise Refused(f"{value} is an address; a computer name is needed here")


def _answer(script: str, i: dict[str, Any], h: dict[str, Any]
            ) -> tuple[int, dict[str, Any] | None, str]:
    """(exit code, outputs or None, what it prints) of ``script`` on host ``h``."""
    reboot = {"reboot_required": False}
    match script:
        case "set_admin_password.ps1":
            if not h["password"]:
                h["password"] = True
                _effect("password")
            return 0, None, "password set"
        case "rename.ps1":
            if h["pending_name"] != i["hostname"]:
                h["pending_name"] = i["hostname"]
                _effect("rename")
            return 0, {"reboot_required": h["name"] != h["pending_name"]}, "renamed"
        case "test_name.ps1":
            return (0 if h["name"] == i["hostname"] else 1), None, "name"
        case "point_dns.ps1":
            if h["dns"] != i["dns_ip"]:
                h["dns"] = i["dns_ip"]
                _effect("dns")
            return 0, None, "dns pointed"
        case "test_dns.ps1":
            return (0 if h["dns"] == i["dns_ip"] else 1), None, "dns"
        case "join.ps1":
            if not h["dns"]:
                raise Refused(f"Add-Computer: no domain controller of {i['domain']} found")
            if h["pending_domain"] != i["domain"]:
                h["pending_domain"] = i["domain"]
                _effect("join")
            return 0, {"reboot_required": h["domain"] != i["domain"]}, "joined"
        case "test_joined.ps1":
            return (0 if h["domain"] == i["domain"] else 1), None, "member"
        case "leave.ps1":
            if h["dc"] or h["pending_dc"]:
                raise Refused("Remove-Computer: a domain controller cannot leave its domain")
            if h["pending_domain"]:
                h["pending_domain"] = None
                _effect("join", undo=True)
            return 0, {"reboot_required": h["domain"] is not None}, "left"
        case "install_features.ps1" | "uninstall_features.ps1":
            for f in i["features"]:
                have = f in h["features"]
                if script.startswith("install") and not have:
                    h["features"].append(f)
                    _effect(f"feature:{f}")
                elif script.startswith("uninstall") and have:
                    if f == "AD-Domain-Services" and (h["dc"] or h["pending_dc"]):
                        raise Refused("Uninstall-WindowsFeature: demote the DC first")
                    h["features"].remove(f)
                    _effect(f"feature:{f}", undo=True)
            return 0, reboot, "features"
        case "test_features.ps1":
            return (0 if set(i["features"]) <= set(h["features"]) else 1), None, "features"
        case "install_forest.ps1" | "promote_dc.ps1":
            if "AD-Domain-Services" not in h["features"]:
                raise Refused("the AD-Domain-Services feature is not installed")
            if script == "promote_dc.ps1" and h["domain"] != i["domain_name"]:
                raise Refused(f"Install-ADDSDomainController: not a member of {i['domain_name']}")
            if not h["pending_dc"]:
                h["pending_dc"] = h["pending_domain"] = i["domain_name"]
                _effect("dc")
            return 0, {"reboot_required": h["dc"] is None}, "promoted"
        case "test_dc.ps1":
            return (0 if h["dc"] == i["domain_name"] else 1), None, "dc"
        case "uninstall_forest.ps1" | "demote_dc.ps1":
            if h["pending_dc"]:
                h["pending_dc"] = None
                h["pending_domain"] = None if script == "uninstall_forest.ps1" else h["domain"]
                _effect("dc", undo=True)
            return 0, {"reboot_required": h["dc"] is not None}, "demoted"
        case "publish_dns.ps1":
            if h["dc"] != i["domain_name"]:
                raise Refused(f"Get-ADDomain: {i['domain_name']} does not answer")
            return 0, {"dns_ip": os.environ["SCRIPTED_PS_ADDRESS"]}, "dns published"
        case "add_service_account.ps1" | "remove_service_account.ps1":
            have = i["account"] in h["accounts"]
            if script.startswith("add") and not have:
                h["accounts"].append(i["account"])
                _effect(f"account:{i['account']}")
            elif script.startswith("remove") and have:
                h["accounts"].remove(i["account"])
                _effect(f"account:{i['account']}", undo=True)
            return 0, None, "account"
        case "test_service_account.ps1":
            return (0 if i["account"] in h["accounts"] else 1), None, "account"
        case "firewall.ps1" | "close_firewall.ps1":
            for port in map(str, i["ports"]):
                if script == "firewall.ps1" and port not in h["ports"]:
                    h["ports"].append(port)
                    _effect(f"firewall:{port}")
                elif script == "close_firewall.ps1" and port in h["ports"]:
                    h["ports"].remove(port)
                    _effect(f"firewall:{port}", undo=True)
            return 0, None, "firewall"
        case "test_firewall.ps1":
            return (0 if {str(p) for p in i["ports"]} <= set(h["ports"]) else 1), None, "fw"
        case "create_cluster.ps1":
            if "Failover-Clustering" not in h["features"] or not h["domain"]:
                raise Refused("New-Cluster: this node is no domain member with clustering")
            nodes = [_name(n) for n in i["nodes"]]
            if not h["cluster"]:
                h["cluster"] = {"name": i["cluster_name"], "nodes": nodes}
                _effect(f"cluster:{i['cluster_name']}")
            return 0, None, "cluster"
        case "test_cluster.ps1":
            c = h["cluster"]
            return (0 if c and set(i["nodes"]) <= set(c["nodes"]) else 1), None, "cluster"
        case "remove_cluster.ps1":
            if h["cluster"]:
                h["cluster"] = None
                _effect(f"cluster:{i['cluster_name']}", undo=True)
            return 0, None, "no cluster"
        case "install_sql.ps1":
            if not h["domain"]:
                raise Refused(f"setup: {i['service_account']} cannot be found (not in a domain)")
            if i["service_account"] == i["sysadmin"]:
                raise Refused("the service account is the administrator's account")
            first = not h["sql"]
            if first:
                h["sql"] = True
                _effect("sql")
            return 0, {"reboot_required": first}, "setup exit code 3010" if first else "ok"
        case "test_sql.ps1":
            return (0 if h["sql"] else 1), None, "sql"
        case "uninstall_sql.ps1":
            if h["hadr"]:
                raise Refused("setup: AlwaysOn is still enabled")
            if h["sql"]:
                h["sql"], h["endpoint"], h["database"] = False, None, None
                _effect("sql", undo=True)
            return 0, reboot, "uninstalled"
        case "enable_alwayson.ps1" | "disable_alwayson.ps1":
            on = script.startswith("enable")
            if on and not h["sql"]:
                raise Refused("Enable-SqlAlwaysOn: no SQL Server instance")
            if h["hadr"] != on and (on or h["sql"]):
                h["hadr"] = on
                _effect("hadr", undo=not on)
            return 0, None, "alwayson"
        case "test_alwayson.ps1":
            return (0 if h["hadr"] else 1), None, "alwayson"
        case "endpoint.ps1":
            if not h["sql"]:
                raise Refused("no SQL Server instance")
            if h["endpoint"] != i["service_account"]:
                h["endpoint"] = i["service_account"]
                _effect("endpoint")
            return 0, None, "endpoint"
        case "test_endpoint.ps1":
            return (0 if h["endpoint"] == i["service_account"] else 1), None, "endpoint"
        case "drop_endpoint.ps1":
            if h["endpoint"]:
                h["endpoint"] = None
                _effect("endpoint", undo=True)
            return 0, None, "endpoint dropped"
        case "database.ps1":
            if h["database"] != i["database"]:
                h["database"] = i["database"]
                _effect(f"database:{i['database']}")
            return 0, None, "full recovery, backed up"
        case "test_database.ps1":
            return (0 if h["database"] == i["database"] else 1), None, "database"
        case "create_group.ps1":
            if not (h["hadr"] and h["endpoint"] and h["database"] == i["database"]):
                raise Refused("CREATE AVAILABILITY GROUP: AlwaysOn, endpoint or database missing")
            nodes = [_name(n) for n in i["nodes"]]
            if not h["group"]:
                h["group"] = {"name": i["group"], "replicas": nodes,
                              "listener": i["listener_name"]}
                _effect(f"group:{i['group']}")
            return 0, None, "group"
        case "test_group.ps1":
            g = h["group"]
            return (0 if g and g["listener"] == i["listener_name"] else 1), None, "group"
        case "drop_group.ps1":
            if h["group"]:
                h["group"] = None
                _effect(f"group:{i['group']}", undo=True)
            return 0, None, "group dropped"
        case "join_group.ps1":
            if not (h["hadr"] and h["endpoint"]):
                raise Refused("ALTER AVAILABILITY GROUP JOIN: AlwaysOn or endpoint missing")
            if h["replica_of"] != i["group"]:
                h["replica_of"], h["database"] = i["group"], i["database"]
                _effect(f"replica:{i['group']}")
            return 0, None, "synchronized"
        case "test_joined_group.ps1":
            return (0 if h["replica_of"] and h["database"] == i["database"] else 1), None, "r"
        case "leave_group.ps1":
            if h["replica_of"]:
                _effect(f"replica:{h['replica_of']}", undo=True)
                h["replica_of"], h["database"] = None, None
            return 0, None, "left the group"
    raise Refused(f"the scripted host has no answer for {script}")


def catalog(folder: Path) -> dict[str, str]:
    """{sha256 of each script's text: its file name} for the .ps1 files under ``folder``."""
    return {hashlib.sha256(p.read_text("utf-8").lstrip("\ufeff").encode()).hexdigest(): p.name
            for p in folder.rglob("*.ps1")}


if __name__ == "__main__":
    sys.exit(main())
