"""The Windows blueprints as a whole, without a Windows host: they validate, plan and
graph (tests/test_cli.py), their scripts pass the PowerShell rules and the cmdlet table
(tests/test_powershell.py), and here the rules of kits/winblueprints.py - what a lab
would fail on although every script parses - find nothing in them, and find each mistake
they are for. tests/winrm/test_sql_on_ad_deploy.py deploys them against the scripted
hosts."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest
from kits import cmdlets, pslint, winblueprints
from kits.common import ROOT

BEFORE = ROOT / "tests" / "windows_before"


@pytest.mark.parametrize("name", ["active-directory", "sql-alwayson", "sql-on-ad"])
def test_the_windows_blueprints_have_nothing_a_lab_would_fail_on(name: str):
    assert winblueprints.problems(ROOT / "blueprints" / f"{name}.yaml") == []


def test_the_rules_find_each_mistake_they_are_for(tmp_path: Path):
    (tmp_path / "cluster.ps1").write_text("New-Cluster -Name $n -Node $nodes -NoStorage\n")
    (tmp_path / "leave.ps1").write_text("Remove-Computer -WorkgroupName 'W' -Force\n"
                                        "Uninstall-ADDSDomainController -Force `\n"
                                        "    -NoRebootOnCompletion\n"
                                        "New-NetIPAddress -IPAddress $ip\n")
    (tmp_path / "ag.ps1").write_text("Invoke-Sqlcmd -Query 'CREATE AVAILABILITY GROUP [g]'\n")
    (tmp_path / "lab.yaml").write_text(textwrap.dedent("""\
        format: 1
        name: lab
        parameters:
          domain: {type: string, default: corp.example}
        entities:
          node:
            count: 2
            host: {transport: winrm, address: "10.0.0.{{ index }}", user: a, password: b,
                   options: {auth: kerberos}}
            states:
              Joined:
                reboot: true
                action: {script: cluster.ps1, params: {nodes: "{{ ['a'] }}"}}
                undo: {script: leave.ps1}
              Formed:
                requires: ["node[*].Joined"]
                check: {script: cluster.ps1}
                action:
                  script: cluster.ps1
                  params:
                    nodes: "{{ outputs['node[*].Joined'] | map(attribute='address') | list }}"
              Grouped:
                requires: Formed
                idempotent: true
                action: {script: ag.ps1}
              Deployed: {requires: Grouped}
        """))
    found = "\n".join(winblueprints.problems(tmp_path / "lab.yaml"))
    for what in ("node[0].Joined: reboot: true reboots whatever happened",
                 "node[0].Joined: neither idempotent nor with a check probe",
                 "node[0].Formed: cluster.ps1 needs the caller's credentials on a second host",
                 "node[0].Formed: cluster nodes and replicas are computer names",
                 "node[0].Joined: its undo demotes or leaves the domain",
                 "leave.ps1 demotes an additional DC without -Credential",
                 "leave.ps1 adds an address to a NIC",
                 "lacks a HADR endpoint", "lacks GRANT CONNECT", "lacks the full recovery",
                 "lacks a full backup", "lacks seeding", "lacks a listener", "lacks firewall",
                 "parameter 'domain' is declared but nothing reads it"):
        assert what in found, found
    assert "node[0].Grouped: neither" not in found  # idempotent: it may run again


@functools.cache
def _before() -> str:
    """Everything the checks say about the Windows content before its rewrite."""
    found = [f"{p}" for name in ("active-directory.yaml", "sql-alwayson.yaml")
             for p in winblueprints.problems(BEFORE / name)]
    for path in sorted(BEFORE.rglob("*.ps1")):
        text = path.read_text()
        found += [f"{path.name}: {p}" for p in cmdlets.check(text)]
        found += [f"{path.name}: {rule}: {p}" for rule, ps in pslint.check(text).items()
                  for p in ps]
    return "\n".join(found)


@pytest.mark.parametrize(("blocker", "finding"), [
    ("SQL nodes never join the domain", "parameter 'domain_name' is declared but nothing"),
    ("New-Cluster and setup over a plain WinRM logon",
     "create_cluster.ps1 needs the caller's credentials on a second host"),
    ("SQL setup needs DPAPI and reads a share", "install_sql.ps1 needs the caller's"),
    ("addresses where names are required",
     "FailoverClusterInstalled: cluster nodes and replicas are computer names"),
    ("no HADR endpoint", "lacks a HADR endpoint"), ("no GRANT CONNECT", "lacks GRANT CONNECT"),
    ("no full recovery", "lacks the full recovery"), ("no full backup", "lacks a full backup"),
    ("nothing seeds the secondaries", "lacks seeding"), ("no listener", "lacks a listener"),
    ("Import-Module SqlServer", "enable_alwayson.ps1: imports SqlServer"),
    ("/PID=<edition>", "PID is a product key"),
    ("3010 treated as failure", "install_sql.ps1: runs SQL Server setup but does not read"),
    ("/SQLSVCPASSWORD on the command line", "SQLSVCPASSWORD holds a secret"),
    ("a static secondary IP on each NIC", "enable_secondary_ip.ps1 adds an address to a NIC"),
    ("no firewall rules", "lacks firewall rules"),
    ("no reboot between demotion and leaving",
     "secondary[0].Promoted: its undo demotes or leaves the domain"),
    ("demotion without -Credential", "demotes an additional DC without -Credential"),
    ("Promoted has no check probe", "secondary[0].Promoted: neither idempotent nor"),
    ("PasswordSet cannot be told done", "primary.PasswordSet: neither idempotent nor"),
    ("every reboot unconditional", "primary.ForestInstalled: reboot: true reboots"),
    ("the bootstrap passes one array", "bootstrap.ps1: splats_from_a_variable"),
    ("a cmdlet parameter that does not exist", "remove-cluster -Name is not a documented"),
])
def test_the_checks_find_each_blocker_of_the_windows_content_before_its_rewrite(
        blocker: str, finding: str):
    assert finding in _before(), blocker
